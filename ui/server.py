"""One process: the HTTP API (FastAPI) with the chat UI (Gradio) mounted at ``/``.

The server owns the index while it runs (the embedded Qdrant can be opened by one process only):
uploads are ingested in-process by a single worker thread (``assistant.application.AssistantApplication``).

Access: the caller's address is the TCP peer (``ClientAddressMiddleware``; uvicorn runs with
``proxy_headers=False``, see :func:`server_config`), X-Forwarded-For is read only from
``ui.trusted_proxies``. Every refusal is ``{"detail": "<message en français>"}``, without echoing the input.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
from contextlib import asynccontextmanager
from typing import Any, Literal

import gradio as gr
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from assistant.answering.pii import mask_personal_data
from assistant.application import AssistantApplication, RequestError
from assistant.answering.schema import AssistantResponse, Turn, document_link
from assistant.services import Services
from assistant.settings import Settings
from ui.auth import PEER_KEY, REALM, AccessError, Authenticator, User, peer_of
from ui.feedback import FeedbackIn, FeedbackStore
from ui.gradio_app import CSS, HEAD, I18N, THEME, build_ui
from ui.metrics import Metrics, MetricsMiddleware
from ui.openai_compat import MODEL_ID, ChatCompletionRequest, completion, sse_chunks
from ui.usage import UsageStore
from ui import render
from ui.viewer import CSP, ViewerError, error_page, original_media_type, pdf_page_png, source_path, viewer_page

API_PREFIXES = ("/api", "/v1", "/health", "/metrics", "/docs", "/openapi.json")
UPLOAD_PATH = "/api/documents"
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
STATUS_MESSAGES = {
    400: "Requête mal formée.",
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Adresse inconnue.",
    405: "Méthode non autorisée pour cette adresse.",
    406: "Format de réponse non disponible.",
    408: "Délai de la requête dépassé.",
    411: "En-tête Content-Length requis.",
    413: "Requête trop volumineuse.",
    415: "Type de contenu non pris en charge.",
    422: "Requête invalide.",
    429: "Trop de requêtes : réessayez dans un instant.",
}


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=10_000)
    history: list[Turn] = Field(default_factory=list)
    mode: Literal["auto", "generatif", "extractif"] | None = None
    territoires: list[str] = Field(default_factory=list, description="Codes de départements, ex. [\"59\"].")
    types: list[str] = Field(default_factory=list, description="Types de documents (circulaire, fiche…).")


class CompareRequest(BaseModel):
    question: str = Field(min_length=1, max_length=10_000)
    territoires: list[str] = Field(min_length=1)


def create_app(services: Services, settings: Settings, authenticator: Authenticator | None = None) -> FastAPI:
    auth = authenticator or Authenticator(settings)
    metrics = Metrics()
    feedback_db = settings.resolve(settings.ui.feedback_db)
    backend = AssistantApplication(services, settings, metrics=metrics,
                                   feedback=FeedbackStore(feedback_db, settings.ui.feedback_retention_days),
                                   usage=UsageStore(feedback_db, settings.ui.usage_questions))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        backend.close()

    # /docs and /openapi.json are routes of their own below, behind authentication unless ui.public_docs.
    app = FastAPI(title="Assistant Autonomie — API", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, description="Questions sourcées, comparaison des pratiques territoriales, documents, avis.")
    app.state.backend = backend
    app.state.auth = auth

    def current_user(request: Request) -> User:
        try:
            return auth.from_request(request.headers, peer_of(request))
        except AccessError as exc:
            headers = {"WWW-Authenticate": REALM} if exc.status == 401 and auth.mode == "gradio" else None
            raise _HTTPError(exc.status, exc.message, headers) from exc

    def docs_access(request: Request) -> None:
        if not settings.ui.public_docs:
            current_user(request)

    def metrics_access(request: Request) -> None:
        token = settings.ui.metrics_token
        if settings.ui.public_metrics or (token and hmac.compare_digest(
                request.headers.get("authorization", "").encode(), f"Bearer {token}".encode())):
            return
        current_user(request)

    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(_HTTPError)
    async def http_error(_: Request, exc: _HTTPError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = STATUS_MESSAGES.get(exc.status_code, f"Erreur {exc.status_code}.")
        return JSONResponse({"detail": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    # --- questions ---------------------------------------------------------------------------------
    @app.post("/api/ask", response_model=AssistantResponse, tags=["assistant"])
    def ask(body: AskRequest, user: User = Depends(current_user)) -> AssistantResponse:
        """Poser une question ; réponse avec citations, mode et éventuelle abstention."""
        return backend.ask(user, body.question, history=body.history, mode=body.mode,
                           territoires=body.territoires, types=body.types)

    @app.post("/api/compare", response_model=AssistantResponse, tags=["assistant"])
    def compare(body: CompareRequest, user: User = Depends(current_user)) -> AssistantResponse:
        """Comparer la pratique de plusieurs départements à la règle nationale."""
        return backend.compare(user, body.question, body.territoires)

    @app.get("/v1/models", tags=["openai"])
    def models(_: User = Depends(current_user)) -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "autonomie"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(body: ChatCompletionRequest, user: User = Depends(current_user)):
        """Compatible OpenAI (``stream`` inclus) ; citations dans le champ ``citations`` et le bloc « Sources »."""
        try:
            question, history = body.question_and_history()
        except ValueError as exc:
            raise RequestError(422, str(exc)) from exc
        items = backend.stream(user, question, history=history, mode=body.mode, territoires=body.territoires,
                               types=body.types, channel="openai")
        if not body.stream:
            response = None
            for item in await run_in_threadpool(list, items):
                if isinstance(item, AssistantResponse):
                    response = item
            return completion(response, body.model)
        # The first item is computed before answering 200, so that a refused question is an HTTP error.
        first = await run_in_threadpool(next, items)
        return StreamingResponse(_safe_events(sse_chunks(itertools.chain([first], items), body.model)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # --- documents ---------------------------------------------------------------------------------
    @app.get("/api/documents", tags=["documents"])
    def documents(user: User = Depends(current_user)) -> dict:
        """Documents indexés visibles par l'utilisateur, avec métadonnées et nombre de passages."""
        docs = backend.documents(user)
        return {"documents": docs, "total": len(docs)}

    @app.get("/api/documents/{doc_id:path}", tags=["documents"])
    def document(doc_id: str, user: User = Depends(current_user)) -> dict:
        """Un document et ses passages dans l'ordre de lecture."""
        return backend.document(user, doc_id)

    # --- document viewer -----------------------------------------------------------------------------
    def viewer_user(request: Request) -> User:
        """The API's authentication, plus the chat's login session (mode gradio: a browser that followed a
        citation link sends the Gradio cookie, not HTTP credentials)."""
        if auth.mode == "gradio" and not request.headers.get("authorization"):
            name = _gradio_session_user(app, request)
            if name:
                try:
                    return auth.from_session(name, request.headers, peer_of(request))
                except AccessError:
                    pass
        return current_user(request)

    @app.get("/documents/{doc_id:path}", tags=["documents"], response_class=HTMLResponse)
    def view_document(
        request: Request,
        doc_id: str,
        passage: int | None = Query(None, ge=0, description="Passage cité (position dans le document), surligné."),
        original: bool = Query(False, description="Le fichier original tel qu'indexé (PDF : visionneuse du navigateur)."),
        rendu: int | None = Query(None, ge=1, description="Image PNG d'une page d'un PDF."),
    ) -> Response:
        """Visionneuse : le document d'une citation ouvert à la page citée (PDF) ou au passage surligné (HTML,
        Markdown, Word) ; 404 pour un document absent ou réservé à d'autres groupes, comme pour les réponses."""
        user = viewer_user(request)
        try:
            document = backend.document(user, doc_id, server_paths=True)
        except RequestError as exc:
            if exc.status != 404:
                raise
            return HTMLResponse(error_page(404, "Document introuvable, ou réservé à d'autres groupes d'utilisateurs."),
                                status_code=404, headers={"Content-Security-Policy": CSP})
        meta = document["document"]
        path = source_path(meta.get("source_file"), backend.upload_dir)
        if original or rendu is not None:
            if path is None:
                raise RequestError(404, "Fichier original indisponible sur le serveur.")
            if rendu is not None:
                if path.suffix.lower() != ".pdf":
                    raise RequestError(404, "Seules les pages d'un PDF sont rendues en image.")
                try:
                    image = pdf_page_png(path, rendu)
                except ViewerError as exc:
                    raise RequestError(404, str(exc)) from exc
                return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
            return FileResponse(path, media_type=original_media_type(path), filename=path.name,
                                content_disposition_type="inline",
                                headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"})
        page = viewer_page(meta, document["passages"], path, passage, document_link(doc_id).split("?")[0],
                           render.document_facts(meta))
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "private, no-store"})

    @app.post("/api/documents", tags=["documents"])
    async def upload(
        files: list[UploadFile] = File(..., description="Fichiers PDF, DOCX, HTML, Markdown, texte ou JSONL."),
        doc_type: str | None = Form(None, alias="type"),
        territoire: str | None = Form(None, description="Code de département ou « national »."),
        visibilite: str | None = Form(None, description="« public » ou groupes séparés par des virgules."),
        attendre: bool = Form(True, description="Attendre la fin de l'indexation (sinon 202 et suivi)."),
        user: User = Depends(current_user),
    ):
        """Téléverser des documents : le serveur les indexe lui-même et renvoie le rapport d'indexation."""
        if not user.can_upload:
            raise RequestError(403, "Vous n'êtes pas autorisé(e) à téléverser des documents.")
        overrides = backend.upload_overrides(user, doc_type, territoire,
                                             [v.strip() for v in (visibilite or "").split(",")])
        paths = []
        try:
            for f in files:
                paths.append(await run_in_threadpool(backend.save_upload, user, f.filename or "document", f.file))
        except RequestError:
            backend.discard_uploads(paths)  # one refused file refuses the batch: nothing stored
            raise
        job, future = backend.submit_ingestion(user, paths, overrides)
        if not attendre:
            return JSONResponse(job.as_dict(), status_code=202)
        await asyncio.wrap_future(future)
        if job.state == "echec":
            raise RequestError(422, job.error or "Échec de l'indexation.")
        return job.as_dict()

    @app.get("/api/uploads/{job_id}", tags=["documents"])
    def upload_status(job_id: str, user: User = Depends(current_user)) -> dict:
        """Avancement d'un téléversement (fichier en cours, passages écrits, rapport final)."""
        return backend.job(user, job_id).as_dict()

    # --- feedback ----------------------------------------------------------------------------------
    @app.post("/api/feedback", tags=["avis"])
    def feedback(body: FeedbackIn, user: User = Depends(current_user)) -> dict:
        """Enregistrer un avis 👍/👎 (raison et commentaire) sur une réponse."""
        return {"id": backend.add_feedback(user, body)}

    @app.get("/api/feedback/export", tags=["avis"])
    def feedback_export(format: Literal["csv", "jsonl"] = Query("jsonl"), user: User = Depends(current_user)) -> Response:
        """Exporter les avis comme questions d'évaluation (réservé aux utilisateurs habilités au téléversement)."""
        if not user.can_upload:
            raise RequestError(403, "Export des avis réservé aux administrateurs du corpus.")
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return PlainTextResponse(backend.feedback.export(format), media_type=f"{media}; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="avis.{format}"'})

    # --- operations --------------------------------------------------------------------------------
    @app.get("/health", tags=["exploitation"])
    def health(request: Request) -> JSONResponse:
        """État du LLM, de Qdrant et de l'index ; 503 si Qdrant ne répond pas. Emplacements et erreurs
        détaillés pour un utilisateur authentifié (modes gradio et header) seulement."""
        try:
            detailed = auth.mode != "none" and bool(auth.from_request(request.headers, peer_of(request)))
        except AccessError:
            detailed = False
        report = backend.health(detailed=detailed)
        return JSONResponse(report, status_code=200 if report["qdrant"].get("ok") else 503)

    @app.get("/metrics", tags=["exploitation"], dependencies=[Depends(metrics_access)])
    def prometheus() -> Response:
        """Métriques Prometheus (authentification, ou ui.metrics_token, ou ui.public_metrics)."""
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(docs_access)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(docs_access)])
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Assistant Autonomie — API")

    # Unknown API addresses answer like the others (French JSON), not with the chat UI's pages.
    @app.api_route("/api/{rest:path}", methods=HTTP_METHODS, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=HTTP_METHODS, include_in_schema=False)
    def unknown_address(request: Request, rest: str) -> None:
        allowed = sorted({m for r in app.routes if isinstance(r, APIRoute) and r.endpoint is not unknown_address
                          and r.path_regex.match(request.url.path) for m in r.methods})
        if allowed:
            raise _HTTPError(405, f"Méthode {request.method} non autorisée ici ; méthode(s) acceptée(s) : {', '.join(allowed)}.",
                             {"Allow": ", ".join(allowed)})
        raise _HTTPError(404, "Adresse inconnue de l'API (liste des adresses : /docs).")

    # --- chat UI -----------------------------------------------------------------------------------
    blocks = build_ui(backend, auth)
    mount_auth: dict = {}
    if auth.mode == "gradio":
        mount_auth = {"auth": auth.check_login, "auth_message": "Assistant Autonomie — connectez-vous avec votre compte."}
    elif auth.mode == "header":
        mount_auth = {"auth_dependency": lambda request: auth.proxy_username(request.headers, peer_of(request))}
    app = gr.mount_gradio_app(app, blocks, path="/", theme=THEME, css=CSS, head=HEAD, i18n=I18N, ssr_mode=False,
                              footer_links=[], max_file_size=int(settings.ui.max_upload_mb * 1_000_000),
                              server_name=settings.ui.host, server_port=settings.ui.port, **mount_auth)
    app.add_middleware(HtmlLangMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.ui.max_request_kb * 1024)
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.ui.trusted_proxies)  # outermost
    return app


