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
