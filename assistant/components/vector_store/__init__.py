"""The index: one interface (``base.VectorStore``), one filter (``base.SearchFilter``), two engines that each
translate it (``qdrant.py``: a Qdrant server or qdrant-client's local mode; ``edge.py``: Qdrant Edge,
embedded), the engine the settings name (``factory.build_store``) and backups (``snapshots.py``).

Callers import the engine-neutral names from here; an engine module is imported only by the factory (and by
tests that check one engine)."""

from assistant.components.vector_store.base import (
    DATETIME_FIELDS,
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    TENANT_FIELDS,
    DocState,
    PointRecord,
    ScoredPoint,
    SearchFilter,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    VectorStore,
    point_id,
)
from assistant.components.vector_store.factory import build_store

__all__ = [
    "DATETIME_FIELDS", "DENSE", "KEYWORD_FIELDS", "SPARSE", "TENANT_FIELDS", "DocState", "PointRecord", "ScoredPoint",
    "SearchFilter", "StoreError", "StoreLockedError", "StoreUnavailableError", "VectorStore", "build_store", "point_id",
]
