"""What every index engine offers (``VectorStore``), the caller's filter (``SearchFilter``), the records
and errors. Engine-neutral: no engine is imported here; ``factory.py`` picks one from the settings."""

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
        """The rule, engine-neutral: every clause must hold. Each engine translates it
        (``qdrant.to_qdrant_filter``, ``edge.to_edge_filter``). Kinds: ``("any", key, values)`` the field holds one of ``values``;
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


class VectorStore(ABC):
    """What the pipeline, retrieval, the application and the CLI use: ``QdrantStore`` (``qdrant.py``: a
    server, or qdrant-client's local mode) and ``EdgeStore`` (``edge.py``: Qdrant Edge, embedded). Every
    filter is a ``SearchFilter``, which each engine translates itself; each engine is safe to call from
    several threads (the one that is not takes its own lock).

    The engine-independent methods live here, written on each engine's primitives (``exists``,
    ``_scroll_page``, ``_query``)."""

    location: str
    collection: str
    engine: str  # "edge", "local" (qdrant-client's embedded mode) or "serveur", as /health and benches name it

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
    def count(self, search_filter: SearchFilter | None = None) -> int: ...

    @abstractmethod
    def _scroll_page(self, fields: list[str] | bool, search_filter: SearchFilter | None, offset: Any,
                     vectors: bool = False) -> tuple[list[PointRecord | tuple[str, dict]], Any]:
        """One page of points from ``offset`` and the next offset (None: the end): ``(id, payload)`` pairs,
        or with ``vectors`` whole ``PointRecord``s."""

    @abstractmethod
    def _query(self, branches: dict[str, Any], search_filter: SearchFilter | None, *, limit: int,
               prefetch_k: int, rrf_k: int, weights: tuple[float, float]) -> list[ScoredPoint]:
        """The engine's search: ``branches`` maps ``DENSE`` to an array and/or ``SPARSE`` to a non-empty
        ``SparseVector``; with both, fused (weighted RRF) inside one query."""

    # --- reads ------------------------------------------------------------------------------------
    def scroll_payloads(self, fields: list[str] | bool = True,
                        search_filter: SearchFilter | None = None) -> Iterator[tuple[str, dict]]:
        """``(id, payload)`` of every point ``search_filter`` lets through (``fields`` only, or all)."""
        yield from self._scroll(fields, search_filter, vectors=False)

    def records(self) -> Iterator[PointRecord]:
        """Every point with its vectors (benches copy an index with them)."""
        yield from self._scroll(True, None, vectors=True)

    def _scroll(self, fields: list[str] | bool, search_filter: SearchFilter | None, vectors: bool) -> Iterator[Any]:
        if not self.exists():
            return
        offset = None
        while True:
            points, offset = self._scroll_page(fields, search_filter, offset, vectors)
            yield from points
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


def point_id(*parts: str) -> str:
    """Deterministic UUID from content, so re-ingesting the same chunk rewrites the same point."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join(parts)))


def dense_vector(vectors: Any) -> np.ndarray | None:
    """The dense vector of a hit's named vectors (``None`` when the engine sent none)."""
    try:
        vector = vectors[DENSE]
    except (KeyError, TypeError):
        return None
    return None if vector is None else np.asarray(vector, dtype=np.float32)


def point_record(pid: str, vectors: Any, payload: dict[str, Any] | None) -> PointRecord:
    """A scrolled point with its named vectors (either engine's: a dense array or list, a sparse vector
    with ``indices`` and ``values``) as a ``PointRecord``."""
    sparse = vectors[SPARSE]
    return PointRecord(pid, np.asarray(vectors[DENSE], dtype=np.float32),
                       SparseVector(list(sparse.indices), list(sparse.values)), payload or {})
