"""``autonomie snapshot``: embedded mode for real (both engines), server mode by request inspection."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import tarfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import models
from rich.console import Console
from typer.testing import CliRunner

from assistant.cli import common
from assistant.cli import snapshot as cli_snapshot
from assistant.cli.snapshot import snapshot_app
from assistant.components.sparse import SparseVector
from assistant.components.vector_store import PointRecord, SearchFilter, build_store, point_id, snapshots
from assistant.settings import PROJECT_ROOT, get_settings

runner = CliRunner()
DIM = 8


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables not wrapped at 80 columns, so assertions see whole cells."""
    monkeypatch.setattr(cli_snapshot, "console", Console(width=250))
    monkeypatch.setattr(common, "err_console", Console(width=250, stderr=True))


@pytest.fixture
def embedded(tmp_path, monkeypatch, request):
    """Settings pointing at a fresh embedded index in ``tmp_path`` (engine from the test parameter)."""
    monkeypatch.delenv("AUTONOMIE_PROFILES", raising=False)
    monkeypatch.delenv("AUTONOMIE_QDRANT__URL", raising=False)
    monkeypatch.setenv("AUTONOMIE_QDRANT__PATH", str(tmp_path / "qdrant"))
    monkeypatch.setenv("AUTONOMIE_QDRANT__COLLECTION", "sauvegarde")
    monkeypatch.setenv("AUTONOMIE_QDRANT__EMBEDDED_ENGINE", request.param)
    get_settings.cache_clear()
    yield get_settings().qdrant
    get_settings.cache_clear()


def _records(n: int) -> list[PointRecord]:
    rng = np.random.default_rng(7)
    records = []
    for i in range(n):
        dense = rng.normal(size=DIM).astype(np.float32)
        payload = {
            "doc_id": f"doc-{i % 3}", "doc_type": "fiche", "territory": "national", "visibility": ["public"],
            "validity": "en_vigueur", "source_file": f"f{i % 3}.md", "text": f"passage {i}",
        }
        records.append(PointRecord(point_id("test", str(i)), dense / np.linalg.norm(dense),
                                   SparseVector([i + 1, 1000 + i], [1.0, 0.5]), payload))
    return records


def _fill(settings, n: int = 25) -> None:
    store = build_store(settings, PROJECT_ROOT)
    try:
        store.ensure_collection(DIM)
        store.upsert(_records(n))
    finally:
        store.close()


def _snapshot_of_index(settings) -> tuple[dict, list[tuple[str, float]]]:
    """Every point's payload, and a dense query's ranking with scores (so vectors are compared too)."""
    store = build_store(settings, PROJECT_ROOT)
    try:
        payloads = dict(store.scroll_payloads(True))
        query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
        hits = store.query_hybrid(query, None, limit=10, prefetch_k=10, search_filter=SearchFilter())
        return payloads, [(h.id, round(h.score, 5)) for h in hits]
    finally:
        store.close()


def _drop(settings) -> None:
    store = build_store(settings, PROJECT_ROOT)
    try:
        store.drop()
        assert not store.exists()
    finally:
        store.close()


@pytest.mark.parametrize("embedded", ["edge", "local"], indirect=True)
def test_embedded_create_drop_restore_gives_back_the_same_points(embedded, tmp_path):
    _fill(embedded)
    before = _snapshot_of_index(embedded)
    assert len(before[0]) == 25 and len(before[1]) == 10

    result = runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path / "sauvegardes")])
    assert result.exit_code == 0, result.output
    archives = list((tmp_path / "sauvegardes").glob("*.tar.gz"))
    assert len(archives) == 1
    manifest = snapshots.read_manifest(archives[0])
    assert (manifest["collection"], manifest["engine"], manifest["points"]) == ("sauvegarde", embedded.embedded_engine, 25)

    listing = runner.invoke(snapshot_app, ["list", "--dossier", str(tmp_path / "sauvegardes")])
    assert listing.exit_code == 0 and "25 points" in listing.output

    _drop(embedded)
    result = runner.invoke(snapshot_app, ["restore", str(archives[0]), "--oui"])
    assert result.exit_code == 0, result.output
    assert "25 points" in result.output
    assert _snapshot_of_index(embedded) == before


