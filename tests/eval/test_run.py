"""End to end: a tiny corpus built in tmp, five questions through the real assistant (extractive), all
report files written, then a resumed run that reuses the saved answers."""

import csv
import json

import pytest
import typer
from typer.testing import CliRunner

from assistant.settings import get_settings
from eval.dataset import EvalQuestion
from eval.run import main, select
from tests.fixture_index import build_corpus

QUESTIONS = [
    {"qid": "t-1", "question": "À partir de quel âge peut-on avoir l'allocation personnalisée d'autonomie ?",
     "category": "factuel", "reference_answer": "À partir de 60 ans, en GIR 1 à 4.",
     "gold_sources": [{"doc_id": "nat-apa", "section": "Article 1"}], "answerable": True},
    {"qid": "t-2", "question": "Qui renseigne le volet médical du GEVA ?", "category": "geva",
     "reference_answer": "Le médecin de l'équipe pluridisciplinaire de la MDPH.",
     "gold_sources": [{"doc_id": "geva", "section": "Volet 5"}], "answerable": True},
    {"qid": "t-3", "question": "Dans le Nord, quel objectif interne pour notifier une décision d'APA ?",
     "category": "pratique_territoriale", "reference_answer": "45 jours après le dossier complet.",
     "gold_sources": [{"doc_id": "dep59-guide", "section": "Question 1"}], "territories": ["59"], "answerable": True},
    {"qid": "t-4", "question": "Comparez le délai d'instruction de l'APA dans le Nord et les Bouches-du-Rhône.",
     "category": "comparaison", "reference_answer": "National : deux mois. Nord : 45 jours. Bouches-du-Rhône : trois mois.",
     "gold_sources": [{"doc_id": "nat-apa", "section": "Article 2"}, {"doc_id": "dep59-guide", "section": "Question 1"},
                      {"doc_id": "dep13-rdas", "section": "Article 2.1"}],
     "territories": ["59", "13"], "expected_status": {"59": "divergent", "13": "contraire"}, "answerable": True},
    {"qid": "t-5", "question": "Et dans les Bouches-du-Rhône ?", "category": "suivi",
     "reference_answer": "Trois mois à compter du dépôt.", "territories": ["13"],
     "gold_sources": [{"doc_id": "dep13-rdas", "section": "Article 2.1"}], "answerable": True,
     "history": [{"role": "user", "content": "Quel est le délai de décision pour l'APA ?"},
                 {"role": "assistant", "content": "Deux mois à compter du dossier complet."}]},
    {"qid": "t-6", "question": "Comment renouveler un passeport ?", "category": "hors_corpus",
     "reference_answer": "Hors corpus.", "answerable": False},
]


def test_select_is_stratified_and_reproducible():
    questions = [EvalQuestion.model_validate(q) for q in QUESTIONS]
    first = select(questions, 5, seed=3)
    assert len(first) == 5 and len({q.category for q in first}) == 5
    assert [q.qid for q in first] == [q.qid for q in select(questions, 5, seed=3)]
    assert select(questions, None, 0) == questions


