"""Personal data typed by users (questions, feedback comments) never lands in clear in a store, an export
or a log; retention and the right to erasure delete it for good; a question carrying personal data is
answered like the same question without it."""

from __future__ import annotations

import datetime as dt
import io
import logging
import sqlite3

import pytest
import typer
from typer.testing import CliRunner

from assistant.answering.schema import AssistantResponse
from tests.security.conftest import EMAIL, NIR, PHONE, pii_found
from ui.feedback import FeedbackIn, FeedbackStore

APA_QUESTION = "Quel est le délai de notification de la décision d'APA ?"
PII_SENTENCE = f"Mon NIR est {NIR}, écrivez-moi à {EMAIL} ou au {PHONE}."


def feedback_files(folder):
    return sorted(folder.glob("feedback-*.sqlite3*"))


def test_feedback_posted_to_the_api_is_stored_and_exported_masked(make_client, tmp_path):
    client = make_client()
    answer = client.post("/api/ask", json={"question": f"{APA_QUESTION} {PII_SENTENCE}", "mode": "extractif"}).json()
    body = {"rating": "negatif", "reason": "autre", "comment": f"Réponse incomplète. {PII_SENTENCE}",
            "question": f"{APA_QUESTION} Mon NIR : {NIR}", "answer": f"{answer['answer']} Contact : {EMAIL}",
            "mode": answer["mode"], "citations": answer["citations"]}
    assert client.post("/api/feedback", json=body).status_code == 200
    exports = [client.get(f"/api/feedback/export?format={fmt}").text for fmt in ("jsonl", "csv")]
    for text in exports:
        assert NIR not in text and EMAIL not in text and PHONE not in text, text
        assert "[n° de sécurité sociale masqué]" in text and "[courriel masqué]" in text
    assert pii_found(*feedback_files(tmp_path)) == []
    rows = sqlite3.connect(feedback_files(tmp_path)[0]).execute("SELECT comment, question, answer FROM feedback").fetchall()
    assert rows and all("masqué" in value for value in rows[0])


def test_feedback_typed_in_the_chat_is_stored_masked(make_client, tmp_path):
    """The chat's « Envoyer l'avis » goes through FeedbackIn.from_response and AssistantApplication.add_feedback."""
    client = make_client()
    backend = client.app.state.backend
    response = AssistantResponse(question=f"Délai APA pour {EMAIL} ?", standalone_question="Délai APA ?", mode="extractif",
                                 answer="« Deux mois. » [1]")
    user = client.app.state.auth.anonymous()
    backend.add_feedback(user, FeedbackIn.from_response(response, "negatif", "autre", f"Appelez-moi au {PHONE}, NIR {NIR}"))
    assert pii_found(*feedback_files(tmp_path)) == []
    assert EMAIL not in backend.feedback.export("jsonl")


def test_rows_stored_by_an_older_version_are_masked_when_the_store_opens(tmp_path):
    path = tmp_path / "ancien.sqlite3"
    FeedbackStore(path)
    with sqlite3.connect(path) as db:  # as version 0.1 wrote them: in clear
        db.execute("INSERT INTO feedback (created_at, user, rating, reason, comment, question, answer, mode, abstained, "
                   "citations) VALUES (?, 'alice', 'positif', NULL, ?, ?, 'ok', 'extractif', 0, '[]')",
                   (dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), f"Tél. {PHONE}", f"NIR {NIR} : APA ?"))
    assert pii_found(path, path.with_name(path.name + "-wal"))  # the probe: in clear on disk
    store = FeedbackStore(path)
    assert pii_found(*tmp_path.glob("ancien.sqlite3*")) == []
    assert store.rows()[0]["question"] == "NIR [n° de sécurité sociale masqué] : APA ?"


