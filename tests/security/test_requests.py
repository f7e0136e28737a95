"""Malformed, oversized and fake requests: every refusal is ``{"detail": "<message en français>"}``, never
echoes what was sent, leaves nothing behind; uploads never reveal a server path."""

from __future__ import annotations

import json

import pytest

from assistant.answering.schema import Citation
from tests.ui.conftest import finished_job
from ui import render

APA_QUESTION = "Quel est le délai de notification de la décision d'APA ?"
ENGLISH = ("Not Found", "Method Not Allowed", "Field required", "field required", "Input should", "String should",
           "value_error", "JSON decode", "Unprocessable", "There was an error", "Request Entity")
GUIDE = "# Guide de l'accueil de jour\n\nLa participation journalière à l'accueil de jour est plafonnée à vingt-deux euros.\n"


def assert_french_refusal(response, status: int, *, not_echoed: str = "") -> str:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    detail = body["detail"]
    assert not any(word in detail for word in ENGLISH), detail
    if not_echoed:
        assert not_echoed not in response.text
    return detail


def test_a_20000_character_question_is_refused_without_being_echoed(client):
    question = "Quel est le délai de l'APA " + "x" * 20_000
    detail = assert_french_refusal(client.post("/api/ask", json={"question": question}), 422, not_echoed="x" * 200)
    assert "question" in detail and "10000 caractères au plus" in detail
    assert len(client.post("/api/ask", json={"question": question}).content) < 500


@pytest.mark.parametrize("method, path, kwargs, status, fragment", [
    ("post", "/api/ask", {"content": b'{"question": "APA", ', "headers": {"content-type": "application/json"}}, 422, "JSON invalide"),
    ("post", "/api/ask", {"json": {}}, 422, "champ obligatoire"),
    ("post", "/api/ask", {"json": {"question": APA_QUESTION, "mode": "poetique-secret"}}, 422, "valeur non autorisée"),
    ("post", "/api/ask", {"json": {"question": APA_QUESTION, "territoires": "59"}}, 422, "liste attendue"),
    ("post", "/api/ask", {"json": ["question"]}, 422, "objet JSON attendu"),
    ("post", "/api/compare", {"json": {"question": APA_QUESTION, "territoires": []}}, 422, "élément(s) au moins"),
    ("post", "/api/feedback", {"json": {"rating": "positif", "question": "q", "answer": "a", "comment": "c" * 4001}}, 422,
     "4000 caractères au plus"),
    ("post", "/v1/chat/completions", {"json": {"messages": "salut-secret"}}, 422, "messages"),
    ("get", "/api/inexistant-secret", {}, 404, "Adresse inconnue"),
    ("get", "/v1/inexistant-secret", {}, 404, "Adresse inconnue"),
    ("get", "/api/ask", {}, 405, "non autorisée"),
    ("delete", "/api/documents/nat-fiche-pch", {}, 405, "non autorisée"),
    ("get", "/api/feedback/export?format=xml-secret", {}, 422, "valeur non autorisée"),
    ("post", "/api/ask", {"content": b'{"question": "' + b"y" * 400_000 + b'"}',
                          "headers": {"content-type": "application/json"}}, 413, "trop volumineuse"),
])
def test_malformed_requests_get_one_french_format(client, method, path, kwargs, status, fragment):
    response = getattr(client, method)(path, **kwargs)
    detail = assert_french_refusal(response, status, not_echoed="secret")
    assert fragment in detail, detail
    assert "y" * 100 not in response.text


def test_fake_pdf_and_word_uploads_are_refused_and_leave_nothing(upload_client, tmp_path):
    client = upload_client()
    uploads = tmp_path / "uploads"
    for name, data in (("rapport.pdf", b"Ceci n'est pas un PDF mais du texte."),
                       ("note.docx", b"<html>pas un document Word</html>"),
                       ("casse.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF garbage")):
        r = client.post("/api/documents", files={"files": (name, data, "application/octet-stream")})
        detail = assert_french_refusal(r, 415 if name != "casse.pdf" else 422)
        assert name in detail
        assert not [p for p in uploads.rglob("*") if p.is_file()], list(uploads.rglob("*"))
    # A valid file next to a fake one: the batch is refused, nothing is stored.
    r = client.post("/api/documents", files=[("files", ("guide.md", GUIDE.encode(), "text/markdown")),
                                             ("files", ("faux.pdf", b"pas un pdf", "application/pdf"))])
    assert_french_refusal(r, 415)
    assert not [p for p in uploads.rglob("*") if p.is_file()]
    assert all(d["doc_id"] != "guide.md" for d in client.get("/api/documents").json()["documents"])


def test_failed_upload_in_the_background_says_echec(upload_client, tmp_path):
    client = upload_client()
    r = client.post("/api/documents", data={"attendre": "false"},
                    files={"files": ("casse.pdf", b"%PDF-1.4\n%%EOF not really", "application/pdf")})
    assert r.status_code == 202
    job = finished_job(client, r.json()["id"])
    assert job["state"] == "echec" and "casse.pdf" in job["error"]
    assert not [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]


def test_uploaded_documents_never_show_a_server_path(upload_client, tmp_path):
    client = upload_client()
    r = client.post("/api/documents", data={"type": "pratique_territoriale", "territoire": "35"},
                    files={"files": ("guide-accueil.md", GUIDE.encode(), "text/markdown")})
    assert r.status_code == 200, r.text
    leaked = str(tmp_path)
    assert leaked not in r.text
    documents = client.get("/api/documents").json()["documents"]
    uploaded = next(d for d in documents if d["doc_id"].endswith("guide-accueil.md"))
    assert uploaded["doc_id"] == "uploads/local/guide-accueil.md", uploaded
    assert not uploaded["source_file"].startswith("/") and leaked not in json.dumps(documents)
    opened = client.get(f"/api/documents/{uploaded['doc_id']}")
    assert opened.status_code == 200 and leaked not in opened.text
    answer = client.post("/api/ask", json={"question": "Quel est le plafond de participation à l'accueil de jour ?",
                                           "mode": "extractif", "territoires": ["35"]})
    assert answer.status_code == 200 and leaked not in answer.text
    citation = next(c for c in answer.json()["citations"] if c["doc_id"] == uploaded["doc_id"])
    panel = render.source_panel(Citation(**citation))
    assert "<dt>Fichier</dt><dd>guide-accueil.md</dd>" in panel
    assert "guide-accueil.md" in render.document_html(opened.json()) and "uploads/" not in render.document_html(opened.json())


def test_the_file_line_shows_a_name_even_for_an_old_absolute_source():
    citation = Citation(marker=1, doc_id="x", title="Guide", doc_type="fiche", territory="national", passage="Texte.",
                        source_file="/srv/autonomie/.cache/uploads/alice/guide.pdf")
    assert "<dd>guide.pdf</dd>" in render.source_panel(citation) and "/srv" not in render.source_panel(citation)


def test_health_without_authentication_shows_no_absolute_path(client):
    text = client.get("/health").text
    assert '"/' not in text, text
