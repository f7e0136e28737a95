"""Multitenancy: the territory and access-group keys are keyword indexes with ``is_tenant`` on both engines."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from assistant.components.vector_store import KEYWORD_FIELDS, TENANT_FIELDS, build_store
from assistant.components.vector_store.qdrant import QdrantStore
from assistant.settings import QdrantSettings


def test_edge_creates_tenant_indexes(tmp_path):
    store = build_store(QdrantSettings(path=tmp_path, embedded_engine="edge", collection="t"), Path(tmp_path))
    try:
        store.ensure_collection(8)
        schema = store._require().info().payload_schema
    finally:
        store.close()
    assert set(KEYWORD_FIELDS) <= set(schema)
    tenants = {name for name, info in schema.items() if info.params is not None and getattr(info.params, "is_tenant", None)}
    assert tenants == set(TENANT_FIELDS) == {"territory", "visibility"}


def test_server_engine_asks_for_tenant_indexes():
    """No Qdrant server runs here: the client's calls are recorded (the server applies them as documented)."""
    calls = []

    class RecordingClient:
        def collection_exists(self, name):
            return False

        def create_collection(self, *args, **kwargs):
            calls.append(("create_collection", args, kwargs))

        def create_payload_index(self, collection, name, schema):
            calls.append(("index", name, schema))

    store = QdrantStore.__new__(QdrantStore)
    store.settings = QdrantSettings(url="http://qdrant:6333", collection="t")
    store.collection, store.client, store._lock = "t", RecordingClient(), nullcontext()
    store.ensure_collection(384)
    indexes = {name: schema for kind, name, schema in calls if kind == "index"}
    assert {name for name, schema in indexes.items() if getattr(schema, "is_tenant", False)} == set(TENANT_FIELDS)
    assert indexes["territory"].model_dump(exclude_none=True) == {"type": "keyword", "is_tenant": True}
