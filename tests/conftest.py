"""Shared fixtures: real embedding model, real embedded Qdrant in a temporary folder, real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant.settings import PROJECT_ROOT, Settings  # noqa: E402


def make_settings(tmp_path: Path, **sections) -> Settings:
    """Settings for one test: its own embedded Qdrant folder, small batches."""
    base = Settings()
    update = {
        "qdrant": base.qdrant.model_copy(update={"path": tmp_path / "qdrant", "collection": "test", "upsert_batch_size": 8}),
        # Never pick up a developer's running LLM server: tests configure their own endpoint.
        "llm": base.llm.model_copy(update={"endpoint_file": tmp_path / "no-endpoint.yaml", "base_url": None}),
    }
    for name, values in sections.items():
        update[name] = getattr(base, name).model_copy(update=values)
    return base.model_copy(update=update)


@pytest.fixture(scope="session")
def embedder():
    """The product's default dense model (multilingual e5-small, converted locally once)."""
    from assistant.components.embedding import Embedder

    settings = Settings()
    return Embedder(settings.embedding, settings.resolve(settings.embedding.models_dir))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Settings().resolve(Settings().data.shared_data_dir)
    if not (path / "casf" / "articles.jsonl").exists():
        pytest.skip(f"données publiques absentes ({path}) : test ignoré")
    return path


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, embedder):
    """(settings, services) over the small real corpus of tests/fixture_index.py, built once."""
    from assistant.services import Services
    from tests.fixture_index import build_corpus

    root = tmp_path_factory.mktemp("small-index")
    settings = make_settings(root)
    services = Services(settings)
    services.__dict__["embedder"] = embedder  # share the session's loaded model
    report = services.ingestion_pipeline().run([build_corpus(root / "corpus")])
    assert not report.failed, report.failed
    yield settings, services
    services.close()
