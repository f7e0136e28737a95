"""The Qdrant index: embedded on disk (``path``) or a server/cluster (``url``), one code path."""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.components.sparse import SparseVector
from assistant.settings import QdrantSettings

DENSE = "dense"
SPARSE = "bm25"
# Payload fields filtered on: indexed on servers (embedded mode scans, which is fine at demo scale).
KEYWORD_FIELDS = ("doc_id", "doc_type", "territory", "visibility", "validity", "source_file")
# Keys that split the index by tenant (a département, an access group): keyword indexes with is_tenant, as
# Qdrant recommends for multitenancy (the engine stores each tenant's points together; bench/results/scale.md).
TENANT_FIELDS = ("territory", "visibility")
DATETIME_FIELDS = ("valid_from", "valid_until")


class StoreError(RuntimeError):
    """A French, user-facing error about the index."""


class StoreUnavailableError(StoreError):
    pass


class StoreLockedError(StoreError):
    pass


@dataclass
class PointRecord:
    id: str
    dense: np.ndarray
    sparse: SparseVector
    payload: dict[str, Any]


@dataclass
class DocState:
    """What the index holds of one document: its point ids."""

    point_ids: set[str] = field(default_factory=set)
    source_file: str | None = None


@dataclass
class ScoredPoint:
    id: str
    score: float
    payload: dict[str, Any]
    dense: np.ndarray | None = None  # the point's dense vector (for the passage's own similarity)


@dataclass(frozen=True)
class SearchFilter:
    """Who may see what, and what the caller asked for. Always applied inside the store's query.

    Visibility is never optional: a caller sees public documents plus those of its ``groups``.
    """

    doc_types: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    include_national: bool = True
    groups: tuple[str, ...] = ()
    include_abrogated: bool = False
    valid_at: dt.date | None = None
    doc_ids: tuple[str, ...] = ()
    exclude_doc_ids: tuple[str, ...] = ()  # evaluation only: the corpus as if these documents were absent

    def clauses(self) -> list[tuple[str, str, Any]]:
        """The rule, engine-neutral: every clause must hold. ``to_qdrant`` and Edge's ``to_edge_filter``
        only translate it. Kinds: ``("any", key, values)`` the field holds one of ``values``;
        ``("eq", key, value)``; ``("none", key, values)`` the field holds none of ``values``;
        ``("unset_or_range", key, {"lte" or "gte": datetime})`` the field is missing, null or within the
        bound."""
        clauses: list[tuple[str, str, Any]] = [("any", "visibility", ("public", *self.groups))]
        if self.doc_types:
            clauses.append(("any", "doc_type", self.doc_types))
        if self.territories:
            allowed = (*self.territories, "national") if self.include_national else self.territories
            clauses.append(("any", "territory", allowed))
        if self.doc_ids:
            clauses.append(("any", "doc_id", self.doc_ids))
        if self.exclude_doc_ids:
            clauses.append(("none", "doc_id", self.exclude_doc_ids))
        if not self.include_abrogated:
            clauses.append(("eq", "validity", "en_vigueur"))
        if self.valid_at is not None:
            moment = dt.datetime.combine(self.valid_at, dt.time(), tzinfo=dt.timezone.utc)
            clauses.append(("unset_or_range", "valid_from", {"lte": moment}))
            clauses.append(("unset_or_range", "valid_until", {"gte": moment}))
        return clauses

    def to_qdrant(self) -> Any:
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

        return models.Filter(must=[condition(*clause) for clause in self.clauses()])


