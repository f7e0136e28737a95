"""QdrantStore in qdrant-client's local mode: safe to call from several threads (the server's ingestion worker
writes while requests search), without any wrapper around it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.components.sparse import SparseVector
from assistant.components.vector_store import PointRecord, SearchFilter, build_store, point_id
from assistant.settings import QdrantSettings

DIM = 16


def records(batch: int, size: int, rng: np.random.Generator) -> list[PointRecord]:
    return [PointRecord(point_id("doc", str(batch), str(i)), rng.standard_normal(DIM).astype(np.float32),
                        SparseVector([i % 50, 100 + batch], [1.0, 0.5]), {"doc_id": f"d{batch}", "visibility": ["public"],
                                                                         "validity": "en_vigueur"})
            for i in range(size)]


def test_local_mode_searches_while_another_thread_writes(tmp_path):
    store = build_store(QdrantSettings(path=tmp_path / "qdrant", embedded_engine="local", collection="t"), Path(tmp_path))
    assert store.engine == "local"
    rng = np.random.default_rng(0)
    batches = [records(b, 60, rng) for b in range(6)]
    store.ensure_collection(DIM)
    store.upsert(batches[0])
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for batch in batches[1:]:
                store.upsert(batch)
                store.delete_points([r.id for r in batch[:20]])
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)
        finally:
            done.set()

    def search() -> None:
        query = np.ones(DIM, dtype=np.float32)
        try:
            while not done.is_set():
                store.query_hybrid(query, SparseVector([1, 2], [1.0, 1.0]), limit=10, prefetch_k=50,
                                   search_filter=SearchFilter())
                store.count(SearchFilter(doc_ids=("d1",)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write), *(threading.Thread(target=search) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    try:
        assert errors == []
        assert store.count() == 60 + 5 * 40
        assert store.count(SearchFilter(doc_ids=("d3",))) == 40
    finally:
        store.close()
