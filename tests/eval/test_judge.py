"""LLM-judged metrics: "non mesuré" without a (working) judge, never 0; cached answers reused."""

import json
import socket
import time

from assistant.settings import EvalSettings
from eval.judge import JUDGE_METRICS, MEASURED, NO_JUDGE, NOT_MEASURED, Judge
from eval.report import markdown
from eval.summary import summarise

ARGS = dict(question="Quel délai ?", answer="Deux mois [1].", contexts=["Le délai est de deux mois."],
            cited=["Le délai est de deux mois."], reference="Deux mois.", abstained=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_judge_every_metric_is_not_measured(tmp_path):
    scores = Judge(EvalSettings(), tmp_path).score(**ARGS)
    assert set(scores) == set(JUDGE_METRICS)
    assert all(s.status == NOT_MEASURED and s.value is None and s.reason == NO_JUDGE for s in scores.values())


def test_missing_inputs_are_not_measured_with_their_reason(tmp_path):
    judge = Judge(EvalSettings(judge_base_url="http://127.0.0.1:1/v1"), tmp_path)
    scores = judge.score(**{**ARGS, "reference": None, "abstained": True})
    assert scores["factual_correctness"].reason == "pas de réponse de référence"
    assert "abstention" in scores["faithfulness"].reason
    assert all(scores[n].value is None for n in ("factual_correctness", "faithfulness", "context_recall"))


def test_unreachable_judge_is_not_measured_and_not_cached(tmp_path):
    judge = Judge(EvalSettings(judge_base_url=f"http://127.0.0.1:{_closed_port()}/v1", judge_timeout_s=5), tmp_path)
    started = time.perf_counter()
    scores = judge.score(**ARGS)
    assert all(s.status == NOT_MEASURED and s.value is None for s in scores.values())
    assert all("juge indisponible" in s.reason for s in scores.values())
    assert time.perf_counter() - started < 60  # after the first refused connection, no further attempts
    assert not list(tmp_path.glob("*.json"))


def test_cached_score_is_reused_without_calling_the_judge(tmp_path):
    judge = Judge(EvalSettings(judge_base_url=f"http://127.0.0.1:{_closed_port()}/v1"), tmp_path)
    key = judge._key("factual_correctness", {"response": ARGS["answer"], "reference": ARGS["reference"]})
    (tmp_path / f"{key}.json").write_text(json.dumps({"value": 0.75, "status": MEASURED, "reason": ""}))
    scores = judge.score(**ARGS)
    assert scores["factual_correctness"].value == 0.75 and scores["factual_correctness"].status == MEASURED
    assert scores["faithfulness"].status == NOT_MEASURED


def _record(qid, answerable, abstained, judge):
    return {"qid": qid, "category": "factuel" if answerable else "hors_corpus", "answerable": answerable,
            "question": "?", "error": None, "latency_s": 1.0, "retrieval": {"latency_s": 0.1},
            "metrics": {"recall@5": 1.0 if answerable else None},
            "response": {"abstained": abstained, "mode": "extractif", "timings": {"total": 1.0}, "tokens": {}},
            "judge": judge}


def test_summary_reports_missing_judge_as_not_measured_never_zero(tmp_path):
    judged = {n: s.to_dict() for n, s in Judge(EvalSettings(), tmp_path).score(**ARGS).items()}
    summary = summarise([_record("a", True, False, judged), _record("b", False, True, {})])
    for name in JUDGE_METRICS:
        assert summary["metrics"][name] == {"value": None, "n": 0, "status": NOT_MEASURED, "reason": NO_JUDGE}
    assert summary["metrics"]["recall@5"]["value"] == 1.0
    assert summary["metrics"]["abstention_recall"]["value"] == 1.0
    assert summary["metrics"]["tokens_in"]["status"] == NOT_MEASURED
    meta = {"dataset_name": "x", "created": "t", "mode": "extractif", "corpus_name": "c", "retrieval_k": 10}
    assert f"non mesuré ({NO_JUDGE})" in markdown(meta, summary)