@pytest.fixture
def app(tmp_path, monkeypatch):
    """``eval.run``'s command, its index, cache and reports under ``tmp_path``, no LLM judge."""
    monkeypatch.setenv("AUTONOMIE_EVAL__QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.setenv("AUTONOMIE_EVAL__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTONOMIE_EVAL__REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("AUTONOMIE_EVAL__JUDGE_BASE_URL", raising=False)
    get_settings.cache_clear()
    command = typer.Typer()
    command.command()(main)
    yield command
    get_settings.cache_clear()


@pytest.mark.slow
def test_small_run_writes_every_report_file_then_resumes(tmp_path, app):
    corpus = build_corpus(tmp_path / "corpus")
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS), encoding="utf-8")
    report = tmp_path / "reports" / "run-1"
    args = ["--dataset", str(dataset), "--corpus", str(corpus), "--limit", "5", "--mode", "extractif"]
    result = CliRunner().invoke(app, [*args, "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert "## Évaluation « questions »" in result.stdout

    for name in ("results.json", "questions.csv", "export.jsonl", "report.html"):
        assert (report / name).stat().st_size > 0, name
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert len(results["questions"]) == 5 and not results["summary"]["errors"]
    assert results["meta"]["collection"] == "eval-corpus" and results["meta"]["documents"] == 6
    metrics = results["summary"]["metrics"]
    for name in ("recall@5", "mrr@10", "ndcg@10", "section_hit@10", "citation_precision", "latency_p50_s"):
        assert metrics[name]["status"] == "mesure", name
    assert metrics["faithfulness"]["status"] == "non_mesure" and metrics["faithfulness"]["value"] is None
    assert all(q["response"]["mode"] == "extractif" for q in results["questions"])
    by_qid = {q["qid"]: q for q in results["questions"]}
    if "t-3" in by_qid:  # a restricted dep-59 document, visible to an agent of the Nord
        assert by_qid["t-3"]["metrics"]["recall@5"] == 1.0
    if "t-4" in by_qid:
        assert set(by_qid["t-4"]["response"]["comparison"]) == {"59", "13"}

    lines = (report / "export.jsonl").read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    assert len(exported) == 5
    assert {"query", "answer", "contexts", "reference", "metrics"} <= set(exported[0])
    with (report / "questions.csv").open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 5
    page = (report / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 3 and "src='http" not in page and "non mesuré" in page

    # Resume: saved answers are reused, not recomputed.
    saved = next((report / "questions").glob("*.json"))
    record = json.loads(saved.read_text(encoding="utf-8"))
    record["response"]["answer"] = "RÉPONSE SAUVEGARDÉE"
    saved.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, [*args, "--resume", str(report)])
    assert result.exit_code == 0, result.output
    resumed = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert "RÉPONSE SAUVEGARDÉE" in [q["response"]["answer"] for q in resumed["questions"]]
    assert resumed["meta"]["created"] == results["meta"]["created"]


def test_sans_source_excludes_the_gold_documents_and_scores_as_unanswerable():
    from eval.runner import search_filter, without_sources

    question = EvalQuestion.model_validate(QUESTIONS[2])  # dep59-guide, territory 59
    flt = search_filter(question, without_sources=True)
    assert flt.exclude_doc_ids == ("dep59-guide",) and flt.groups == ("dep-59",) and flt.territories == ("59",)
    assert ("none", "doc_id", ("dep59-guide",)) in flt.clauses()
    assert search_filter(question).exclude_doc_ids == ()
    unanswerable = without_sources(question)
    assert not unanswerable.answerable and unanswerable.gold_sources == [] and unanswerable.reference_answer is None


@pytest.mark.slow
def test_off_domain_run_keeps_other_public_services_as_unanswerable(tmp_path, app):
    corpus = build_corpus(tmp_path / "corpus")
    questions = tmp_path / "questions-dev.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"qid": "F1", "question": "Comment renouveler un passeport ?", "gold_doc": "F1"},
        {"qid": "F2", "question": "Qui peut bénéficier de l'APA ?", "gold_doc": "F2"},
        {"qid": "F3", "question": "Comment contester une amende de stationnement ?", "gold_doc": "F3"},
    ]), encoding="utf-8")
    fiches = tmp_path / "fiches.jsonl"
    fiches.write_text("\n".join(json.dumps({"id": f"F{i}", "text": "Démarches administratives."}) for i in (1, 2, 3)),
                      encoding="utf-8")
    report = tmp_path / "reports" / "off"
    args = ["--dataset", str(questions), "--corpus", str(corpus), "--mode", "extractif"]
    refused = CliRunner().invoke(app, [*args, "--sans-source", "--hors-domaine", str(fiches)])
    assert refused.exit_code == 2 and "ne se combinent pas" in refused.output
    result = CliRunner().invoke(app, [*args, "--hors-domaine", str(fiches), "--out", str(report)])
    assert result.exit_code == 0, result.output
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert results["meta"]["variant"] == "hors_domaine"
    assert [q["qid"] for q in results["questions"]] == ["F1", "F3"]  # the APA question is the corpus's domain
    assert all(not q["answerable"] and q["category"] == "hors_corpus" for q in results["questions"])
    assert results["summary"]["metrics"]["abstention_recall"]["n"] == 2