def test_retention_and_erasure_delete_for_good(tmp_path, monkeypatch):
    from assistant.cli.feedback import purge

    path = tmp_path / "avis.sqlite3"
    store = FeedbackStore(path)
    old = dt.datetime(2024, 1, 15, tzinfo=dt.timezone.utc)
    with sqlite3.connect(path) as db:
        for created, user, comment in ((old, "alice", "ancien avis confidentiel-alpha"), (old, "bruno", "ancien avis confidentiel-beta")):
            db.execute("INSERT INTO feedback (created_at, user, rating, reason, comment, question, answer, mode, abstained, "
                       "citations) VALUES (?, ?, 'positif', NULL, ?, 'q', 'a', 'extractif', 0, '[]')",
                       (created.isoformat(timespec="seconds"), user, comment))
    store.add(FeedbackIn(rating="positif", question="Délai APA ?", answer="Deux mois.", comment="récent confidentiel-gamma"), "alice")
    store.add(FeedbackIn(rating="positif", question="Délai PCH ?", answer="Quatre mois.", comment="récent confidentiel-delta"), "bruno")
    # Retention: a store opened with a 365-day period deletes what is older.
    store = FeedbackStore(path, retention_days=365)
    assert sorted(r["comment"] for r in store.rows()) == ["récent confidentiel-delta", "récent confidentiel-gamma"]
    # Right to erasure, from the command line: everything alice gave.
    monkeypatch.setenv("AUTONOMIE_UI__FEEDBACK_DB", str(path))
    from assistant.settings import get_settings

    get_settings.cache_clear()
    app = typer.Typer()
    app.command()(purge)
    try:
        result = CliRunner().invoke(app, ["--utilisateur", "alice", "--simulation"])
        assert result.exit_code == 0 and "1 avis" in result.output and len(store.rows()) == 2
        result = CliRunner().invoke(app, ["--utilisateur", "alice", "--oui"])
        assert result.exit_code == 0, result.output
        assert "1 avis" in result.output and [r["user"] for r in store.rows()] == ["bruno"]
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        result = CliRunner().invoke(app, ["--avant", tomorrow, "--oui"])
        assert result.exit_code == 0 and store.rows() == []
        bad = CliRunner().invoke(app, ["--avant", "31/01/2025"])
        assert bad.exit_code == 2 and "AAAA-MM-JJ" in bad.output
    finally:
        get_settings.cache_clear()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("avis.sqlite3*"))
    for secret in (b"confidentiel-alpha", b"confidentiel-beta", b"confidentiel-gamma", b"confidentiel-delta"):
        assert secret not in on_disk  # deleted, not merely unlinked from the table


def test_logs_mask_personal_data():
    from ui.server import PersonalDataLogFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataLogFilter())
    logger = logging.getLogger("tests.securite.journal")
    logger.addHandler(handler)
    try:
        logger.warning("Question reçue : %s", PII_SENTENCE)
        try:
            raise ValueError(f"question illisible : {EMAIL}")
        except ValueError:
            logger.exception("échec")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert NIR not in text and EMAIL not in text and PHONE not in text, text
    assert "[courriel masqué]" in text and "ValueError" in text


def test_personal_data_in_a_question_does_not_turn_an_answer_into_an_abstention(client):
    """Probe: the same question, with or without « Mon NIR est … », must be answered alike."""
    plain = client.post("/api/ask", json={"question": APA_QUESTION, "mode": "extractif"}).json()
    assert not plain["abstained"]
    for prefix in (f"Mon NIR est {NIR}.", f"Mon courriel est {EMAIL} et mon numéro {PHONE} :", f"Pour M. Dupont ({NIR}),"):
        masked = client.post("/api/ask", json={"question": f"{prefix} {APA_QUESTION}", "mode": "extractif"}).json()
        assert not masked["abstained"], (prefix, masked["answer"])
        assert masked["pii_masked"] and {c["doc_id"] for c in masked["citations"]} == {c["doc_id"] for c in plain["citations"]}
        assert NIR not in masked["question"] and "masqué" not in masked["standalone_question"]
