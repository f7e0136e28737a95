"""The engine the settings name, imported only when chosen."""

from __future__ import annotations

from pathlib import Path

from assistant.components.vector_store.base import VectorStore
from assistant.settings import QdrantSettings


def build_store(settings: QdrantSettings, project_root: Path) -> VectorStore:
    """A server when ``url`` is set, else the embedded engine chosen by ``embedded_engine``."""
    match bool(settings.url), settings.embedded_engine:
        case (True, _) | (False, "local"):
            from assistant.components.vector_store.qdrant import QdrantStore

            return QdrantStore(settings, project_root)
        case False, "edge":
            from assistant.components.vector_store.edge import EdgeStore

            return EdgeStore(settings, project_root)
        case other:
            raise ValueError(f"qdrant.embedded_engine inconnu : « {other[1]} ».")
