"""The 'service' embedding backend: against a real infinity-emb server on loopback (vectors and retrieval
equal to the in-process path), and against a scripted server for retries, concurrency and errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from assistant.components.embedding import EmbeddingError, EmbeddingUnavailableError, build_embedder
from assistant.components.embedding_service import ServiceEmbedder
from assistant.settings import EmbeddingServiceSettings, EmbeddingSettings, Settings, get_settings
from tests.conftest import make_settings
from tests.embedding_server import SERVED_NAME, embedding_server  # noqa: F401
from tests.stub_llm import _send_json as send_json

TEXTS = [
    "L'allocation personnalisée d'autonomie est attribuée aux personnes classées en GIR 1 à 4.",
    "La prestation de compensation du handicap couvre l'aide humaine et les aides techniques.",
    "Le président du conseil départemental notifie sa décision dans un délai de deux mois. " * 40,  # > 512 tokens
    "MDPH",
    "Téléassistance : boîtier installé au domicile par un prestataire agréé.",
]


def service_settings(base_url: str, **service) -> EmbeddingSettings:
    return EmbeddingSettings(backend="service", service=EmbeddingServiceSettings(
        base_url=base_url, model=SERVED_NAME, **service))


# --- settings -------------------------------------------------------------------------------------------------------
def test_service_backend_needs_an_address():
    with pytest.raises(ValidationError, match="AUTONOMIE_EMBEDDING__SERVICE__BASE_URL"):
        EmbeddingSettings(backend="service")


def test_backend_and_service_come_from_environment(monkeypatch):
    monkeypatch.setenv("AUTONOMIE_EMBEDDING__BACKEND", "service")
    monkeypatch.setenv("AUTONOMIE_EMBEDDING__SERVICE__BASE_URL", "http://127.0.0.1:7997")
    monkeypatch.setenv("AUTONOMIE_EMBEDDING__SERVICE__CONCURRENCY", "2")
    get_settings.cache_clear()
    try:
        embedding = get_settings().embedding
    finally:
        get_settings.cache_clear()
    assert (embedding.backend, embedding.service.base_url, embedding.service.concurrency) == (
        "service", "http://127.0.0.1:7997", 2)
    assert isinstance(build_embedder(embedding, Path(".")), ServiceEmbedder)


# --- real server ----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_service_vectors_equal_in_process_ones(embedding_server, embedder):  # noqa: F811
    # Batches of 2 with 3 requests in flight: the order of the answers must not matter.
    service = build_embedder(service_settings(embedding_server, batch_size=2, concurrency=3), Path("."))
    try:
        assert service.dimension == embedder.dimension == 384
        passages, local_passages = service.embed_passages(TEXTS), embedder.embed_passages(TEXTS)
        queries = service.embed_queries(["plafond de l'APA en GIR 1", "aide humaine PCH"])
        local_queries = embedder.embed_queries(["plafond de l'APA en GIR 1", "aide humaine PCH"])
        same_text_as_passage = service.embed_passages(["plafond de l'APA en GIR 1"])[0]
    finally:
        service.close()
    assert passages.shape == (len(TEXTS), 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(passages * local_passages, axis=1)) > 0.99999
    assert np.min(np.sum(queries * local_queries, axis=1)) > 0.99999
    # Prefixes really differ between queries and passages on both paths (e5 needs them).
    assert float(queries[0] @ same_text_as_passage) < 0.999


@pytest.mark.slow
def test_retrieval_through_the_service_equals_in_process(embedding_server, small_index, tmp_path):  # noqa: F811
    from assistant.components.vector_store import SearchFilter
    from assistant.services import Services
    from tests.fixture_index import build_corpus

    local_settings, local = small_index
    settings = make_settings(tmp_path)
    settings = settings.model_copy(update={"embedding": service_settings(embedding_server, batch_size=4)})
    services = Services(settings)
    try:
        report = services.ingestion_pipeline().run([build_corpus(tmp_path / "corpus")])
        assert not report.failed and report.chunks_written == local.store.count()
        queries = ["Qui a droit à l'APA ?", "délai de notification de la décision", "volet médical du GEVA",
                   "argent versé aux personnes âgées vulnérables qui veulent demeurer dans leur logement",
                   "référence du formulaire de réexamen"]
        for mode in ("dense", "hybrid"):
            for query in queries:
                for search_filter in (SearchFilter(), SearchFilter(groups=("dep-59",))):
                    ours = services.retriever.run(query, search_filter, top_k=6, mode=mode).passages
                    theirs = local.retriever.run(query, search_filter, top_k=6, mode=mode).passages
                    assert [(p.doc_id, p.text) for p in ours] == [(p.doc_id, p.text) for p in theirs], (mode, query)
                    np.testing.assert_allclose([p.score for p in ours], [p.score for p in theirs], atol=1e-4)
    finally:
        services.close()


@pytest.mark.slow
def test_real_data_metrics_through_the_service_equal_in_process(embedding_server, embedder, shared_data):  # noqa: F811
    """40 service-public fiches and their development questions: the same ranks either way."""
    fiches = [json.loads(line) for line in (shared_data / "service-public" / "fiches.jsonl").open(encoding="utf-8")][:40]
    ids = {f["id"] for f in fiches}
    questions = [json.loads(line) for line in (shared_data / "service-public" / "questions-dev.jsonl").open(encoding="utf-8")]
    questions = [q for q in questions if q["gold_doc"] in ids]
    assert len(questions) >= 10
    texts = [f"{f.get('title', '')}\n{f['text'][:1200]}" for f in fiches]
    service = build_embedder(service_settings(embedding_server, batch_size=8, concurrency=2), Path("."))
    try:
        ours_docs, ours_q = service.embed_passages(texts), service.embed_queries([q["question"] for q in questions])
    finally:
        service.close()
    theirs_docs, theirs_q = embedder.embed_passages(texts), embedder.embed_queries([q["question"] for q in questions])

    def ranks(docs, qs):
        order = np.argsort(-(qs @ docs.T), axis=1)
        return [int(np.where(np.array([fiches[i]["id"] for i in row]) == q["gold_doc"])[0][0]) + 1
                for row, q in zip(order, questions)]

    assert ranks(ours_docs, ours_q) == ranks(theirs_docs, theirs_q)


# --- scripted server: retries, bounded concurrency, errors ----------------------------------------------------------
class ScriptedEmbeddings:
    """POST /embeddings: fails the first ``failures`` requests with 503, then answers one-hot vectors after
    ``delay_s``; records the largest number of requests in flight."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0, status: int = 503):
        self.failures, self.delay_s, self.status = failures, delay_s, status
        self.requests: list[list[str]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with scripted.lock:
                    scripted.requests.append(body["input"])
                    failing = len(scripted.requests) <= scripted.failures
                    scripted.in_flight += 1
                    scripted.max_in_flight = max(scripted.max_in_flight, scripted.in_flight)
                time.sleep(scripted.delay_s)
                if failing:
                    payload, status = {"error": {"message": "surcharge simulée"}}, scripted.status
                else:  # vector = one-hot on the text's length (mod 8), answered in reverse order
                    data = [{"object": "embedding", "index": i, "embedding": np.eye(8)[len(t) % 8].tolist()}
                            for i, t in enumerate(body["input"])][::-1]
                    payload, status = {"object": "list", "data": data, "model": body["model"]}, 200
                with scripted.lock:
                    scripted.in_flight -= 1
                send_json(self, status, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def scripted() -> Iterator[callable]:
    servers = []

    def start(**kwargs) -> ScriptedEmbeddings:
        servers.append(ScriptedEmbeddings(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


def test_batches_keep_order_and_concurrency_is_bounded(scripted):
    server = scripted(delay_s=0.2)
    embedder = ServiceEmbedder(service_settings(server.base_url, batch_size=3, concurrency=2))
    texts = [f"t{'x' * n}" for n in range(14)]
    vectors = embedder.embed_passages(texts)
    assert [len(r) for r in server.requests] == [3, 3, 3, 3, 2]
    assert all(t.startswith("passage: ") for r in server.requests for t in r)
    assert server.max_in_flight == 2
    assert [int(np.argmax(v)) for v in vectors] == [len("passage: " + t) % 8 for t in texts]


def test_overloaded_service_is_retried_with_backoff(scripted):
    server = scripted(failures=2)
    embedder = ServiceEmbedder(service_settings(server.base_url, max_retries=3))
    started = time.perf_counter()
    assert embedder.embed_queries(["APA"]).shape == (1, 8)
    assert len(server.requests) == 3 and server.requests[0] == ["query: APA"]
    assert time.perf_counter() - started > 0.5  # two waits of the client's exponential backoff


def test_http_error_after_retries_is_a_french_error(scripted):
    server = scripted(failures=10, status=422)
    embedder = ServiceEmbedder(service_settings(server.base_url, max_retries=3))
    with pytest.raises(EmbeddingError, match="réponse HTTP 422") as caught:
        embedder.embed_queries(["APA"])
    assert not isinstance(caught.value, EmbeddingUnavailableError)
    assert len(server.requests) == 1  # a 422 is not retried


def test_service_down_is_a_clear_french_error_quickly():
    with socket_closed_port() as port:
        embedder = ServiceEmbedder(service_settings(f"http://127.0.0.1:{port}", max_retries=1))
        started = time.perf_counter()
        with pytest.raises(EmbeddingUnavailableError, match="injoignable.*vérifiez qu'il est démarré"):
            embedder.embed_passages(["texte"])
    assert time.perf_counter() - started < 10


def test_cli_search_with_service_down_says_so_in_french(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app

    with socket_closed_port() as port:
        monkeypatch.setenv("AUTONOMIE_EMBEDDING__BACKEND", "service")
        monkeypatch.setenv("AUTONOMIE_EMBEDDING__SERVICE__BASE_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AUTONOMIE_EMBEDDING__SERVICE__MAX_RETRIES", "0")
        monkeypatch.setenv("AUTONOMIE_QDRANT__PATH", str(tmp_path / "qdrant"))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["search", "plafond APA"])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "Service d'embeddings" in result.output and "injoignable" in result.output


class socket_closed_port:
    """A loopback port nothing listens on (bound then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def test_settings_default_stays_in_process():
    assert Settings().embedding.backend == "local"
