"""Usage events and the committee's figures, from a seeded event log: values checked, no personal data."""

from __future__ import annotations

import csv
import datetime as dt
import io

from typer.testing import CliRunner

from assistant.answering.schema import AssistantResponse, Citation
from ui.feedback import FeedbackIn, FeedbackStore
from ui.usage import UsageStore, departement_of, figures

QUESTION = "Mme Durand, NIR 1 85 05 78 006 084 36, a-t-elle droit à l'APA ?"


def _response(mode="extractif", abstained=False, confidence="élevée", glossary=(), types=("circulaire",), steps=None):
    cites = [Citation(marker=i + 1, doc_id=f"d{i}", title="T", doc_type=t, territory="national", passage="p")
             for i, t in enumerate(types)]
    return AssistantResponse(question=QUESTION, standalone_question=QUESTION, mode=mode, answer="r", citations=cites,
                             abstained=abstained, confidence=confidence, glossary_added=list(glossary),
                             timings=steps or {"retrieve": 0.2, "answer": 0.5})


def _seed(path) -> None:
    store = UsageStore(path)
    day1, day2 = dt.datetime(2025, 3, 3, 9, tzinfo=dt.timezone.utc), dt.datetime(2025, 3, 4, 9, tzinfo=dt.timezone.utc)
    store.record(_response(glossary=["APA"]), ("dep-59", "televersement"), "question", "interface", 1.0, day1)
    store.record(_response(confidence="moyenne", glossary=["APA", "GIR"], types=("fiche", "circulaire")),
                 ("dep-59",), "question", "api", 2.0, day1)
    store.record(_response(abstained=True, confidence="faible", types=()), ("equipe-alice",), "question", "interface", 3.0, day2)
    store.record(_response(mode="generatif", steps={"retrieve": 0.1, "generate": 4.0}), ("dep-13",), "comparaison",
                 "interface", 6.0, day2)
    feedback = FeedbackStore(path)
    feedback.add(FeedbackIn.from_response(_response(), "positif"), "alice")
    feedback.add(FeedbackIn.from_response(_response(), "negatif", "incomplete", "Appelez-moi au 06 12 34 56 78"), "bruno")
    feedback.add(FeedbackIn.from_response(_response(), "negatif", "incomplete"), "bruno")


def test_figures_from_a_seeded_event_log(tmp_path):
    path = tmp_path / "avis.sqlite3"
    _seed(path)
    data = figures(UsageStore(path).events(), FeedbackStore(path).rows())
    assert data["questions"] == 4
    assert data["par_jour"] == {"2025-03-03": {"questions": 2, "abstentions": 0, "prudence": 1},
                                "2025-03-04": {"questions": 2, "abstentions": 1, "prudence": 0}}
    assert data["par_departement"] == {"59": 2, "autre": 1, "13": 1}
    assert data["par_mode"] == {"extractif": 3, "generatif": 1} and data["par_canal"] == {"interface": 3, "api": 1}
    assert data["taux_abstention"] == 0.25 and data["taux_prudence"] == 0.25
    assert data["latence_p50_ms"] == 2500 and data["latence_p95_ms"] == 6000
    assert data["termes_glossaire"] == {"APA": 2, "GIR": 1}
    assert data["types_cites"] == {"circulaire": 3, "fiche": 1}
    assert list(data["etapes_lentes"]) == ["generate", "answer", "retrieve"] and data["etapes_lentes"]["generate"] == 4.0
    assert data["etapes_lentes"]["retrieve"] == round((0.2 * 3 + 0.1) / 4, 3)
    assert data["avis"] == {"positif": 1, "negatif": 2} and data["raisons_avis_negatifs"] == {"incomplete": 2}
    assert data["taux_satisfaction"] == round(1 / 3, 4)
    assert figures(UsageStore(path).events(since=dt.date(2025, 3, 4)), [])["questions"] == 2
    timed = [{**e, "steps": {**e["steps"], "total": 9.0}} for e in UsageStore(path).events()]
    assert "total" not in figures(timed, [])["etapes_lentes"]  # the latency is reported apart, not as a step


def test_events_hold_no_personal_data_unless_allowed_then_masked(tmp_path):
    path = tmp_path / "avis.sqlite3"
    _seed(path)
    assert departement_of(("equipe-alice",)) == "autre" and departement_of(("dep-2a", "dep-59")) == "2A,59"
    raw = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes() if path.with_name(path.name + "-wal").exists() else b"")
    assert b"Durand" not in raw and b"85 05 78" not in raw and b"06 12 34" not in raw  # nothing in clear on disk
    events = UsageStore(path).events()
    assert all(e["question"] is None for e in events)
    assert "alice" not in str(events) and "Durand" not in str(events)
    allowed = UsageStore(path, keep_questions=True)
    allowed.record(_response(), ("dep-59",), "question", "api", 1.0)
    kept = allowed.events()[-1]["question"]
    assert kept and "85 05 78" not in kept and "Durand" not in kept


def test_usage_command_html_and_csv(tmp_path, monkeypatch):
    from assistant.cli import app
    from assistant.settings import get_settings

    path = tmp_path / "avis.sqlite3"
    _seed(path)
    monkeypatch.setenv("AUTONOMIE_UI__FEEDBACK_DB", str(path))
    get_settings.cache_clear()
    try:
        html = CliRunner().invoke(app, ["usage", "--format", "html"])
        table = CliRunner().invoke(app, ["usage", "--format", "csv", "--depuis", "2025-03-04"])
        bad = CliRunner().invoke(app, ["usage", "--depuis", "hier"])
    finally:
        get_settings.cache_clear()
    assert html.exit_code == 0, html.output
    page = html.stdout
    assert "<svg" in page and "Abstention : <strong>25,0 %</strong>" in page and "Latence médiane : <strong>2500 ms" in page
    assert "Avis 👍 / 👎 : <strong>1 / 2</strong>" in page and "<th scope='row'>59</th><td>2</td>" in page
    for personal in ("Durand", "85 05 78", "06 12 34", "alice", "bruno", "Appelez"):
        assert personal not in page
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert rows == [{"jour": "2025-03-04", "questions": "2", "abstentions": "1", "prudence": "0", "latence_p50_ms": "4500",
                     "avis_positifs": "0", "avis_negatifs": "0"}]
    assert bad.exit_code == 2 and "date invalide" in bad.output


def test_retention_deletes_old_events(tmp_path):
    path = tmp_path / "avis.sqlite3"
    _seed(path)
    assert UsageStore(path).purge(dt.date(2025, 3, 4)) == 2
    assert [e["created_at"][:10] for e in UsageStore(path).events()] == ["2025-03-04", "2025-03-04"]
