"""Feedback storage and its export as evaluation questions."""

from __future__ import annotations

import csv
import io
import json

import pytest

from assistant.answering.schema import AssistantResponse, Citation
from ui.feedback import EXPORT_FIELDS, FeedbackIn, FeedbackStore


def response() -> AssistantResponse:
    cite = dict(doc_type="circulaire", territory="national", passage="Texte.", section_path="Article 1")
    return AssistantResponse(
        question="Délai APA ?", standalone_question="Délai APA ?", mode="extractif", answer="« Deux mois. » [1] [2]",
        citations=[Citation(marker=1, doc_id="nat-apa", title="Circulaire", **cite),
                   Citation(marker=2, doc_id="nat-apa", title="Circulaire", **cite),
                   Citation(marker=3, doc_id="dep13", title="RDAS", **cite)])


def test_store_and_export(tmp_path):
    store = FeedbackStore(tmp_path / "sub" / "avis.sqlite3")
    first = store.add(FeedbackIn.from_response(response(), "positif"), "alice")
    second = store.add(FeedbackIn.from_response(response(), "negatif", "source_erronee", "  Mauvais article.  "), "bruno")
    assert (first, second) == (1, 2)
    rows = store.rows()
    assert rows[1]["comment"] == "Mauvais article." and rows[1]["user"] == "bruno" and rows[1]["created_at"]
    records = [json.loads(line) for line in store.export("jsonl").splitlines()]
    assert [r["qid"] for r in records] == ["retour-00001", "retour-00002"]
    assert records[0]["gold_docs"] == ["nat-apa", "dep13"] and records[1]["gold_docs"] == []
    assert records[1]["cited_docs"] == ["nat-apa", "dep13"] and records[1]["reason"] == "source_erronee"
    table = list(csv.DictReader(io.StringIO(store.export("csv"))))
    assert tuple(table[0]) == EXPORT_FIELDS
    assert table[0]["gold_docs"] == "nat-apa ; dep13" and table[1]["gold_docs"] == ""


def test_negative_feedback_needs_a_reason(tmp_path):
    store = FeedbackStore(tmp_path / "avis.sqlite3")
    with pytest.raises(ValueError, match="raison"):
        store.add(FeedbackIn.from_response(response(), "negatif"), "alice")
    assert store.rows() == []


def test_feedback_export_comme_eval_validates_against_the_eval_schema(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.settings import get_settings
    from eval.dataset import load_dataset

    store = FeedbackStore(tmp_path / "avis.sqlite3")
    store.add(FeedbackIn.from_response(response(), "positif"), "alice")  # 👍: not a complaint, not exported
    store.add(FeedbackIn.from_response(response(), "negatif", "incomplete"), "bruno")
    abstention = response().model_copy(update={"question": "Mon NIR 1 85 05 78 006 084 36, ai-je droit à l'APA ?",
                                               "citations": [], "abstained": True})
    store.add(FeedbackIn.from_response(abstention, "negatif", "autre"), "bruno")
    monkeypatch.setenv("AUTONOMIE_UI__FEEDBACK_DB", str(tmp_path / "avis.sqlite3"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["feedback", "export", "--comme-eval", "-o", str(tmp_path / "candidats.jsonl")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "2 question(s) candidate(s)" in result.output
    questions = load_dataset(tmp_path / "candidats.jsonl")  # the evaluation's own loader validates every line
    assert [q.qid for q in questions] == ["a-revoir-retour-00002", "a-revoir-retour-00003"]
    assert questions[0].answerable and questions[0].gold_doc_ids == ["nat-apa", "dep13"]
    assert questions[0].category == "factuel" and questions[0].reference_answer is None
    assert not questions[1].answerable and questions[1].category == "hors_corpus" and not questions[1].gold_sources
    text = (tmp_path / "candidats.jsonl").read_text(encoding="utf-8")
    assert "85 05 78" not in text and "bruno" not in text and "[n° de sécurité sociale masqué]" in questions[1].question
