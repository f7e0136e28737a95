"""The « prod » profile loads and points at the services of the deployment."""

from __future__ import annotations

import os

from assistant.settings import Settings
from tests.deploy.conftest import settings_env_names


def test_settings_env_names_walk_the_whole_tree():
    names = settings_env_names()
    assert {"AUTONOMIE_PROFILES", "AUTONOMIE_QDRANT__URL", "AUTONOMIE_QDRANT__SHARD_NUMBER",
            "AUTONOMIE_QDRANT__REPLICATION_FACTOR", "AUTONOMIE_LLM__BASE_URL", "AUTONOMIE_EMBEDDING__MODEL"} <= names
    assert "AUTONOMIE_QDRANT" not in names  # sections are not settings themselves


def test_prod_profile_loads_from_the_environment(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AUTONOMIE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUTONOMIE_PROFILES", "prod")
    settings = Settings()
    assert settings.profiles == ["prod"]
    assert settings.qdrant.url == "http://qdrant:6333" and settings.qdrant.path is None
    assert settings.llm.base_url == "http://llm:8000/v1"
    assert settings.llm.supports_tools and settings.llm.supports_json_schema


def test_environment_overrides_the_prod_profile(monkeypatch):
    monkeypatch.setenv("AUTONOMIE_PROFILES", "prod")
    monkeypatch.setenv("AUTONOMIE_QDRANT__URL", "http://autonomie-qdrant:6333")
    monkeypatch.setenv("AUTONOMIE_QDRANT__SHARD_NUMBER", "6")
    monkeypatch.setenv("AUTONOMIE_QDRANT__REPLICATION_FACTOR", "2")
    settings = Settings()
    assert settings.qdrant.url == "http://autonomie-qdrant:6333"
    assert (settings.qdrant.shard_number, settings.qdrant.replication_factor) == (6, 2)

