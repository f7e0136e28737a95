"""The application service: what the HTTP API and the chat UI (``ui/``) do, in one place — the caller's
filter, answers, documents, uploads ingested by the server itself, feedback, health. ``ui/`` keeps the
routes, Gradio and the rendering; it hands this service its stores (feedback, usage events) and metrics."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from assistant.answering.schema import AssistantResponse, Citation, Turn, document_link
from assistant.answering.territories import name_of, normalise_code
from assistant.components.embedding import EmbeddingError
from assistant.components.vector_store import SearchFilter, StoreError
from assistant.services import Services
from assistant.settings import DOC_TYPES, Settings
from indexing.parsers import SUPPORTED_SUFFIXES

DOCUMENT_FIELDS = ["doc_id", "title", "doc_type", "territory", "date", "validity", "valid_from", "valid_until",
                   "replaced_by", "visibility", "source_file", "source_url"]
PASSAGE_FIELDS = ["doc_id", "chunk_index", "section_path", "article", "page", "text", "suspected_instructions"]
INDEX_COUNTS_TTL_S = 30.0
# The first bytes each binary format must start with: anything else is refused before being stored.
MAGIC_BYTES = {".pdf": (b"%PDF-",), ".docx": (b"PK\x03\x04",)}


class Caller(Protocol):
    """Who asks (``ui.auth.User``): the name, the access groups, the right to upload."""

    name: str
    groups: tuple[str, ...]
    can_upload: bool


class RequestError(Exception):
    """A request the server refuses, with its HTTP status and a French message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class IngestJob:
    id: str
    user: str
    files: list[str]
    state: Literal["en_attente", "en_cours", "termine", "echec"] = "en_attente"
    current_file: str = ""
    files_done: int = 0
    written: int = 0
    to_write: int = 0
    ocr: str = ""  # OCR progress of a scanned PDF (« page 3/12 »)
    report: dict[str, Any] | None = None
    error: str | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class AssistantApplication:
    """``metrics`` (``ui.metrics.Metrics``: Prometheus counters), ``feedback`` (``ui.feedback.FeedbackStore``)
    and ``usage`` (``ui.usage.UsageStore``) are the server's own, given by ``ui.server.create_app``."""

    def __init__(self, services: Services, settings: Settings, *, metrics: Any, feedback: Any, usage: Any):
        self.services = services
        self.settings = settings
        self.metrics = metrics
        self.feedback = feedback
        self.usage = usage
        if settings.ui.feedback_retention_days:  # usage events follow the feedback's retention
            self.usage.purge(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=settings.ui.feedback_retention_days))
        self.upload_dir = settings.resolve(settings.ui.upload_dir)
        # One ingestion at a time, in a worker thread: the server owns the embedded index.
        self._ingest_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingestion")
        self._jobs: dict[str, IngestJob] = {}
        self._ingestions_done = 0
        self._counts_cache: tuple[float, int, dict[str, Any]] | None = None

    def close(self) -> None:
        self._ingest_worker.shutdown(wait=True, cancel_futures=True)

    # --- filters ---------------------------------------------------------------------------------
    def search_filter(self, user: Caller, territoires: list[str] | None = None, types: list[str] | None = None,
                      doc_ids: tuple[str, ...] = (), include_abrogated: bool = False) -> SearchFilter:
        codes = self.territory_codes(territoires or [])
        for doc_type in types or []:
            if doc_type not in DOC_TYPES:
                raise RequestError(422, f"Type de document inconnu « {doc_type} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
        return SearchFilter(doc_types=tuple(types or ()), territories=tuple(codes), groups=user.groups,
                            doc_ids=doc_ids, include_abrogated=include_abrogated)

    @staticmethod
    def territory_codes(values: list[str]) -> list[str]:
        codes = []
        for value in values:
            code = normalise_code(str(value))
            if code is None:
                raise RequestError(422, f"Département inconnu « {value} » (code attendu, ex. 59, 2A, 974).")
            codes.append(code)
        return codes

    # --- answers ---------------------------------------------------------------------------------
    def ask(self, user: Caller, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
            territoires: list[str] | None = None, types: list[str] | None = None, channel: str = "api") -> AssistantResponse:
        response = None
        for item in self.stream(user, question, history=history, mode=mode, territoires=territoires, types=types,
                                channel=channel):
            if isinstance(item, AssistantResponse):
                response = item
        assert response is not None
        return response

    def stream(self, user: Caller, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
               territoires: list[str] | None = None, types: list[str] | None = None,
               channel: str = "api") -> Iterator[str | AssistantResponse]:
        search_filter = self.search_filter(user, territoires, types)
        started = time.perf_counter()
        mode = None if mode in (None, "", "auto") else mode
        items = self._guarded(lambda: self.services.assistant.stream(question, history=history or [], mode=mode,
                                                                     search_filter=search_filter))
        while True:
            try:
                item = self._guarded(lambda: next(items))
            except StopIteration:
                return
            if isinstance(item, AssistantResponse):
                self.metrics.observe_response(item, "question", channel)
                self.usage.record(item, user.groups, "question", channel, time.perf_counter() - started)
                item = public_response(item)
            yield item

    def compare(self, user: Caller, question: str, territoires: list[str], channel: str = "api") -> AssistantResponse:
        codes = self.territory_codes(territoires)
        if not codes:
            raise RequestError(422, "Choisissez au moins un département à comparer.")
        started = time.perf_counter()
        response = self._guarded(lambda: self.services.assistant.compare(question, codes, groups=user.groups))
        self.metrics.observe_response(response, "comparaison", channel)
        self.usage.record(response, user.groups, "comparaison", channel, time.perf_counter() - started)
        return public_response(response)

    @staticmethod
    def _guarded(fn):
        from assistant.retrieval.retriever import QueryError

        try:
            return fn()
        except (QueryError, ValueError) as exc:
            raise RequestError(422, str(exc)) from exc
        except (StoreError, EmbeddingError) as exc:
            raise RequestError(503, str(exc)) from exc

    # --- documents -------------------------------------------------------------------------------
    def documents(self, user: Caller) -> list[dict[str, Any]]:
        """Indexed documents the user may see (abrogated ones included), with their passage counts."""
        visible = self.search_filter(user, include_abrogated=True)
        docs: dict[str, dict[str, Any]] = {}
        for _, payload in self.services.store.scroll_payloads(DOCUMENT_FIELDS, visible):
            doc = docs.get(payload["doc_id"])
            if doc is None:
                doc = docs[payload["doc_id"]] = _public_meta(payload) | {"passages": 0, "url": document_link(payload["doc_id"])}
            doc["passages"] += 1
        return sorted(docs.values(), key=lambda d: (d["doc_type"] or "", d["territory"] or "", d["title"] or ""))

    def document(self, user: Caller, doc_id: str, *, server_paths: bool = False) -> dict[str, Any]:
        """One document's metadata and its passages in reading order (404 if absent or not visible).
        ``source_file`` is the file's name (with ``server_paths``: the stored path, for the viewer only)."""
        visible = self.search_filter(user, doc_ids=(doc_id,), include_abrogated=True)
        points = [p for _, p in self.services.store.scroll_payloads(DOCUMENT_FIELDS + PASSAGE_FIELDS, visible)]
        if not points:
            raise RequestError(404, f"Document introuvable : « {doc_id} ».")
        points.sort(key=lambda p: p.get("chunk_index", 0))
        meta = ({k: points[0].get(k) for k in DOCUMENT_FIELDS} if server_paths else _public_meta(points[0])) \
            | {"passages": len(points), "url": document_link(doc_id)}
        passages = [{k: p.get(k) for k in ("chunk_index", "section_path", "article", "page", "text")}
                    | ({"suspected_instructions": p["suspected_instructions"]} if p.get("suspected_instructions") else {})
                    for p in points]
        return {"document": meta, "passages": passages}

    def territories(self, user: Caller) -> list[tuple[str, str]]:
        """(code, "59 — Nord") of the départements that have documents visible to the user."""
        codes = {d["territory"] for d in self.documents(user) if d["territory"] and d["territory"] != "national"}
        return [(code, f"{code} — {name_of(code)}") for code in sorted(codes)]

    # --- uploads ---------------------------------------------------------------------------------
    def save_upload(self, user: Caller, filename: str, data: BinaryIO) -> Path:
        """Copies one uploaded file into the user's upload folder, enforcing type and size."""
        if not user.can_upload:
            raise RequestError(403, "Vous n'êtes pas autorisé(e) à téléverser des documents.")
        name = _safe_filename(filename)
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise RequestError(415, f"« {filename} » : format non pris en charge ; formats acceptés : {', '.join(SUPPORTED_SUFFIXES)}.")
        folder = self.upload_dir / _safe_filename(user.name)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        partial = target.with_name(target.name + ".partiel")
        limit = int(self.settings.ui.max_upload_mb * 1_000_000)
        size = 0
        with partial.open("wb") as out:
            while chunk := data.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    out.close()
                    partial.unlink()
                    raise RequestError(413, f"« {filename} » dépasse la taille maximale ({self.settings.ui.max_upload_mb:g} Mo).")
                out.write(chunk)
        with partial.open("rb") as stored:
            head = stored.read(1024)
        expected = MAGIC_BYTES.get(target.suffix.lower())
        if expected and not any(head.lstrip().startswith(m) for m in expected):
            partial.unlink()
            kind = target.suffix.lower().lstrip(".").upper()
            raise RequestError(415, f"« {name} » n'est pas un fichier {kind} valide (son contenu est d'un autre type).")
        partial.replace(target)
        return target

    def discard_uploads(self, paths: list[Path]) -> None:
        """Removes stored uploads that will not be indexed (a refused batch, a file that failed)."""
        for path in paths:
            path.unlink(missing_ok=True)
            if path.parent != self.upload_dir and path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()

    def upload_overrides(self, user: Caller, doc_type: str | None, territoire: str | None,
                         visibilite: list[str] | None) -> dict[str, Any]:
        if doc_type and doc_type not in DOC_TYPES:
            raise RequestError(422, f"Type de document inconnu « {doc_type} » ; valeurs possibles : {', '.join(DOC_TYPES)}.")
        territory = None
        if territoire and territoire != "national":
            territory = normalise_code(territoire)
            if territory is None:
                raise RequestError(422, f"Département inconnu « {territoire} ».")
        elif territoire == "national":
            territory = "national"
        visibility = [v for v in (visibilite or []) if v] or ["public"]
        foreign = [v for v in visibility if v != "public" and v not in user.groups]
        if foreign:
            raise RequestError(403, f"Vous ne pouvez réserver un document qu'à vos propres groupes (refusé : {', '.join(foreign)}).")
        return {"doc_type": doc_type or None, "territory": territory, "visibility": visibility}

    def submit_ingestion(self, user: Caller, paths: list[Path], overrides: dict[str, Any]) -> tuple[IngestJob, Future]:
        job = IngestJob(id=uuid.uuid4().hex[:12], user=user.name, files=[p.name for p in paths])
        self._jobs[job.id] = job
        return job, self._ingest_worker.submit(self._ingest, job, paths, overrides)

    def job(self, user: Caller, job_id: str) -> IngestJob:
        job = self._jobs.get(job_id)
        if job is None or job.user != user.name:
            raise RequestError(404, f"Téléversement introuvable : « {job_id} ».")
        return job

    def _ingest(self, job: IngestJob, paths: list[Path], overrides: dict[str, Any]) -> IngestJob:
        job.state = "en_cours"

        def on_batch(done: int, total: int) -> None:
            job.written, job.to_write = done, total

        files: list[dict[str, Any]] = []
        try:
            pipeline = self.services.ingestion_pipeline(on_batch=on_batch)
            pipeline.on_ocr_page = lambda name, done, total: setattr(job, "ocr", f"page {done}/{total}")
            for path in paths:
                job.current_file, job.written, job.to_write, job.ocr = path.name, 0, 0, ""
                report = pipeline.run([path], overrides, id_root=self.upload_dir)
                files.extend(dataclasses.asdict(f) | {"path": path.name} for f in report.files)
                if any(f.error for f in report.files):
                    self.discard_uploads([path])  # not indexed: not kept either
                job.files_done += 1
            if any(f["written"] for f in files):
                self.services.store.optimize()  # the search graph, as after « autonomie ingest »
            job.state = "termine"
        except Exception as exc:  # the worker must never die silently: the job says what happened
            job.state, job.error = "echec", f"{type(exc).__name__} : {_scrub_paths(str(exc))}"
        failed = [f for f in files if f["error"]]
        if failed and len(failed) == len(files) and job.state == "termine":
            job.state = "echec"
            job.error = "Aucun document indexé : " + " ; ".join(f"« {f['path']} » : {f['error']}" for f in failed) + "."
        job.report = {"files": files, "chunks_written": sum(f["written"] for f in files), "failed": len(failed)}
        self.metrics.ingestions.labels(job.state if not failed else "erreurs").inc()
        self._ingestions_done += 1
        return job

    # --- feedback and health -----------------------------------------------------------------------
    def add_feedback(self, user: Caller, feedback: Any) -> int:
        try:
            feedback_id = self.feedback.add(feedback, user.name)
        except ValueError as exc:
            raise RequestError(422, str(exc)) from exc
        self.metrics.feedback.labels(feedback.rating).inc()
        return feedback_id

    def health(self, detailed: bool = True) -> dict[str, Any]:
        """LLM, Qdrant and index state. Locations inside the project are shown relative to it (``../…`` under its
        parent folder, where ``data.shared_data_dir`` lives); without ``detailed``, no server path appears at all
        (other locations reduced to their name, paths in error messages too)."""
        health = dict(self.services.assistant.health())
        store = self.services.store
        if "qdrant" not in health:
            try:
                health["qdrant"] = {"ok": True, "engine": store.engine, "location": store.location,
                                    "collection": store.collection, "points": store.count()}
            except Exception as exc:
                health["qdrant"] = {"ok": False, "location": getattr(store, "location", None), "error": str(exc)}
        if health["qdrant"].get("ok"):
            health["index"] = self._index_counts()
        health.setdefault("embedding", {"model": self.settings.embedding.model})
        health["ingestion"] = {"jobs_running": sum(j.state == "en_cours" for j in self._jobs.values())}
        health["qdrant"] = {k: _shown_path(v, detailed) if k == "location" else v if detailed or k != "error"
                            else _scrub_paths(v) for k, v in health["qdrant"].items()}
        health["embedding"] = {k: _shown_path(v, detailed) for k, v in health["embedding"].items()}
        return health


    def _index_counts(self) -> dict[str, Any]:
        """Passages per type and documents: a full scroll, so cached a little (probes call /health often)."""
        cached = self._counts_cache
        if cached and time.monotonic() - cached[0] < INDEX_COUNTS_TTL_S and cached[1] == self._ingestions_done:
            return cached[2]
        store = self.services.store
        counts = store.counts_by("doc_type")
        index = {"passages_by_type": {k[0]: n for k, n in sorted(counts.items())}, "documents": len(store.doc_states())}
        self._counts_cache = (time.monotonic(), self._ingestions_done, index)
        return index


_ABSOLUTE_PATH_RE = re.compile(r"(?<![\w:/.])/(?:[^\s/'\"]+/)+([^\s/'\"]*)")


def _shown_path(value: Any, detailed: bool) -> Any:
    """A server path as /health shows it: relative to the project, or ``../…`` under its parent folder; elsewhere
    the whole path for an authenticated (``detailed``) reader, its last part for anyone else. Not a path: as is."""
    if not isinstance(value, str) or not value.startswith("/"):
        return value
    from assistant.settings import PROJECT_ROOT

    path = Path(value)
    for root, prefix in ((PROJECT_ROOT, ""), (PROJECT_ROOT.parent, "../")):
        if path.is_relative_to(root):
            return prefix + path.relative_to(root).as_posix()
    return value if detailed else f"…/{path.name}"


def _scrub_paths(value: Any) -> Any:
    return _ABSOLUTE_PATH_RE.sub(lambda m: f"…/{m.group(1)}", value) if isinstance(value, str) else value


def file_label(source_file: str | None) -> str:
    """A source file as shown to users: its name (and JSONL record), never the server's folders."""
    if not source_file:
        return ""
    path, _, record = source_file.partition("#")
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{name}#{record}" if record else name


def _public_meta(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: file_label(payload.get(k)) if k == "source_file" else payload.get(k) for k in DOCUMENT_FIELDS}


def public_response(response: AssistantResponse) -> AssistantResponse:
    """The response as users receive it: each citation's source file reduced to its name (no server path)."""

    def public(citations: list[Citation]) -> list[Citation]:
        return [c.model_copy(update={"source_file": file_label(c.source_file)}) for c in citations]

    update: dict[str, Any] = {"citations": public(response.citations)}
    if response.comparison is not None:
        comparison = response.comparison
        update["comparison"] = comparison.model_copy(update={
            "national_citations": public(comparison.national_citations),
            "territories": [row.model_copy(update={"citations": public(row.citations)}) for row in comparison.territories]})
    return response.model_copy(update=update)


def _safe_filename(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).strip("._")
    return cleaned[:120] or "document"
