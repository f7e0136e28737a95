"""The embedded index on Qdrant Edge: Qdrant's own engine in-process (HNSW, payload indexes, sparse
inverted index with IDF), with the same interface and query semantics as ``QdrantStore``.

On disk: ``<qdrant.path>/edge/<collection>/`` (the shard) and ``<collection>.lock`` beside it, held
with ``flock`` by the process that has the store open, so a second process gets ``StoreLockedError``.
Within the process, Qdrant Edge is safe to call from several threads (the server's ingestion worker
writes while requests search).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.components.vector_store.base import (
    DATETIME_FIELDS,
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    TENANT_FIELDS,
    PointRecord,
    ScoredPoint,
    SearchFilter,
    StoreError,
    VectorStore,
    dense_vector,
    locked_error,
    point_record,
)
from assistant.settings import QdrantSettings

EDGE_DIR = "edge"
CONFIG_FILE = "edge_config.json"  # written by Qdrant Edge at creation: the shard's persisted config


def to_edge_filter(search_filter: SearchFilter) -> Any:
    """``SearchFilter`` as Qdrant Edge conditions: every clause of ``SearchFilter.clauses()``."""
    import qdrant_edge as qe

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return qe.FieldCondition(key=key, match=qe.MatchAny(any=list(value)))
        if kind == "eq":
            return qe.FieldCondition(key=key, match=qe.MatchValue(value=value))
        if kind == "none":
            return qe.Filter(must_not=[qe.FieldCondition(key=key, match=qe.MatchAny(any=list(value)))])
        return qe.Filter(should=[
            qe.IsEmptyCondition(key=key),
            qe.IsNullCondition(key=key),
            qe.FieldCondition(key=key, range=qe.RangeDateTime(**{k: v.isoformat() for k, v in value.items()})),
        ])

    return qe.Filter(must=[condition(*clause) for clause in search_filter.clauses()])


def _filter(search_filter: SearchFilter | None) -> Any:
    return to_edge_filter(search_filter) if search_filter is not None else None


def dense_params(dimension: int, quantization: str) -> Any:
    """Dense vector storage: floats in RAM, or (``int8``) int8 scalar-quantized copies pinned in RAM, used to
    build and search the HNSW graph and rescored on the float originals, which stay on disk (mmap)."""
    import qdrant_edge as qe

    if quantization == "none":
        return qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)
    return qe.EdgeVectorParams(
        size=dimension, distance=qe.Distance.Cosine, memory=qe.Memory.Cold,
        quantization_config=qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99,
                                                        memory=qe.Memory.Pinned),
    )


class EdgeStore(VectorStore):
    """Same public methods as ``QdrantStore``."""

    engine = "edge"

    def __init__(self, settings: QdrantSettings, project_root: Path):
        if settings.url or settings.path is None:
            raise StoreError("Qdrant Edge est un index embarqué : indiquez « qdrant.path », pas « qdrant.url ».")
        self.settings = settings
        self.collection = settings.collection
        root = settings.path if settings.path.is_absolute() else project_root / settings.path
        root = root / EDGE_DIR
        root.mkdir(parents=True, exist_ok=True)
        self._dir = root / self.collection
        self.location = str(self._dir)
        self._lock_fd: int | None = _lock(root / f"{self.collection}.lock", self._dir)
        self._dirty = False
        self._shard: Any = None
        try:
            if (self._dir / CONFIG_FILE).exists():
                from qdrant_edge import EdgeShard

                self._shard = EdgeShard.load(str(self._dir))
        except BaseException:
            self._release()
            raise

    def optimize(self) -> None:
        """Builds the HNSW graph and vacuums deletions after writes (Edge does not do it by itself)."""
        if self._shard is not None and self._dirty:
            self._shard.optimize()
            self._dirty = False

    def close(self) -> None:
        """Optimizes the shard if it was written to (builds HNSW, vacuums deletions), flushes, unlocks."""
        shard, self._shard = self._shard, None
        try:
            if shard is not None:
                try:
                    if self._dirty:
                        shard.optimize()
                    shard.flush()
                finally:
                    shard.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _require(self) -> Any:
        if self._shard is None:
            raise self._missing_error()
        return self._shard

    # --- collection -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._shard is not None

    def ensure_collection(self, dimension: int) -> None:
        import qdrant_edge as qe

        if self.exists():
            current = _stored_dimension(self._dir)
            if current != dimension:
                raise self._dimension_error(current, dimension)
            return
        config = qe.EdgeConfig(
            vectors={DENSE: dense_params(dimension, self.settings.edge_quantization)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        shard = qe.EdgeShard.create(str(self._dir), config)
        for name in KEYWORD_FIELDS:
            schema = qe.KeywordIndexParams(is_tenant=True) if name in TENANT_FIELDS else qe.PayloadSchemaType.Keyword
            shard.update(qe.UpdateOperation.create_field_index(name, schema))
        for name in DATETIME_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Datetime))
        self._shard = shard

    def drop(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None
            self._dirty = False
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- writes -----------------------------------------------------------------------------------
    def upsert(self, records: list[PointRecord]) -> None:
        """Durable once it returns: Edge appends each update to its write-ahead log first."""
        import qdrant_edge as qe

        shard = self._require()
        points = [
            qe.Point(
                r.id,
                {
                    DENSE: np.asarray(r.dense, dtype=np.float32),
                    SPARSE: qe.SparseVector(list(r.sparse.indices), list(r.sparse.values)),
                },
                r.payload,
            )
            for r in records
        ]
        if points:
            shard.update(qe.UpdateOperation.upsert_points(points))
            self._dirty = True

    def delete_points(self, ids: Iterable[str]) -> None:
        import qdrant_edge as qe

        ids = list(ids)
        if ids:
            self._require().update(qe.UpdateOperation.delete_points(ids))
            self._dirty = True

    # --- reads ------------------------------------------------------------------------------------
    def _scroll_page(self, fields: list[str] | bool, search_filter: SearchFilter | None, offset: Any,
                     vectors: bool = False) -> tuple[list[Any], Any]:
        import qdrant_edge as qe

        points, offset = self._shard.scroll(qe.ScrollRequest(
            offset=offset, limit=1024, filter=_filter(search_filter), with_payload=fields, with_vector=vectors,
        ))
        if not vectors:
            return [(str(p.id), p.payload or {}) for p in points], offset
        return [point_record(str(p.id), p.vector, p.payload) for p in points], offset

    def count(self, search_filter: SearchFilter | None = None) -> int:
        import qdrant_edge as qe

        if not self.exists():
            return 0
        return self._shard.count(qe.CountRequest(exact=True, filter=_filter(search_filter)))

    def _query(self, branches: dict[str, Any], search_filter: SearchFilter | None, *, limit: int,
               prefetch_k: int, rrf_k: int, weights: tuple[float, float]) -> list[ScoredPoint]:
        import qdrant_edge as qe

        shard = self._require()
        edge_filter = _filter(search_filter)
        queries = [
            qe.Query.Nearest(
                qe.SparseVector(list(vector.indices), list(vector.values)) if using == SPARSE
                else np.asarray(vector, dtype=np.float32),
                using=using,
            )
            for using, vector in branches.items()
        ]
        if len(queries) == 1:
            request = qe.QueryRequest(limit=limit, query=queries[0], filter=edge_filter, with_payload=True,
                                      with_vector=[DENSE])
        else:
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[qe.Prefetch(limit=prefetch_k, query=query, filter=edge_filter) for query in queries],
                query=qe.Fusion.Rrf(k=rrf_k, weights=list(weights)),
                filter=edge_filter,
                with_payload=True,
                with_vector=[DENSE],
            )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}, dense_vector(p.vector)) for p in shard.query(request)]


def _lock(lock_file: Path, shard_dir: Path) -> int:
    """Takes the store's exclusive lock (released by the OS if the process dies)."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise locked_error(shard_dir) from exc
    return fd


def _stored_dimension(shard_dir: Path) -> int | None:
    config = json.loads((shard_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    return config.get("vectors", {}).get(DENSE, {}).get("size")