def _gradio_session_user(app: FastAPI, request: Request) -> str | None:
    """The user name of the chat's login cookie (mode gradio), from the mounted Gradio app's sessions."""
    for route in app.routes:
        inner = getattr(route, "app", None)
        if hasattr(inner, "tokens") and hasattr(inner, "cookie_id"):
            token = (request.cookies.get(f"access-token-{inner.cookie_id}")
                     or request.cookies.get(f"access-token-unsecure-{inner.cookie_id}"))
            return inner.tokens.get(token) if token else None
    return None


def server_config(app: ASGIApp, settings: Settings) -> Any:
    """uvicorn's configuration for ``autonomie serve`` (and the tests' real servers): no proxy-header
    rewriting in uvicorn, so that the application sees the TCP peer (``ClientAddressMiddleware``)."""
    import uvicorn

    return uvicorn.Config(app, host=settings.ui.host, port=settings.ui.port, log_level="warning", proxy_headers=False,
                          server_header=False, timeout_graceful_shutdown=5)


class PersonalDataLogFilter(logging.Filter):
    """Masks personal data (NIR, e-mail, phone…) in a log record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message).text
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text).text
        return True


def mask_logs() -> None:
    """Every handler the process logs through (uvicorn's, Gradio's, the root's, the last resort) masks
    personal data: a question or a comment quoted in an error never reaches a log file in clear."""
    log_filter = PersonalDataLogFilter()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    handlers = {h for logger in loggers for h in getattr(logger, "handlers", [])} | {logging.lastResort}
    for handler in handlers:
        if handler is not None and not any(isinstance(f, PersonalDataLogFilter) for f in handler.filters):
            handler.addFilter(log_filter)


_IGNORED_LOCATIONS = {"body", "query", "path", "header", "form", "cookie"}
_TYPE_NAMES = {"string": "texte attendu", "int": "nombre entier attendu", "float": "nombre attendu",
               "bool": "booléen attendu (true ou false)", "list": "liste attendue", "dict": "objet JSON attendu",
               "model": "objet JSON attendu"}


def validation_message(errors: list[dict[str, Any]], limit: int = 5) -> str:
    """Pydantic's errors as one French sentence, without the submitted values (never echoed back)."""
    parts = []
    for error in errors[:limit]:
        kind = error.get("type", "")
        if kind == "json_invalid":
            parts.append("corps de la requête : JSON invalide")
            continue
        location = ".".join(str(x) for x in error.get("loc", ()) if x not in _IGNORED_LOCATIONS)
        parts.append(f"{location or 'corps de la requête'} : {_french_error(kind, error.get('ctx') or {}, error.get('msg', ''))}")
    more = f" (et {len(errors) - limit} autre(s) erreur(s))" if len(errors) > limit else ""
    return "Requête invalide : " + " ; ".join(parts) + more + "."


def _french_error(kind: str, ctx: dict[str, Any], message: str) -> str:
    if kind == "missing":
        return "champ obligatoire absent"
    if kind == "string_too_long":
        return f"{ctx.get('max_length')} caractères au plus"
    if kind == "string_too_short":
        return "ne doit pas être vide" if ctx.get("min_length") == 1 else f"{ctx.get('min_length')} caractères au moins"
    if kind == "too_short":
        return f"{ctx.get('min_length')} élément(s) au moins"
    if kind == "too_long":
        return f"{ctx.get('max_length')} élément(s) au plus"
    if kind in ("literal_error", "enum"):
        return f"valeur non autorisée (valeurs possibles : {str(ctx.get('expected', '')).replace(' or ', ' ou ')})"
    if kind == "extra_forbidden":
        return "champ inconnu"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[kind]
        return f"doit être {sign} {next(iter(ctx.values()), '')}"
    if kind == "value_error":  # our own validators raise French messages
        return message.removeprefix("Value error, ")
    for prefix, expected in _TYPE_NAMES.items():
        if kind.startswith(prefix + "_") or kind == prefix:
            return expected
    return "valeur invalide"


class ClientAddressMiddleware:
    """Records the TCP peer (``PEER_KEY``) before anything reads X-Forwarded-For, then lets uvicorn's
    proxy-headers middleware take the client address and scheme from those headers only when the peer is
    one of ``ui.trusted_proxies`` (addresses or CIDR networks).

    An address already rewritten by an outer proxy-headers middleware (uvicorn's defaults: port 0 and an
    X-Forwarded-For header) cannot be told from a forged one: the peer is then unknown (never trusted)."""

    def __init__(self, app: ASGIApp, trusted_proxies: list[str]):
        self.app = ProxyHeadersMiddleware(app, trusted_hosts=list(trusted_proxies))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            forwarded = any(name == b"x-forwarded-for" for name, _ in scope.get("headers", []))
            scope[PEER_KEY] = None if not client or (client[1] == 0 and forwarded) else client[0]
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """API requests larger than ``ui.max_request_kb`` are refused (413) before being read; uploads have
    their own limit (``ui.max_upload_mb`` per file)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/api", "/v1")) and scope["path"] != UPLOAD_PATH:
            length = dict(scope.get("headers", [])).get(b"content-length")
            try:
                too_large = length is not None and int(length) > self.max_bytes
            except ValueError:
                await JSONResponse({"detail": "En-tête Content-Length invalide."}, status_code=400)(scope, receive, send)
                return
            if too_large:
                message = f"Requête trop volumineuse ({self.max_bytes // 1024} Kio au plus)."
                await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        self.status, self.message, self.headers = status, message, headers


def _safe_events(events):
    """An error after the stream started cannot change the status: it becomes an error event."""
    try:
        yield from events
    except RequestError as exc:
        yield f"data: {json.dumps({'error': {'message': exc.message, 'code': exc.status}}, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"


class HtmlLangMiddleware:
    """The UI is French: its page says so (``<html lang="fr">``) whatever the browser's language."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            html = b"".join(body).replace(b'lang="en"', b'lang="fr"', 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, send_wrapper)
