"""The evaluated corpus in its own collection: idempotent ingestion and a catalogue of its chunks."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from assistant.settings import Settings
from eval.metrics import ChunkRef, section_matches


def collection_name(corpus: Path) -> str:
    """``corpus/`` → ``eval-corpus``, ``…/fiches.jsonl`` → ``eval-fiches``."""
    stem = corpus.stem if corpus.is_file() else corpus.resolve().name
    return "eval-" + (re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "corpus")


def eval_settings(settings: Settings, corpus: Path) -> Settings:
    """Same components, but a dedicated collection (and, in embedded mode, a dedicated folder)."""
    qdrant = {"collection": collection_name(corpus)}
    if not settings.qdrant.url:
        qdrant["path"] = settings.resolve(settings.eval.qdrant_path)
    return settings.model_copy(update={"qdrant": settings.qdrant.model_copy(update=qdrant)})


class Catalogue:
    """Every indexed chunk, by document: gold ids are checked against it and reference contexts come from it."""

    def __init__(self, chunks: dict[str, list[tuple[ChunkRef, str]]]):
        self.chunks = chunks

    @classmethod
    def from_store(cls, store) -> "Catalogue":
        chunks: dict[str, list[tuple[int, ChunkRef, str]]] = defaultdict(list)
        for _, payload in store.scroll_payloads(["doc_id", "section_path", "article", "text", "chunk_index"]):
            ref = ChunkRef(payload["doc_id"], payload.get("section_path", ""), payload.get("article"))
            chunks[ref.doc_id].append((payload.get("chunk_index", 0), ref, payload.get("text", "")))
        return cls({doc: [(ref, text) for _, ref, text in sorted(items, key=lambda i: i[0])]
                    for doc, items in chunks.items()})

    def has(self, doc_id: str) -> bool:
        return doc_id in self.chunks

    def reference_contexts(self, gold_sources: list[tuple[str, str | None]]) -> list[str]:
        """Texts of the chunks that hold the gold sections (sources without a section are skipped)."""
        texts: list[str] = []
        for doc_id, section in gold_sources:
            if section:
                texts += [text for ref, text in self.chunks.get(doc_id, []) if section_matches(section, ref)]
        return list(dict.fromkeys(texts))


def ensure_indexed(services, corpus: Path, on_batch: Callable[[int, int], None] | None = None):
    """Ingest ``corpus`` into the evaluation collection; unchanged documents are not rewritten, removed
    ones are pruned. Returns the ingestion report."""
    return services.ingestion_pipeline(on_batch=on_batch).run([corpus], prune=True)
