"""Uploads are ingested by the server itself, into the index it owns (own temporary index here)."""

from __future__ import annotations


import pytest
from fastapi.testclient import TestClient

from assistant.services import Services
from tests.conftest import make_settings
from tests.ui.conftest import finished_job, free_port
from ui.server import create_app

GUIDE = """# Guide de l'accueil de jour en Ille-et-Vilaine

## Article 4 — Participation

En Ille-et-Vilaine, la participation journalière à l'accueil de jour des personnes âgées est plafonnée à vingt-deux euros.
Le transport vers l'accueil de jour est pris en charge par le département.
"""


def test_upload_is_indexed_and_answerable(upload_client, tmp_path):
    client = upload_client()
    assert client.get("/health").json()["index"]["documents"] == 0
    r = client.post("/api/documents", data={"type": "pratique_territoriale", "territoire": "35"},
                    files=[("files", ("guide-accueil-de-jour.md", GUIDE.encode(), "text/markdown")),
                           ("files", ("vide.txt", b"", "text/plain"))])
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] == "termine"
    files = {f["path"]: f for f in job["report"]["files"]}
    assert files["guide-accueil-de-jour.md"]["written"] == 1 and not files["guide-accueil-de-jour.md"]["error"]
    assert "vide" in files["vide.txt"]["error"]  # per-file error summary, the rest is indexed
    assert job["report"]["failed"] == 1
    assert (tmp_path / "uploads" / "local" / "guide-accueil-de-jour.md").exists()

    assert client.get("/health").json()["index"] == {"passages_by_type": {"pratique_territoriale": 1}, "documents": 1}
    docs = client.get("/api/documents").json()["documents"]
    assert [(d["doc_type"], d["territory"], d["visibility"]) for d in docs] == [("pratique_territoriale", "35", ["public"])]
    answer = client.post("/api/ask", json={"question": "Quel est le plafond de participation à l'accueil de jour en Ille-et-Vilaine ?",
                                           "mode": "extractif", "territoires": ["35"]}).json()
    assert "vingt-deux euros" in answer["answer"]
    assert 'autonomie_ingestion_jobs_total{state="erreurs"} 1.0' in client.get("/metrics").text


def test_upload_progress_can_be_followed(upload_client):
    client = upload_client()
    r = client.post("/api/documents", data={"attendre": "false"},
                    files={"files": ("guide.md", GUIDE.encode(), "text/markdown")})
    assert r.status_code == 202
    job = finished_job(client, r.json()["id"])
    assert job["state"] == "termine" and job["files_done"] == 1 and job["written"] == job["to_write"] == 1
    assert client.get("/api/uploads/inconnu").status_code == 404


@pytest.mark.parametrize("ui, data, filename, status, fragment", [
    ({}, {}, "programme.exe", 415, "format non pris en charge"),
    ({"max_upload_mb": 0.0001}, {}, "guide.md", 413, "taille maximale"),
    ({}, {"visibilite": "dep-59"}, "guide.md", 403, "vos propres groupes"),
    ({}, {"territoire": "999"}, "guide.md", 422, "Département inconnu"),
    ({"anonymous_upload": False}, {}, "guide.md", 403, "pas autorisé"),
])
def test_upload_refusals(upload_client, ui, data, filename, status, fragment):
    client = upload_client(**ui)
    r = client.post("/api/documents", data=data, files={"files": (filename, GUIDE.encode(), "text/plain")})
    assert r.status_code == status
    assert fragment in r.json()["detail"]
    assert client.get("/api/documents").json()["total"] == 0


def test_health_is_503_when_the_index_fails(tmp_path, embedder):
    """A real store that stops answering (here: the embedded client closed under the server)."""
    settings = make_settings(tmp_path, llm={"base_url": f"http://127.0.0.1:{free_port()}/v1", "max_retries": 0})
    settings = settings.model_copy(update={
        "qdrant": settings.qdrant.model_copy(update={"embedded_engine": "local"}),
        "ui": settings.ui.model_copy(update={"feedback_db": tmp_path / "avis.sqlite3"})})
    services = Services(settings)
    services.__dict__["embedder"] = embedder
    with TestClient(create_app(services, settings)) as client:
        assert client.get("/health").status_code == 200
        services.store.close()
        r = client.get("/health")
    assert r.status_code == 503
    assert r.json()["qdrant"]["ok"] is False and "closed" in r.json()["qdrant"]["error"]
