"""eval/train_judge.py: labels, thresholds, fitting, and the artifact the product loads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.answering.extractive import SentenceCandidate, SentenceSelector
from assistant.answering.relevance import PASSAGE_FEATURES, RelevanceJudge
from eval import train_judge as tj


def test_threshold_is_the_lowest_reaching_the_precision_target():
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 1, 0, 1, 1, 1])
    # From 0.61 on, every answered sample is answerable (precision 1); from 0.31 on, 3 of 4 (0.75).
    assert tj.choose_threshold(scores, labels, 1.0) == pytest.approx(0.61)
    assert tj.choose_threshold(scores, labels, 0.75) == pytest.approx(0.21)
    assert tj.choose_threshold(np.array([0.5, 0.6]), np.array([0, 0]), 0.9) == 0.98  # unreachable: answer almost never


def test_refusal_threshold_is_the_highest_refusing_at_most_the_target():
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99])
    labels = np.array([0, 0, 1, 0, 1, 1, 1, 1, 1, 1])
    # Eight answerable samples: refusing one of them (0.3) is 0.125 ≤ 0.2; refusing two (0.3, 0.7) is not.
    assert tj.choose_refusal_threshold(scores, labels, 0.2) == pytest.approx(0.70)
    assert tj.choose_refusal_threshold(scores, labels, 0.0) == pytest.approx(0.30)


def test_logistic_fit_separates_and_round_trips():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, 2))
    labels = (rows[:, 0] - 0.5 * rows[:, 1] + rng.normal(scale=0.3, size=400) > 0).astype(int)
    model = tj.fit_logistic(rows, labels, ("a", "b"))
    assert model.coef[0] > 0 > model.coef[1]
    assert tj.auc(model.probabilities(rows), labels) > 0.95


def test_ranking_fit_orders_within_a_question_where_a_pointwise_fit_inverts():
    """Answerable questions: the gold item has the highest similarity of its question. Unanswerable ones: every
    item is more similar than any gold (a near-domain pool), all negative. Pooled over questions, similarity
    looks like a sign of a wrong item; within each question it is the sign of the right one."""
    rng = np.random.default_rng(1)
    rows, labels, groups = [], [], []
    for question in range(60):
        answerable = question % 2 == 0
        base = 0.3 if answerable else 0.7
        sims = base + np.concatenate([[0.25], rng.uniform(0, 0.2, size=4)])  # the first item is the most similar
        for rank, sim in enumerate(sims):
            rows.append([sim, rng.normal()])  # the second feature is noise
            labels.append(int(answerable and rank == 0))
            groups.append(question)
    rows, labels, groups = np.asarray(rows), np.asarray(labels), np.asarray(groups)

    def gold_first(model):
        probabilities = model.probabilities(rows)
        return np.mean([labels[groups == q][int(np.argmax(probabilities[groups == q]))]
                        for q in range(0, 60, 2)])

    pointwise = tj.fit_logistic(rows, labels, ("similarity", "bruit"))
    ranking = tj.fit_ranking_logistic(rows, labels, groups, ("similarity", "bruit"))
    assert pointwise.coef[0] < 0 and gold_first(pointwise) < 0.5
    assert ranking.coef[0] > 0 and gold_first(ranking) == 1.0
    probabilities = ranking.probabilities(rows)
    assert ((0 < probabilities) & (probabilities < 1)).all()


def test_platt_scaling_calibrates_without_reversing_the_order():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=2000)
    labels = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(2.0 * scores - 1.0)))).astype(int)
    slope, offset = tj.platt_scaling(scores, labels)
    assert slope == pytest.approx(2.0, abs=0.3) and offset == pytest.approx(-1.0, abs=0.3)
    slope, _ = tj.platt_scaling(scores, 1 - labels)  # scores that look reversed pooled: the order is kept
    assert slope > 0


def test_cache_written_by_the_module_run_as_main_loads_elsewhere(tmp_path, monkeypatch):
    """`python -m eval.train_judge` used to pickle its samples as __main__.Sample: benchmarks could not read them."""
    import __main__
    import pickle

    sample = tj.Sample("petit", "q1", "tel_quel", frozenset({"d"}), None, [], None, [])
    with monkeypatch.context() as patch:
        patch.setattr(tj.Sample, "__module__", "__main__")
        patch.setattr(__main__, "Sample", tj.Sample, raising=False)
        written = pickle.dumps([sample])
    assert b"__main__" in written and not hasattr(__main__, "Sample")
    monkeypatch.setattr(tj, "CACHE_DIR", tmp_path)
    (tmp_path / "petit.pkl").write_bytes(written)
    loaded = tj.collect(tj.get_settings(), tj.Corpus("petit", tmp_path / "absent.jsonl"), recollect=False)
    assert type(loaded[0]) is tj.Sample and loaded[0].qid == "q1"


@pytest.mark.slow
def test_collected_samples_fit_into_a_judge_the_product_loads(small_index, tmp_path):
    """Features from the real search and selector on the small index, both variants, then the three models."""
    from assistant.answering.steps.analyse import analyse
    from assistant.answering.term_stats import TermStatistics
    from assistant.answering.steps.search import planned_search
    from assistant.components.vector_store import SearchFilter

    settings, services = small_index
    selector = SentenceSelector(services.embedder, None, glossary=services.retriever.glossary,
                                idf_weights=TermStatistics(services.store).idf_weights)
    questions = [
        ("q1", "À partir de quel âge peut-on avoir l'allocation personnalisée d'autonomie ?", ["nat-apa"], ["60 ans"]),
        ("q2", "Qui renseigne le volet médical du GEVA ?", ["geva"], ["médecin"]),
        ("q3", "Quel est le délai de décision pour l'APA ?", ["nat-apa"], ["2 mois"]),
        ("q4", "Le volet habitat décrit-il l'accessibilité du logement ?", ["geva"], ["accessibilite"]),
    ]
    samples = []
    for qid, question, gold, patterns in questions * 3:  # enough rows for the 5-fold grouped CV
        for variant, flt in (("tel_quel", SearchFilter()), ("sans_source", SearchFilter(exclude_doc_ids=tuple(gold)))):
            analysis = analyse(question, [])
            passages, _ = planned_search(services.retriever, analysis, flt, settings.answer.max_passages)
            pool = selector.passage_pool(question, passages)
            candidates = selector.candidates(question, pool, list(range(len(passages))))
            samples.append(tj.Sample("petit", f"{qid}-{len(samples) // 6}", variant,
                                     frozenset(gold) if variant == "tel_quel" else frozenset(), None, patterns, pool, candidates))
    assert all(s.pool.rows.shape[1] == len(PASSAGE_FEATURES) for s in samples)
    assert all(s.answerable for s in samples if s.variant == "tel_quel")
    assert not any(s.answerable for s in samples if s.variant == "sans_source")
    labelled = [tj.sentence_label(s, c) for s in samples for c in s.candidates]
    assert 1 in labelled and 0 in labelled  # « 60 ans », « deux mois » are stated by sentences of nat-apa

    stages, _ = tj.fit_stages(samples, folds=3)
    artifact = tmp_path / "judge.json"
    artifact.write_text(json.dumps({
        "version": "test", "thresholds": {"answer": 0.5, "caution": 0.7, "sentence": 0.3},
        "passage": stages.passage.to_dict(), "answerability": stages.answerability.to_dict(),
        "sentence": stages.sentence.to_dict()}), encoding="utf-8")
    judge = RelevanceJudge.load(artifact)
    as_asked = [s for s in samples if s.variant == "tel_quel"]
    removed = [s for s in samples if s.variant == "sans_source"]
    answerability = tj.predict(stages, samples)["answerability"]
    mean_as_asked = np.mean([a for a, s in zip(answerability, samples) if s in as_asked])
    mean_removed = np.mean([a for a, s in zip(answerability, samples) if s in removed])
    assert mean_as_asked > mean_removed
    assert judge.passage.probabilities(as_asked[0].pool.rows).shape == (len(as_asked[0].pool.passages),)


def test_sentence_labels_come_from_patterns_of_gold_passages_only():
    from assistant.retrieval.retriever import Passage

    def passage(doc_id):
        return Passage(point_id=doc_id, doc_id=doc_id, title="T", doc_type="x", territory="national", text="t", score=1.0)

    pool = tj.PassagePool(None, [passage("gold"), passage("other")], np.zeros((2, len(PASSAGE_FEATURES))), 0, 0, 0, 0, 0, 1)
    sample = tj.Sample("c", "q", "tel_quel", frozenset({"gold"}), None, ["60 ans"], pool, [])
    stating = SentenceCandidate(0, "L'âge est fixé à soixante ans.", 0, 1, 0.9, 1.0)
    elsewhere = SentenceCandidate(1, "L'âge est fixé à soixante ans.", 0, 1, 0.9, 1.0)
    silent = SentenceCandidate(0, "Le dossier est déposé en mairie.", 1, 2, 0.8, 0.5)
    assert tj.sentence_label(sample, stating) == 1
    assert tj.sentence_label(sample, elsewhere) == 0 and tj.sentence_label(sample, silent) == 0
    unlabelled = tj.Sample("c", "q", "tel_quel", frozenset({"gold"}), None, [], pool, [])
    assert tj.sentence_label(unlabelled, stating) is None  # service-public: no reference answer
