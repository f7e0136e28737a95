"""One process: the HTTP API (FastAPI) with the chat UI (Gradio) mounted at ``/``.

The server owns the index while it runs (the embedded Qdrant can be opened by one process only):
uploads are ingested in-process by a single worker thread (``Backend``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from contextlib import asynccontextmanager
from typing import Literal

import gradio as gr
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answering.schema import AssistantResponse, Turn
from assistant.services import Services
from assistant.settings import Settings
from ui.auth import REALM, AccessError, Authenticator, User
from ui.backend import Backend, RequestError
from ui.feedback import FeedbackIn
from ui.gradio_app import CSS, HEAD, THEME, build_ui
from ui.metrics import Metrics, MetricsMiddleware
from ui.openai_compat import MODEL_ID, ChatCompletionRequest, completion, sse_chunks

API_PREFIXES = ("/api", "/v1", "/health", "/metrics", "/docs", "/openapi.json")


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
    backend = Backend(services, settings, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        backend.close()

    app = FastAPI(title="Assistant Autonomie — API", version="0.1.0", lifespan=lifespan,
                  description="Questions sourcées, comparaison des pratiques territoriales, documents, avis.")
    app.state.backend = backend
    app.state.auth = auth

    def current_user(request: Request) -> User:
        try:
            return auth.from_request(request.headers, request.client.host if request.client else None)
        except AccessError as exc:
            headers = {"WWW-Authenticate": REALM} if exc.status == 401 and auth.mode == "gradio" else None
            raise _HTTPError(exc.status, exc.message, headers) from exc

    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(_HTTPError)
    async def http_error(_: Request, exc: _HTTPError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

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
        paths = [await run_in_threadpool(backend.save_upload, user, f.filename or "document", f.file) for f in files]
        job, future = backend.submit_ingestion(user, paths, overrides)
        if not attendre:
            return JSONResponse(job.as_dict(), status_code=202)
        await asyncio.wrap_future(future)
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
    def health() -> JSONResponse:
        """État du LLM, de Qdrant et de l'index ; 503 si Qdrant ne répond pas."""
        report = backend.health()
        return JSONResponse(report, status_code=200 if report["qdrant"].get("ok") else 503)

    @app.get("/metrics", tags=["exploitation"])
    def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # --- chat UI -----------------------------------------------------------------------------------
    blocks = build_ui(backend, auth)
    mount_auth: dict = {}
    if auth.mode == "gradio":
        mount_auth = {"auth": auth.check_login, "auth_message": "Assistant Autonomie — connectez-vous avec votre compte."}
    elif auth.mode == "header":
        mount_auth = {"auth_dependency": lambda request: auth.proxy_username(
            request.headers, request.client.host if request.client else None)}
    app = gr.mount_gradio_app(app, blocks, path="/", theme=THEME, css=CSS, head=HEAD, ssr_mode=False,
                              footer_links=[], max_file_size=int(settings.ui.max_upload_mb * 1_000_000),
                              server_name=settings.ui.host, server_port=settings.ui.port, **mount_auth)
    app.add_middleware(HtmlLangMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


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
