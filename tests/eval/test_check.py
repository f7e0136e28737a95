"""The quality gate: fails on a planted regression, passes otherwise, never passes "non mesuré" silently."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from eval.check import ThresholdError, evaluate_gate, load_thresholds, main

RULES_YAML = """
version: 1
metrics:
  recall@5: {min: 0.6, max_drop: 0.05}
  faithfulness: {min: 0.7}
  latency_p95_s: {max: 20, max_rise: 5}
datasets:
  petit-jeu:
    metrics:
      recall@5: {min: 0.9}
  reel/sans-source:
    metrics:
      recall@5: {min: 0.05}
  reel/hors-domaine:
    metrics:
      recall@5: {min: 0.0}
"""


def _summary(recall=0.8, latency=10.0, faithfulness=None, errors=()):
    judge = ({"value": faithfulness, "n": 3, "status": "mesure", "reason": ""} if faithfulness is not None
             else {"value": None, "n": 0, "status": "non_mesure", "reason": "aucun juge LLM configuré (eval.judge_base_url)"})
    return {"metrics": {"recall@5": {"value": recall, "n": 10, "status": "mesure", "reason": ""},
                        "latency_p95_s": {"value": latency, "n": 10, "status": "mesure", "reason": ""},
                        "faithfulness": judge},
            "per_category": {}, "steps": {}, "questions": 10, "errors": list(errors), "modes": {"extractif": 10}}


def _report(root: Path, name: str, created: str, summary: dict, dataset="demo-questions", mode="extractif",
            variant="tel_quel") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    meta = {"created": created, "dataset_name": dataset, "corpus_name": "corpus", "mode": mode, "variant": variant}
    (folder / "results.json").write_text(json.dumps({"meta": meta, "summary": summary, "questions": []}), encoding="utf-8")
    return folder


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "thresholds.yaml"
    path.write_text(RULES_YAML, encoding="utf-8")
    return path


def test_passes_when_within_thresholds(rules):
    verdicts = evaluate_gate(_summary(), _summary(recall=0.82, latency=9), load_thresholds(rules, "demo-questions"))
    assert [v.ok for v in verdicts] == [True, None, True]


def test_planted_regression_fails_even_above_the_minimum(rules):
    verdicts = evaluate_gate(_summary(recall=0.70), _summary(recall=0.80), load_thresholds(rules, "demo-questions"))
    recall = next(v for v in verdicts if v.metric == "recall@5")
    assert recall.ok is False and "baisse permise" in recall.message


def test_below_minimum_and_latency_rise_fail(rules):
    verdicts = {v.metric: v for v in evaluate_gate(_summary(recall=0.5, latency=30), _summary(latency=10),
                                                   load_thresholds(rules, "demo-questions"))}
    assert verdicts["recall@5"].ok is False and "seuil minimal" in verdicts["recall@5"].message
    assert verdicts["latency_p95_s"].ok is False and "seuil maximal" in verdicts["latency_p95_s"].message


def test_not_measured_is_skipped_not_passed(rules):
    verdicts = {v.metric: v for v in evaluate_gate(_summary(), None, load_thresholds(rules, "demo-questions"))}
    assert verdicts["faithfulness"].ok is None
    assert "non mesurée" in verdicts["faithfulness"].message
    assert "pas de valeur de référence" in verdicts["recall@5"].message


def test_dataset_specific_thresholds_override(rules):
    assert load_thresholds(rules, "petit-jeu")["recall@5"] == {"min": 0.9}


def test_invalid_thresholds_are_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  rappel: {min: 0.5}\n", encoding="utf-8")
    with pytest.raises(ThresholdError, match="métrique inconnue"):
        load_thresholds(bad, "x")
    bad.write_text("metrics:\n  recall@5: {minimum: 0.5}\n", encoding="utf-8")
    with pytest.raises(ThresholdError, match="règle invalide"):
        load_thresholds(bad, "x")


def _cli(args):
    app = typer.Typer()
    app.command()(main)
    return CliRunner().invoke(app, args)


def test_cli_exit_codes_and_french_explanation(tmp_path, rules):
    root = tmp_path / "reports"
    _report(root, "20250101-000000", "2025-01-01T00:00:00", _summary(recall=0.80))
    current = _report(root, "20250102-000000", "2025-01-02T00:00:00", _summary(recall=0.81))
    result = _cli(["--report", str(current), "--thresholds", str(rules)])
    assert result.exit_code == 0, result.output
    assert "RÉUSSI" in result.output and "faithfulness" in result.output and "ne comptent pas comme réussies" in result.output

    regressed = _report(root, "20250103-000000", "2025-01-03T00:00:00", _summary(recall=0.70))
    result = _cli(["--report", str(regressed), "--thresholds", str(rules)])
    assert result.exit_code == 1
    assert "ÉCHEC" in result.output and "recall@5" in result.output and "20250102-000000" in result.output


def test_cli_fails_on_question_errors(tmp_path, rules):
    current = _report(tmp_path, "r", "2025-01-02T00:00:00", _summary(errors=["demo-001"]))
    result = _cli(["--report", str(current), "--thresholds", str(rules)])
    assert result.exit_code == 1 and "demo-001" in result.output


def test_cli_without_report(tmp_path, rules):
    result = _cli(["--report", str(tmp_path / "absent"), "--thresholds", str(rules)])
    assert result.exit_code == 2 and "make eval" in result.output


def test_default_report_is_the_latest_of_the_checked_mode(tmp_path, rules, monkeypatch):
    root = tmp_path / "reports"
    _report(root, "20250101-000000", "2025-01-01T00:00:00", _summary(recall=0.80))
    _report(root, "20250102-000000", "2025-01-02T00:00:00", _summary(recall=0.10), mode="generatif")
    monkeypatch.setenv("AUTONOMIE_EVAL__REPORTS_DIR", str(root))
    from assistant.settings import get_settings

    get_settings.cache_clear()
    try:
        extractive = _cli(["--thresholds", str(rules)])
        generative = _cli(["--thresholds", str(rules), "--mode", "generatif"])
    finally:
        get_settings.cache_clear()
    assert extractive.exit_code == 0 and "20250101-000000" in extractive.output, extractive.output
    assert generative.exit_code == 1 and "mode « generatif »" in generative.output


def test_default_check_covers_the_latest_run_of_every_set_and_variant(tmp_path, rules, monkeypatch):
    """make eval runs the demo set and the real ones (as asked, without their sources, off a corpus's domain):
    make eval-check gates the latest run of each; each variant has thresholds of its own."""
    root = tmp_path / "reports"
    _report(root, "20250101-000000", "2025-01-01T00:00:00", _summary(recall=0.10))  # superseded below
    _report(root, "20250102-000000", "2025-01-02T00:00:00", _summary(recall=0.80))
    _report(root, "20250103-000000", "2025-01-03T00:00:00", _summary(recall=0.70), dataset="reel")
    _report(root, "20250104-000000", "2025-01-04T00:00:00", _summary(recall=0.10), dataset="reel", variant="sans_source")
    _report(root, "20250104-000001", "2025-01-04T00:00:01", _summary(recall=0.01), dataset="reel", variant="hors_domaine")
    monkeypatch.setenv("AUTONOMIE_EVAL__REPORTS_DIR", str(root))
    from assistant.settings import get_settings

    get_settings.cache_clear()
    try:
        result = _cli(["--thresholds", str(rules)])
        assert result.exit_code == 0, result.output
        assert "évaluation 20250101-000000" not in result.output and "4/4 évaluation(s)" in result.output
        assert "jeu « reel/sans-source »" in result.output and "jeu « reel/hors-domaine »" in result.output
        _report(root, "20250105-000000", "2025-01-05T00:00:00", _summary(recall=0.30), dataset="reel")
        failed = _cli(["--thresholds", str(rules)])
    finally:
        get_settings.cache_clear()
    assert failed.exit_code == 1 and "3/4 évaluation(s)" in failed.output
