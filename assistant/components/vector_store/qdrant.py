"""The index on Qdrant through qdrant-client: a server or a cluster (``qdrant.url``), or qdrant-client's local
mode on disk (``qdrant.embedded_engine: local``), one code path. The local mode is pure Python and not
thread-safe (a search during an upsert raises IndexError): there, every call to the client holds one lock."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

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
    StoreUnavailableError,
    VectorStore,
    dense_vector,
    locked_error,
    point_record,
)
from assistant.settings import QdrantSettings


def to_qdrant_filter(search_filter: SearchFilter) -> Any:
    """``SearchFilter`` as a qdrant-client ``Filter``: every clause of ``SearchFilter.clauses()``."""
    from qdrant_client import models

    def condition(kind: str, key: str, value: Any) -> Any:
        if kind == "any":
            return models.FieldCondition(key=key, match=models.MatchAny(any=list(value)))
        if kind == "eq":
            return models.FieldCondition(key=key, match=models.MatchValue(value=value))
        if kind == "none":
            return models.Filter(must_not=[models.FieldCondition(key=key, match=models.MatchAny(any=list(value)))])
        return models.Filter(should=[
            models.IsEmptyCondition(is_empty=models.PayloadField(key=key)),
            models.IsNullCondition(is_null=models.PayloadField(key=key)),
            models.FieldCondition(key=key, range=models.DatetimeRange(**value)),
        ])

    return models.Filter(must=[condition(*clause) for clause in search_filter.clauses()])


def _filter(search_filter: SearchFilter | None) -> Any:
    return to_qdrant_filter(search_filter) if search_filter is not None else None


class QdrantStore(VectorStore):
    def __init__(self, settings: QdrantSettings, project_root: Path):
        from qdrant_client import QdrantClient

        self.settings = settings
        self.collection = settings.collection
        self.engine = "serveur" if settings.url else "local"
        self._lock = nullcontext() if settings.url else threading.RLock()
        if settings.url:
            self.location = settings.url
            self.client = QdrantClient(url=settings.url, api_key=settings.api_key, timeout=int(settings.timeout_s),
                                       check_compatibility=False)
            self._check_server()
        else:
            path = settings.path if settings.path.is_absolute() else project_root / settings.path
            path.mkdir(parents=True, exist_ok=True)
            self.location = str(path)
            try:
                self.client = QdrantClient(path=str(path))
            except RuntimeError as exc:
                if "already accessed" in str(exc):
                    raise locked_error(path) from exc
                raise

    def _check_server(self) -> None:
        try:
            self.client.get_collections()
        except Exception as exc:  # connection refused, DNS, TLS, auth...
            raise StoreUnavailableError(
                f"Le serveur Qdrant {self.settings.url} est injoignable ({type(exc).__name__}). "
                "Vérifiez qu'il est démarré et l'URL/la clé API (AUTONOMIE_QDRANT__URL)."
            ) from exc

    def _call(self, fn, *args, **kwargs):
        try:
            with self._lock:
                return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if self.settings.url and _is_connection_error(exc):
                raise StoreUnavailableError(
                    f"Le serveur Qdrant {self.settings.url} ne répond plus ({type(exc).__name__})."
                ) from exc
            raise

    def close(self) -> None:
        with self._lock:
            self.client.close()

    def optimize(self) -> None:
        """Nothing to do: Qdrant servers optimise in the background, local mode has no index."""

    # --- collection -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._call(self.client.collection_exists, self.collection)

    def ensure_collection(self, dimension: int) -> None:
        from qdrant_client import models

        if self.exists():
            info = self._call(self.client.get_collection, self.collection)
            vectors = info.config.params.vectors
            current = vectors[DENSE].size if isinstance(vectors, dict) else None
            if current != dimension:
                raise self._dimension_error(current, dimension)
            return
        self._call(
            self.client.create_collection,
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            shard_number=self.settings.shard_number,
            replication_factor=self.settings.replication_factor,
        )
        if self.settings.url:  # embedded mode has no payload indexes (it warns and ignores them)
            for name in KEYWORD_FIELDS:
                schema = (models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
                          if name in TENANT_FIELDS else models.PayloadSchemaType.KEYWORD)
                self._call(self.client.create_payload_index, self.collection, name, schema)
            for name in DATETIME_FIELDS:
                self._call(self.client.create_payload_index, self.collection, name, models.PayloadSchemaType.DATETIME)

    def drop(self) -> None:
        if self.exists():
            self._call(self.client.delete_collection, self.collection)

    # --- writes -----------------------------------------------------------------------------------
    def upsert(self, records: list[PointRecord]) -> None:
        from qdrant_client import models

        points = [
            models.PointStruct(
                id=r.id,
                vector={
                    DENSE: r.dense.tolist(),
                    SPARSE: models.SparseVector(indices=r.sparse.indices, values=r.sparse.values),
                },
                payload=r.payload,
            )
            for r in records
        ]
        self._call(self.client.upsert, self.collection, points=points, wait=True)

    def delete_points(self, ids: Iterable[str]) -> None:
        from qdrant_client import models

        ids = list(ids)
        if ids:
            self._call(self.client.delete, self.collection, points_selector=models.PointIdsList(points=ids), wait=True)

    # --- reads ------------------------------------------------------------------------------------
    def _scroll_page(self, fields: list[str] | bool, search_filter: SearchFilter | None, offset: Any,
                     vectors: bool = False) -> tuple[list[Any], Any]:
        points, offset = self._call(
            self.client.scroll,
            self.collection,
            scroll_filter=_filter(search_filter),
            limit=1024,
            offset=offset,
            with_payload=fields,
            with_vectors=vectors,
        )
        if not vectors:
            return [(str(p.id), p.payload or {}) for p in points], offset
        return [point_record(str(p.id), p.vector, p.payload) for p in points], offset

    def count(self, search_filter: SearchFilter | None = None) -> int:
        if not self.exists():
            return 0
        return self._call(self.client.count, self.collection, count_filter=_filter(search_filter), exact=True).count

    def _query(self, branches: dict[str, Any], search_filter: SearchFilter | None, *, limit: int,
               prefetch_k: int, rrf_k: int, weights: tuple[float, float]) -> list[ScoredPoint]:
        from qdrant_client import models

        query_filter = _filter(search_filter)
        queries = [
            (using, models.SparseVector(indices=vector.indices, values=vector.values) if using == SPARSE
             else vector.tolist())
            for using, vector in branches.items()
        ]
        if len(queries) == 1:
            using, query = queries[0]
            request: dict[str, Any] = {"query": query, "using": using}
        else:
            prefetch = [
                models.Prefetch(query=query, using=using, filter=query_filter, limit=prefetch_k)
                for using, query in queries
            ]
            # Always explicit: a bare Fusion.RRF would use the server's own default k, not ours.
            request = {"prefetch": prefetch, "query": models.RrfQuery(rrf=models.Rrf(k=rrf_k, weights=list(weights)))}
        response = self._call(
            self.client.query_points, self.collection, **request, query_filter=query_filter, limit=limit, with_payload=True,
            with_vectors=[DENSE],
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}, dense_vector(p.vector)) for p in response.points]


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connect", "timeout", "timed out", "unavailable", "refused"))