class VectorStore(ABC):
    """What the pipeline, retrieval and CLI use: ``QdrantStore`` (server or qdrant-client's local mode)
    and ``EdgeStore`` (Qdrant Edge, embedded). ``query_filter`` is each engine's own filter, except for
    ``EdgeStore`` which takes a ``SearchFilter``.

    The engine-independent methods live here, written on each engine's primitives (``exists``,
    ``_scroll_page``, ``_query``)."""

    location: str
    collection: str

    @abstractmethod
    def close(self) -> None: ...
    @abstractmethod
    def optimize(self) -> None: ...
    @abstractmethod
    def exists(self) -> bool: ...
    @abstractmethod
    def ensure_collection(self, dimension: int) -> None: ...
    @abstractmethod
    def drop(self) -> None: ...
    @abstractmethod
    def upsert(self, records: list[PointRecord]) -> None: ...
    @abstractmethod
    def delete_points(self, ids: Iterable[str]) -> None: ...
    @abstractmethod
    def count(self, query_filter: Any = None) -> int: ...

    @abstractmethod
    def _scroll_page(self, fields: list[str] | bool, query_filter: Any, offset: Any) -> tuple[list[Any], Any]:
        """One page of points (with ``id`` and ``payload``) from ``offset``, and the next offset (None: the end)."""

    @abstractmethod
    def _query(self, branches: dict[str, Any], search_filter: SearchFilter | None, *, limit: int,
               prefetch_k: int, rrf_k: int, weights: tuple[float, float]) -> list[ScoredPoint]:
        """The engine's search: ``branches`` maps ``DENSE`` to an array and/or ``SPARSE`` to a non-empty
        ``SparseVector``; with both, fused (weighted RRF) inside one query."""

    # --- reads ------------------------------------------------------------------------------------
    def scroll_payloads(self, fields: list[str] | bool = True, query_filter: Any = None) -> Iterator[tuple[str, dict]]:
        if not self.exists():
            return
        offset = None
        while True:
            points, offset = self._scroll_page(fields, query_filter, offset)
            for p in points:
                yield str(p.id), p.payload or {}
            if offset is None:
                return

    def doc_states(self) -> dict[str, DocState]:
        states: dict[str, DocState] = defaultdict(DocState)
        for pid, payload in self.scroll_payloads(["doc_id", "source_file"]):
            state = states[payload["doc_id"]]
            state.point_ids.add(pid)
            state.source_file = payload.get("source_file")
        return dict(states)

    def counts_by(self, *fields: str) -> Counter:
        """Number of chunks per value tuple of ``fields`` (e.g. doc_type, territory)."""
        return Counter(tuple(str(p.get(f)) for f in fields) for _, p in self.scroll_payloads(list(fields)))

    def query_hybrid(
        self,
        dense: np.ndarray | None,
        sparse: SparseVector | None,
        *,
        limit: int,
        prefetch_k: int,
        search_filter: SearchFilter | None = None,
        rrf_k: int = 60,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> list[ScoredPoint]:
        """Dense and/or sparse search; with both, the engine fuses them (weighted RRF) inside one query."""
        if not self.exists():
            raise self._missing_error()
        branches: dict[str, Any] = {}
        if dense is not None:
            branches[DENSE] = dense
        if sparse and sparse.indices:
            branches[SPARSE] = sparse
        if not branches:
            return []
        return self._query(branches, search_filter, limit=limit, prefetch_k=prefetch_k, rrf_k=rrf_k, weights=weights)

    # --- errors shared by the engines -------------------------------------------------------------
    def _missing_error(self) -> StoreError:
        return StoreError(
            f"La collection « {self.collection} » n'existe pas encore : lancez d'abord "
            "« autonomie ingest corpus/ »."
        )

    def _dimension_error(self, current: int | None, dimension: int) -> StoreError:
        return StoreError(
            f"La collection « {self.collection} » a des vecteurs de dimension {current}, le modèle "
            f"d'embedding configuré en produit {dimension}. Utilisez une autre collection "
            "(--collection) ou réindexez après suppression."
        )


def locked_error(path: Path) -> StoreLockedError:
    """The embedded index at ``path`` is held by another process."""
    return StoreLockedError(
        f"L'index embarqué {path} est déjà ouvert par un autre processus (le serveur "
        "« autonomie serve » est-il lancé ?). Arrêtez-le, ou passez par son interface "
        "(onglet Sources / API), ou utilisez un serveur Qdrant (AUTONOMIE_QDRANT__URL)."
    )


def build_store(settings: QdrantSettings, project_root: Path) -> VectorStore:
    """A server when ``url`` is set, else the embedded engine chosen by ``embedded_engine``."""
    if settings.url or settings.embedded_engine == "local":
        return QdrantStore(settings, project_root)
    from assistant.components.edge_store import EdgeStore

    return EdgeStore(settings, project_root)


def point_id(*parts: str) -> str:
    """Deterministic UUID from content, so re-ingesting the same chunk rewrites the same point."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join(parts)))


class QdrantStore(VectorStore):
    def __init__(self, settings: QdrantSettings, project_root: Path):
        from qdrant_client import QdrantClient

        self.settings = settings
        self.collection = settings.collection
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
                self.client.create_payload_index(self.collection, name, schema)
            for name in DATETIME_FIELDS:
                self.client.create_payload_index(self.collection, name, models.PayloadSchemaType.DATETIME)

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
    def _scroll_page(self, fields: list[str] | bool, query_filter: Any, offset: Any) -> tuple[list[Any], Any]:
        return self._call(
            self.client.scroll,
            self.collection,
            scroll_filter=query_filter,
            limit=1024,
            offset=offset,
            with_payload=fields,
            with_vectors=False,
        )

    def count(self, query_filter: Any = None) -> int:
        if not self.exists():
            return 0
        return self._call(self.client.count, self.collection, count_filter=query_filter, exact=True).count

    def _query(self, branches: dict[str, Any], search_filter: SearchFilter | None, *, limit: int,
               prefetch_k: int, rrf_k: int, weights: tuple[float, float]) -> list[ScoredPoint]:
        from qdrant_client import models

        query_filter = search_filter.to_qdrant() if search_filter is not None else None
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


def dense_vector(vectors: Any) -> np.ndarray | None:
    """The dense vector of a hit's named vectors (``None`` when the engine sent none)."""
    try:
        vector = vectors[DENSE]
    except (KeyError, TypeError):
        return None
    return None if vector is None else np.asarray(vector, dtype=np.float32)


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connect", "timeout", "timed out", "unavailable", "refused"))
