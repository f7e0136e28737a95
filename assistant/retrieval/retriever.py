"""Hybrid retrieval: dense + French BM25 fused inside Qdrant (RRF), optional reranking, cut."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from assistant.components.sparse import FrenchBM25Encoder
from assistant.components.vector_store import ScoredPoint, SearchFilter
from assistant.settings import RetrievalSettings
from assistant.text.glossary import Expansion, Glossary

RetrievalMode = Literal["hybrid", "dense", "sparse"]


class QueryError(ValueError):
    """A query that cannot be searched (French message for the user)."""

OCR_NOTE = " (texte issu d'une numérisation)"  # after the page of a passage read by OCR


class Passage(BaseModel):
    """A retrieved chunk with everything its citation needs."""

    point_id: str
    doc_id: str
    title: str
    doc_type: str
    territory: str
    section_path: str = ""
    article: str | None = None
    page: int | None = None
    text: str
    score: float
    source_file: str = ""
    source_url: str | None = None
    date: str | None = None
    validity: str = "en_vigueur"
    chunk_index: int = 0
    similarity: float | None = None  # cosine of the passage's dense vector with the query's (None: not known)
    ocr: bool = False  # text read by OCR from a scanned page
    suspected_instructions: tuple[str, ...] = ()  # sentences read at ingestion as orders to the assistant (in context)
    context: str = ""  # what the passage is about when its text does not say it (a code article's chapter); never quoted

    @classmethod
    def from_point(cls, point: ScoredPoint) -> "Passage":
        """The payload keys are this model's field names (indexing/pipeline.py writes them); the others
        (visibility, content_hash…) are ignored."""
        payload = {key: value for key, value in point.payload.items() if value is not None}
        return cls.model_validate({"title": payload["doc_id"], **payload, "point_id": str(point.id), "score": point.score})

    def location(self) -> str:
        return format_location(self.title, self.section_path, self.article, self.page, self.ocr)


def format_location(title: str, section_path: str = "", article: str | None = None, page: int | None = None,
                    ocr: bool = False) -> str:
    """The one place a citation's place is written: « Titre › section › article L232-1, p. 3 » (the article when
    the section does not already name it; the OCR note after a page read from a scan). Without ``title``: the
    place within its document (« section, p. 3 »)."""
    parts = [part for part in (title, section_path) if part]
    if article and f"rticle {article}" not in " ".join(parts):
        parts.append(f"article {article}")
    where = " › ".join(str(p) for p in parts)
    if not page:
        return where
    return ", ".join(x for x in (where, f"p. {page}{OCR_NOTE if ocr else ''}") if x)


# Extra points asked of the engine so that passages tied at the cut are all there to be ordered.
TIE_MARGIN = 10


def ranked(passages: list[Passage]) -> list[Passage]:
    """By decreasing score; ties (frequent with rank fusion: 1/(k+2) + 1/(k+5) twice over) by decreasing dense
    similarity, then by point id. Qdrant returns tied points in no fixed order, even from one process to the
    next, which made the same question rank its documents differently from one run to another."""
    return sorted(passages, key=lambda p: (-p.score, -(p.similarity if p.similarity is not None else -2.0), p.point_id))


@dataclass
class RetrievalResult:
    query: str
    expansion: Expansion
    passages: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)


class HybridRetriever:
    """One retriever component: ``run(query, filter)`` → ranked passages with citation fields."""

    def __init__(self, settings: RetrievalSettings, embedder: Any, store: Any, sparse: FrenchBM25Encoder,
                 glossary: Glossary, reranker: Any = None):
        if settings.prefetch_k < settings.top_k:
            raise ValueError("retrieval : prefetch_k doit être ≥ top_k.")
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.sparse = sparse
        self.glossary = glossary
        self.reranker = reranker

    def validate(self, query: str) -> str:
        cleaned = " ".join(query.split())
        if not cleaned:
            raise QueryError("La question est vide : saisissez quelques mots.")
        if len(cleaned) > self.settings.max_query_chars:
            raise QueryError(
                f"La question est trop longue ({len(cleaned)} caractères ; maximum "
                f"{self.settings.max_query_chars}). Reformulez-la plus brièvement."
            )
        return cleaned

    def run(self, query: str, search_filter: SearchFilter | None = None, top_k: int | None = None,
            mode: RetrievalMode = "hybrid") -> RetrievalResult:
        query = self.validate(query)
        top_k = top_k or self.settings.top_k
        timings: dict[str, float] = {}
        started = time.perf_counter()
        expansion = self.glossary.expand(query) if self.settings.expand_acronyms else Expansion(query, query)
        dense = self.embedder.embed_queries([expansion.expanded_query])[0] if mode != "sparse" else None
        timings["embed"] = time.perf_counter() - started
        extra = " ".join(expansion.added)
        sparse = self.sparse.encode_query(query, extra_text=extra) if mode != "dense" else None
        t0 = time.perf_counter()
        depth = max(top_k, self.reranker.top_n) if self.reranker else top_k
        points = self.store.query_hybrid(
            dense, sparse, limit=depth + TIE_MARGIN, prefetch_k=self.settings.prefetch_k,
            search_filter=search_filter or SearchFilter(), rrf_k=self.settings.rrf_k,
            weights=(self.settings.dense_weight, self.settings.sparse_weight),
        )
        timings["search"] = time.perf_counter() - t0
        passages = [Passage.from_point(p) for p in points]
        if dense is not None:
            for passage, point in zip(passages, points):
                if point.dense is not None:
                    passage.similarity = float(point.dense @ dense)
        passages = ranked(passages)[:depth]
        if self.reranker and passages:
            t0 = time.perf_counter()
            scores = self.reranker.scores(expansion.expanded_query, [p.text for p in passages])
            for passage, score in zip(passages, scores):
                passage.score = score
            passages = ranked(passages)
            timings["rerank"] = time.perf_counter() - t0
        passages = [p for p in passages if p.score >= self.settings.min_score][:top_k]
        timings["total"] = time.perf_counter() - started
        return RetrievalResult(query, expansion, passages, timings)
