"""Ingestion: files → documents → structure-aware chunks → dense + BM25 vectors → Qdrant.

Idempotent and incremental: point ids derive from the document id, chunk position and content, so
an unchanged document writes nothing, a changed one has its new chunks written then its stale ones
deleted, and a run interrupted at any point (even ``kill -9``) is completed by running it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.components.sparse import FrenchBM25Encoder
from assistant.components.vector_store import DocState, PointRecord, VectorStore, point_id
from assistant.settings import Settings
from assistant.text.injection import find_instructions
from indexing.chunking import PATH_SEPARATOR, FrenchStructureNodeParser
from indexing.metadata import ManifestEntry, ManifestError, build_metadata, load_manifest
from indexing.parsers import ParseError, parse_file

MANIFEST_AUXILIARY = {"manifest.yaml"}


@dataclass
class FileReport:
    path: str
    documents: int = 0
    chunks: int = 0
    written: int = 0
    unchanged_documents: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    pruned_documents: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {"parse": 0.0, "embed": 0.0, "sparse": 0.0, "upsert": 0.0})

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    @property
    def chunks_written(self) -> int:
        return sum(f.written for f in self.files)


@dataclass
class PendingChunk:
    id: str
    embed_text: str
    payload: dict[str, Any]


@dataclass
class _FileTask:
    path: Path
    manifest_entry: ManifestEntry | None = None
    error: str | None = None


def discover(paths: Iterable[Path]) -> list[_FileTask]:
    """Files to ingest. A folder with a ``manifest.yaml`` contributes exactly its manifest's files."""
    tasks: list[_FileTask] = []
    for path in paths:
        path = path.resolve()
        if not path.exists():
            tasks.append(_FileTask(path, error="chemin introuvable"))
        elif path.is_dir():
            try:
                manifest = load_manifest(path)
            except ManifestError as exc:
                tasks.append(_FileTask(path / "manifest.yaml", error=str(exc)))
                continue
            if manifest is not None:
                for file_path, entry in manifest.items():
                    error = None if file_path.exists() else "fichier déclaré dans le manifeste mais introuvable"
                    tasks.append(_FileTask(file_path, entry, error))
            else:
                tasks.extend(
                    _FileTask(p) for p in sorted(path.rglob("*"))
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
        else:
            manifest = load_manifest(path.parent)
            tasks.append(_FileTask(path, (manifest or {}).get(path)))
    return tasks


class IngestionPipeline:
    def __init__(self, settings: Settings, embedder: Any, store: VectorStore,
                 on_batch: Callable[[int, int], None] | None = None):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.sparse = FrenchBM25Encoder(settings.sparse)
        self.parser = FrenchStructureNodeParser(
            max_chars=settings.chunking.max_chars, overlap_chars=settings.chunking.overlap_chars
        )
        self.on_batch = on_batch  # called with (chunks written so far in this file, chunks to write)
        self.on_ocr_page: Callable[[str, int, int], None] | None = None  # (file, pages read by OCR, pages to read)

    def run(self, paths: list[Path], overrides: dict[str, Any] | None = None, prune: bool = False,
            id_root: Path | None = None) -> IngestReport:
        """``id_root``: document ids and source files relative to this folder's parent (the server's upload
        area: ``uploads/<user>/<file>``) instead of the current directory."""
        report = IngestReport()
        states = self.store.doc_states()
        tasks = discover(paths)
        seen_docs: dict[str, str] = {}
        for task in tasks:
            file_report = FileReport(path=_display(task.path, id_root))
            report.files.append(file_report)
            if task.error:
                file_report.error = task.error
                continue
            try:
                self._ingest_file(task, overrides or {}, states, seen_docs, file_report, report, id_root)
            except ParseError as exc:
                file_report.error = str(exc)
        if prune:
            report.pruned_documents = self._prune(paths, states, seen_docs)
        return report

    def _ingest_file(self, task: _FileTask, overrides: dict[str, Any], states: dict[str, DocState],
                     seen_docs: dict[str, str], file_report: FileReport, report: IngestReport,
                     id_root: Path | None = None) -> None:
        started = time.perf_counter()
        max_bytes = int(self.settings.ingestion.max_file_mb * 1_000_000)
        on_ocr = (lambda done, total: self.on_ocr_page(task.path.name, done, total)) if self.on_ocr_page else None
        parsed = parse_file(task.path, max_bytes, self.settings.ingestion.ocr, on_ocr)
        file_report.warnings.extend(parsed.warnings)
        source = _display(task.path, id_root)
        pending: list[PendingChunk] = []
        stale: list[str] = []
        for document in parsed.documents:
            record_id = document.metadata.get("record_id")
            doc_id = record_id or (task.manifest_entry.id if task.manifest_entry else source)
            if doc_id in seen_docs:
                file_report.warnings.append(f"identifiant « {doc_id} » déjà ingéré depuis {seen_docs[doc_id]} : ignoré")
                continue
            seen_docs[doc_id] = source
            ocr_pages = set(document.metadata.get("ocr_pages") or ())
            record_fields = {k: v for k, v in document.metadata.items()
                             if k not in ("record_id", "title", "paged", "ocr_pages", "context")}
            context = document.metadata.get("context", "")  # embedded and indexed, never quoted (code_context.py)
            metadata = build_metadata(
                doc_id=doc_id,
                title=str(document.metadata.get("title") or doc_id),
                source_file=source + (f"#{record_id}" if record_id else ""),
                manifest_entry=task.manifest_entry,
                record_fields=record_fields,
                overrides=overrides,
            )
            document.metadata = {"title": metadata.title}
            nodes = self.parser.get_nodes(document)
            base_payload = metadata.payload()
            metadata_hash = _sha(json.dumps(base_payload, sort_keys=True))
            chunks = []
            suspected_chunks = 0
            for node in nodes:
                section_path = node.metadata["section_path"]
                embed_text = "\n".join(part for part in (metadata.title, context, section_path, node.text) if part)
                payload = {
                    **base_payload,
                    "text": node.text,
                    "section_path": section_path,
                    "page": node.metadata["page"],
                    "article": node.metadata["article"],
                    "chunk_index": node.metadata["chunk_index"],
                    "content_hash": _sha(node.text),
                }
                if context:
                    payload["context"] = context
                if node.metadata["page"] in ocr_pages:
                    payload["ocr"] = True  # « texte issu d'une numérisation » in the citation
                # Instructions addressed to the assistant: flagged (never quoted, never sent to the LLM).
                suspects = suspected_instructions(section_path, node.text)
                if suspects:
                    payload["suspected_instructions"] = suspects
                    suspected_chunks += 1
                # Same document, position, text and metadata → same id: unchanged chunks are never rewritten
                # (a flagged chunk's id also covers its flags, so an index made before the detector gets them).
                pid = point_id(doc_id, str(payload["chunk_index"]), _sha(embed_text), metadata_hash,
                               *([_sha("\n".join(suspects))] if suspects else []))
                chunks.append(PendingChunk(pid, embed_text, payload))
            if suspected_chunks:
                first = next(s for c in chunks for s in c.payload.get("suspected_instructions", []))
                file_report.warnings.append(
                    f"« {metadata.title} » : instructions adressées à l'assistant dans {suspected_chunks} passage(s), "
                    f"ignorées dans les réponses (ex. « {first[:120]} »)")
            existing = states.get(doc_id, DocState()).point_ids
            expected = {c.id for c in chunks}
            file_report.documents += 1
            file_report.chunks += len(chunks)
            if expected == existing:
                file_report.unchanged_documents += 1
                continue
            pending.extend(c for c in chunks if c.id not in existing)
            stale.extend(existing - expected)
            states[doc_id] = DocState(expected, metadata.source_file)
        report.timings["parse"] += time.perf_counter() - started
        self._write(pending, file_report, report)
        if stale:
            started = time.perf_counter()
            self.store.delete_points(stale)
            report.timings["upsert"] += time.perf_counter() - started

    def _write(self, pending: list[PendingChunk], file_report: FileReport, report: IngestReport) -> None:
        """Embed batch after batch while a writer thread upserts the previous one (Qdrant's
        embedded mode commits each point to SQLite: that I/O overlaps the embedding)."""
        if not pending:
            return
        self.store.ensure_collection(self.embedder.dimension)
        batch_size = self.settings.qdrant.upsert_batch_size
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant-writer") as writer:
            in_flight: Future | None = None
            for start in range(0, len(pending), batch_size):
                batch = pending[start:start + batch_size]
                texts = [c.embed_text for c in batch]
                t0 = time.perf_counter()
                dense = self.embedder.embed_passages(texts)
                t1 = time.perf_counter()
                sparse = [self.sparse.encode_passage(t) for t in texts]
                report.timings["embed"] += t1 - t0
                report.timings["sparse"] += time.perf_counter() - t1
                records = [PointRecord(c.id, d, s, c.payload) for c, d, s in zip(batch, dense, sparse)]
                self._finish(in_flight, file_report, report, len(pending))
                in_flight = writer.submit(self._timed_upsert, records)
            self._finish(in_flight, file_report, report, len(pending))

    def _timed_upsert(self, records: list[PointRecord]) -> tuple[int, float]:
        started = time.perf_counter()
        self.store.upsert(records)
        return len(records), time.perf_counter() - started

    def _finish(self, future: Future | None, file_report: FileReport, report: IngestReport, total: int) -> None:
        """Wait for the previous batch's upsert (re-raising its error), then report progress."""
        if future is None:
            return
        started = time.perf_counter()
        written, _ = future.result()
        report.timings["upsert"] += time.perf_counter() - started  # only the time the pipeline waited
        file_report.written += written
        if self.on_batch:
            self.on_batch(file_report.written, total)

    def _prune(self, roots: list[Path], states: dict[str, DocState], seen_docs: dict[str, str]) -> list[str]:
        """Delete documents that came from the ingested paths but are no longer there."""
        removed = []
        for doc_id, state in states.items():
            if doc_id in seen_docs or not state.source_file:
                continue
            source = state.source_file.split("#", 1)[0]
            if any(_within(source, root) for root in roots):
                self.store.delete_points(state.point_ids)
                removed.append(doc_id)
        return removed


def suspected_instructions(section_path: str, text: str) -> list[str]:
    """Sentences of a chunk (its headings included) that address the assistant: ``assistant/text/injection.py``."""
    return list(dict.fromkeys(f.sentence for f in find_instructions("\n".join([*section_path.split(PATH_SEPARATOR), text]))))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _display(path: Path, root: Path | None = None) -> str:
    """Paths are stored relative to the current directory when inside it (portable payloads), or to ``root``'s
    parent when given."""
    try:
        if root is not None:
            return str(path.resolve().relative_to(root.resolve().parent))
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _within(source: str, root: Path) -> bool:
    source_path = Path(source).resolve()
    root = root.resolve()
    return source_path == root or root in source_path.parents
