"""Retrieval metrics of the benchmark, on rankings computed by hand."""

import math

import pytest

from bench.common import latency_summary, md_table
from bench.retrieval import Question, check_default, doc_ranking, evaluate, score, time_searches


def test_documents_are_ranked_by_their_best_chunk():
    assert doc_ranking(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_score_single_gold_document():
    scores = score(["a", "b", "c"], frozenset({"b"}))
    assert scores["recall@1"] == 0.0
    assert scores["recall@5"] == scores["recall@10"] == 1.0
    assert scores["mrr@10"] == 0.5
    assert scores["ndcg@10"] == pytest.approx(1 / math.log2(3))


def test_score_several_gold_documents_and_cut_at_ten():
    ranking = [f"d{i}" for i in range(12)]
    two = score(ranking, frozenset({"d1", "absent"}))
    assert two["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    late = score(ranking, frozenset({"d10"}))  # 11th document: outside every cut-off
    assert late == {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}
    assert score(ranking, frozenset({"d5"}))["recall@5"] == 0.0  # 6th document


def test_evaluate_averages_over_questions():
    answers = {"q1": ["x", "gold1"], "q2": ["gold2"], "q3": ["y"]}
    questions = [Question("1", "q1", frozenset({"gold1"})), Question("2", "q2", frozenset({"gold2"})),
                 Question("3", "q3", frozenset({"gold3"}))]
    result = evaluate(lambda text: answers[text], questions)
    assert result["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["mrr@10"] == pytest.approx(0.5, abs=1e-4)
    assert result["questions"] == 3


def test_time_searches_warms_up_then_times_each_query():
    calls = []
    result = time_searches(calls.append, ["a", "b", "c", "d"], warm_up=2)
    assert calls == ["a", "b", "a", "b", "c", "d"]
    assert result["latency_queries"] == 4 and result["p95_ms"] >= result["p50_ms"] >= 0


def test_default_must_beat_single_retrievers_on_mrr_and_match_them_on_recall():
    retrievers = {"bm25": {"recall@10": 0.9, "mrr@10": 0.7}, "dense": {"recall@10": 0.95, "mrr@10": 0.8},
                  "default": {"recall@10": 0.95, "mrr@10": 0.81}}
    assert check_default(retrievers)["passed"]
    retrievers["default"]["mrr@10"] = 0.8  # only equal to dense: not strictly better
    assert not check_default(retrievers)["passed"]
    retrievers["default"].update({"mrr@10": 0.9, "recall@10": 0.94})
    assert not check_default(retrievers)["passed"]


def test_latency_summary_and_table():
    assert latency_summary([0.001, 0.002, 0.003]) == {"p50_ms": 2.0, "p95_ms": 2.9}
    assert latency_summary([]) == {"p50_ms": None, "p95_ms": None}
    assert md_table(["a", "b"], [[0.5, None]]).splitlines()[-1] == "| 0.500 | — |"
