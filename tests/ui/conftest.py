"""Server fixtures: a real small index (real embeddings, embedded Qdrant), apps built on it, a real
uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from assistant.services import Services
from assistant.settings import Settings
from tests.conftest import make_settings
from tests.ui.corpus import write_corpus, write_viewer_corpus
from ui.auth import Authenticator, hash_api_key, hash_password
from ui.server import create_app, server_config

PASSWORDS = {"alice": "mot-de-passe-alice", "bruno": "mot-de-passe-bruno"}
API_KEY = "aa-cle-de-test-alice"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _built_index(root: Path, embedder, write) -> Iterator[tuple[Settings, Services]]:
    """(settings, services) over the corpus ``write(folder)`` creates; the LLM endpoint is a closed port."""
    settings = make_settings(root, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "connect_timeout_s": 1.0,
                                        "max_retries": 0})
    services = Services(settings)
    services.__dict__["embedder"] = embedder  # share the session's loaded model
    report = services.ingestion_pipeline().run([write(root / "corpus")])
    assert not report.failed, report.failed
    yield settings, services
    services.close()


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory, embedder):
    """(settings, services) over tests/ui/corpus.py (extractive mode)."""
    yield from _built_index(tmp_path_factory.mktemp("ui-index"), embedder, write_corpus)


@pytest.fixture(scope="session")
def viewer_index(tmp_path_factory, embedder):
    """(settings, services) over ``write_viewer_corpus``: the test corpus plus a PDF, a Word file and a web page."""
    yield from _built_index(tmp_path_factory.mktemp("viewer-index"), embedder, write_viewer_corpus)


@pytest.fixture
def make_client(ui_index, tmp_path):
    """``make_client(**ui_settings)`` → a TestClient of a fresh app (own feedback database)."""
    settings, services = ui_index
    clients = []

    def factory(client_address: str = "testclient", **ui_changes) -> TestClient:
        ui = settings.ui.model_copy(update={"feedback_db": tmp_path / f"feedback-{len(clients)}.sqlite3",
                                            "upload_dir": tmp_path / "uploads", **ui_changes})
        app = create_app(services, settings.model_copy(update={"ui": ui}))
        client = TestClient(app, client=(client_address, 50000))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def upload_client(tmp_path, embedder):
    """``upload_client(**ui_settings)`` → a TestClient on an empty index of its own (uploads change it)."""

    def factory(**ui_changes) -> TestClient:
        settings = make_settings(tmp_path, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
        settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={
            "feedback_db": tmp_path / "feedback.sqlite3", "upload_dir": tmp_path / "uploads", **ui_changes})})
        services = Services(settings)
        services.__dict__["embedder"] = embedder
        made.append(services)
        client = TestClient(create_app(services, settings))
        client.__enter__()
        clients.append(client)
        return client

    made: list[Services] = []
    clients: list[TestClient] = []
    yield factory
    for client in clients:
        client.__exit__(None, None, None)
    for services in made:
        services.close()


def finished_job(client: TestClient, job_id: str, timeout_s: float = 120) -> dict:
    """Polls ``GET /api/uploads/{job_id}`` until the ingestion job ends; returns its last state."""
    deadline = time.monotonic() + timeout_s
    while (job := client.get(f"/api/uploads/{job_id}").json())["state"] not in ("termine", "echec"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def users_file(tmp_path) -> Path:
    path = tmp_path / "utilisateurs.yaml"
    users = {
        "alice": {"password_hash": hash_password(PASSWORDS["alice"], iterations=1000), "groups": ["dep-59", "televersement"],
                  "api_key_hash": hash_api_key(API_KEY)},
        "bruno": {"password_hash": hash_password(PASSWORDS["bruno"], iterations=1000), "groups": ["dep-13"]},
    }
    path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    return path


@contextmanager
def running_server(app, settings=None) -> Iterator[str]:
    """A real uvicorn server for ``app`` on 127.0.0.1 (free port) in a thread, configured as ``autonomie
    serve`` configures it; yields its base URL."""
    port = free_port()
    base = settings or Settings()
    config_settings = base.model_copy(update={"ui": base.ui.model_copy(update={"host": "127.0.0.1", "port": port})})
    server = uvicorn.Server(server_config(app, config_settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a loaded 2-core machine can take long to import and bind
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("le serveur de test n'a pas démarré")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture
def live_server(ui_index, tmp_path):
    """(base URL, settings) of a real server on the small index; own feedback database."""
    settings, services = ui_index
    ui = settings.ui.model_copy(update={"feedback_db": tmp_path / "feedback.sqlite3", "upload_dir": tmp_path / "uploads"})
    app_settings = settings.model_copy(update={"ui": ui})
    with running_server(create_app(services, app_settings, Authenticator(app_settings)), app_settings) as url:
        yield url, app_settings