@pytest.mark.parametrize("embedded", ["edge"], indirect=True)
def test_embedded_restore_moves_the_current_index_aside(embedded, tmp_path):
    _fill(embedded, 10)
    runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path / "s")], catch_exceptions=False)
    archive = next((tmp_path / "s").glob("*.tar.gz"))
    store = build_store(embedded, PROJECT_ROOT)
    store.upsert(_records(14)[10:])  # the index moves on after the backup
    store.close()

    result = runner.invoke(snapshot_app, ["restore", str(archive)], input="o\n")
    assert result.exit_code == 0, result.output
    store = build_store(embedded, PROJECT_ROOT)
    location = Path(store.location)
    try:
        assert store.count() == 10
    finally:
        store.close()
    aside = list(location.parent.glob(f"{location.name}.avant-restauration-*"))
    assert len(aside) == 1 and str(aside[0]) in result.output


@pytest.mark.parametrize("embedded", ["edge", "local"], indirect=True)
def test_embedded_create_is_refused_while_the_index_is_open(embedded, tmp_path):
    _fill(embedded, 3)
    holder = build_store(embedded, PROJECT_ROOT)  # e.g. a running « autonomie serve »
    try:
        result = runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path / "s")])
        assert result.exit_code == 2
        assert "Erreur" in result.output and "ouvert" in result.output
        assert not list(tmp_path.glob("s/*.tar.gz"))
    finally:
        holder.close()


@pytest.mark.parametrize("embedded", ["edge"], indirect=True)
def test_embedded_restore_rejects_other_collection_and_foreign_archives(embedded, tmp_path):
    _fill(embedded, 4)
    runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path / "s")], catch_exceptions=False)
    archive = next((tmp_path / "s").glob("*.tar.gz"))

    result = runner.invoke(snapshot_app, ["restore", str(archive), "--collection", "autre", "--oui"])
    assert result.exit_code == 2 and "--collection sauvegarde" in result.output

    foreign = tmp_path / "etranger.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(Path(__file__), arcname="index/x.py")
    result = runner.invoke(snapshot_app, ["restore", str(foreign), "--oui"])
    assert result.exit_code == 2 and "manifeste absent" in result.output

    result = runner.invoke(snapshot_app, ["restore", str(archive)], input="n\n")
    assert result.exit_code == 1 and "annulée" in result.output


# --- server mode: the requests sent to Qdrant ------------------------------------------------------
SNAPSHOT_BYTES = b"contenu d'instantane qdrant" * 1000
SNAPSHOT_NAME = "autonomie-123-2026-01-01-00-00-00.snapshot"


class FakeQdrantClient:
    """Records calls the way a QdrantClient would receive them."""

    def __init__(self, checksum: str | None = None):
        self.calls: list[tuple] = []
        self.checksum = checksum or hashlib.sha256(SNAPSHOT_BYTES).hexdigest()

    def create_snapshot(self, collection_name, wait=True):
        self.calls.append(("create_snapshot", collection_name, wait))
        return models.SnapshotDescription(name=SNAPSHOT_NAME, creation_time="2026-01-01T00:00:00",
                                          size=len(SNAPSHOT_BYTES), checksum=self.checksum)

    def delete_snapshot(self, collection_name, snapshot_name, wait=True):
        self.calls.append(("delete_snapshot", collection_name, snapshot_name))
        return True

    def list_snapshots(self, collection_name):
        self.calls.append(("list_snapshots", collection_name))
        return [models.SnapshotDescription(name=SNAPSHOT_NAME, creation_time="2026-01-01T00:00:00", size=2_000_000)]

    def recover_snapshot(self, collection_name, location, priority=None, wait=True):
        self.calls.append(("recover_snapshot", collection_name, location, priority, wait))
        return True

    def count(self, collection_name, exact=True):
        self.calls.append(("count", collection_name, exact))
        return models.CountResult(count=1234)

    def close(self):
        self.calls.append(("close",))


@pytest.fixture
def server(monkeypatch):
    """Server-mode settings; the Qdrant client is a fake, the HTTP client is real over a mock transport."""
    monkeypatch.delenv("AUTONOMIE_PROFILES", raising=False)
    monkeypatch.setenv("AUTONOMIE_QDRANT__URL", "http://qdrant.test:6333")
    monkeypatch.setenv("AUTONOMIE_QDRANT__API_KEY", "cle-secrete")
    monkeypatch.setenv("AUTONOMIE_QDRANT__COLLECTION", "autonomie")
    get_settings.cache_clear()
    state = {"client": FakeQdrantClient(), "requests": [], "status": 200}

    def handler(request: httpx.Request) -> httpx.Response:
        state["requests"].append((request, request.read()))
        if state["status"] != 200:
            return httpx.Response(state["status"], json={"status": {"error": "Mauvaise somme de contrôle"}})
        if request.method == "GET":
            return httpx.Response(200, content=SNAPSHOT_BYTES)
        return httpx.Response(200, json={"result": True, "status": "ok"})

    monkeypatch.setattr(snapshots, "_qdrant_client", lambda url, settings: state["client"])
    monkeypatch.setattr(snapshots, "_http_client",
                        functools.partial(snapshots._http_client, transport=httpx.MockTransport(handler)))
    yield state
    get_settings.cache_clear()


