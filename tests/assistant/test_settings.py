"""Settings sources: defaults < settings.yaml < profiles (merged key by key) < environment."""

from __future__ import annotations

import pytest

from assistant.settings import Settings


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    for name in ("AUTONOMIE_PROFILES", "AUTONOMIE_QDRANT__COLLECTION", "AUTONOMIE_QDRANT__URL", "AUTONOMIE_RETRIEVAL__TOP_K"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTONOMIE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.yaml").write_text("qdrant:\n  collection: base\n  url: http://base:6333\nretrieval:\n  top_k: 5\n",
                                            encoding="utf-8")
    (tmp_path / "settings-site.yaml").write_text("qdrant:\n  url: http://site:6333\n", encoding="utf-8")
    (tmp_path / "settings-test.yaml").write_text("retrieval:\n  top_k: 3\n", encoding="utf-8")
    return tmp_path


def test_profiles_merge_key_by_key_in_order_and_the_environment_wins(config_dir, monkeypatch):
    assert (Settings().qdrant.collection, Settings().qdrant.url, Settings().retrieval.top_k) == ("base", "http://base:6333", 5)
    monkeypatch.setenv("AUTONOMIE_PROFILES", "site, test")
    settings = Settings()
    assert settings.profiles == ["site", "test"]
    assert (settings.qdrant.collection, settings.qdrant.url, settings.retrieval.top_k) == ("base", "http://site:6333", 3)
    monkeypatch.setenv("AUTONOMIE_RETRIEVAL__TOP_K", "9")
    assert Settings().retrieval.top_k == 9


def test_a_missing_profile_or_a_file_that_is_not_a_mapping_is_a_french_error(config_dir, monkeypatch):
    monkeypatch.setenv("AUTONOMIE_PROFILES", "absent")
    with pytest.raises(ValueError, match="Profil de configuration introuvable"):
        Settings()
    monkeypatch.setenv("AUTONOMIE_PROFILES", "liste")
    (config_dir / "settings-liste.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="doit contenir un dictionnaire YAML"):
        Settings()
