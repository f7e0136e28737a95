"""eval/summary.py: the run summary's answer metrics."""

from eval.summary import summarise


def _record(qid, answerable, abstained, confidence):
    return {"qid": qid, "category": "factuel" if answerable else "hors_corpus", "answerable": answerable,
            "question": "?", "error": None, "latency_s": 1.0, "retrieval": {"latency_s": 0.1}, "metrics": {},
            "response": {"abstained": abstained, "confidence": confidence, "mode": "extractif", "timings": {}, "tokens": {}},
            "judge": {}}


def test_unanswerable_questions_answered_without_a_caution_are_counted():
    summary = summarise([
        _record("a", False, False, "élevée"),  # a confident wrong answer
        _record("b", False, False, "moyenne"),  # answered, with the « partial evidence » caution
        _record("c", False, True, "faible"),  # abstained
        _record("d", True, False, "élevée"),  # answerable: not concerned
        _record("e", False, False, None),  # a report written before the band was recorded: not counted
    ])
    confident = summary["metrics"]["unanswerable_confident"]
    assert confident["value"] == 1 / 3 and confident["n"] == 3
    assert summarise([_record("d", True, False, "élevée")])["metrics"]["unanswerable_confident"]["status"] == "non_mesure"