def test_server_create_downloads_checks_and_deletes_the_server_copy(server, tmp_path):
    result = runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / SNAPSHOT_NAME).read_bytes() == SNAPSHOT_BYTES
    calls = server["client"].calls
    assert calls[0] == ("create_snapshot", "autonomie", True)
    assert ("delete_snapshot", "autonomie", SNAPSHOT_NAME) in calls
    (request, _), = server["requests"]
    assert request.method == "GET"
    assert str(request.url) == f"http://qdrant.test:6333/collections/autonomie/snapshots/{SNAPSHOT_NAME}"
    assert request.headers["api-key"] == "cle-secrete"


def test_server_create_keeps_the_server_copy_on_request_and_targets_a_node(server, tmp_path):
    result = runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path), "--garder-sur-serveur",
                                          "--noeud", "http://qdrant-2.qdrant-headless:6333/"])
    assert result.exit_code == 0, result.output
    assert not [c for c in server["client"].calls if c[0] == "delete_snapshot"]
    (request, _), = server["requests"]
    assert request.url.host == "qdrant-2.qdrant-headless"


def test_server_create_rejects_a_corrupted_download(server, tmp_path):
    server["client"] = FakeQdrantClient(checksum="0" * 64)
    result = runner.invoke(snapshot_app, ["create", "--dossier", str(tmp_path)])
    assert result.exit_code == 2 and "corrompu" in result.output
    assert list(tmp_path.iterdir()) == []  # neither the file nor its partial download is left
    assert not [c for c in server["client"].calls if c[0] == "delete_snapshot"]


def test_server_restore_uploads_a_local_file_with_priority_and_checksum(server, tmp_path):
    backup = tmp_path / SNAPSHOT_NAME
    backup.write_bytes(SNAPSHOT_BYTES)
    result = runner.invoke(snapshot_app, ["restore", str(backup), "--oui"])
    assert result.exit_code == 0, result.output
    assert "1234 points" in result.output
    (request, body), = server["requests"]
    assert request.method == "POST" and request.url.path == "/collections/autonomie/snapshots/upload"
    assert dict(request.url.params) == {
        "wait": "true", "priority": "snapshot", "checksum": hashlib.sha256(SNAPSHOT_BYTES).hexdigest(),
    }
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="snapshot"' in body and SNAPSHOT_BYTES in body
    assert ("count", "autonomie", True) in server["client"].calls


def test_server_restore_from_a_url_uses_recover_snapshot(server):
    url = "https://sauvegardes.example/autonomie.snapshot"
    result = runner.invoke(snapshot_app, ["restore", url, "--oui", "--collection", "autre"])
    assert result.exit_code == 0, result.output
    assert ("recover_snapshot", "autre", url, models.SnapshotPriority.SNAPSHOT, True) in server["client"].calls
    assert server["requests"] == []


def test_server_errors_are_reported_in_french(server, tmp_path):
    backup = tmp_path / "x.snapshot"
    backup.write_bytes(b"abc")
    server["status"] = 400
    result = runner.invoke(snapshot_app, ["restore", str(backup), "--oui"])
    assert result.exit_code == 2
    assert "HTTP 400" in result.output and "Mauvaise somme de contrôle" in result.output


def test_server_list_shows_local_and_remote_snapshots(server, tmp_path):
    (tmp_path / SNAPSHOT_NAME).write_bytes(b"x")
    result = runner.invoke(snapshot_app, ["list", "--dossier", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ("list_snapshots", "autonomie") in server["client"].calls
    assert result.output.count(SNAPSHOT_NAME[:20]) == 2
    assert "2.0 Mo" in result.output


def test_read_manifest_rejects_unknown_formats(tmp_path):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = json.dumps({"format": 99}).encode()
        info = tarfile.TarInfo(snapshots.MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(snapshots.SnapshotError, match="non pris en charge"):
        snapshots.read_manifest(archive)
