"""``python -m eval.train_judge`` (``make train-judge``): fit the relevance and answerability models of
``assistant/answering/judge.json`` on the development questions of the three corpora.

1. **Collect**: every question of each available corpus goes through the product's own analysis, search
   plan and feature code (``SentenceSelector.passage_pool`` / ``candidates``), twice for the real corpora:
   as asked, and with its gold documents excluded from the search (``SearchFilter.exclude_doc_ids``), which
   turns it into a realistic « the corpus does not say » case. Features are cached in
   ``.cache/judge/<corpus>.pkl`` (``--recollect`` to redo).
2. **Fit** three scikit-learn logistic regressions: passages (label: the passage belongs to a gold
   document), answerability (label: a gold passage is among the retrieved ones), sentences (label: the
   sentence states the reference answer: CASF ``answer_patterns``, the demo's reference answers).
   Out-of-fold predictions come from cross-validation **grouped by question** (a question's two
   variants stay together), so that the answerability and sentence models learn from passage
   probabilities the passage model did not see in training.
3. **Report** leave-one-corpus-out (fit on two corpora, test on the third) and choose the thresholds on the
   out-of-fold answerability: the answer threshold is the highest one that refuses at most ``--max-refusal``
   of the questions the corpus answers (a professional told « the corpus does not say » when the text is
   there stops using the tool); the caution threshold the lowest one whose answers reach
   ``--caution-precision`` (under it, the answer carries a caution); the sentence threshold the one whose
   simulated extractive answers best combine gold cited, citation precision and stated short answers.
   Results → ``bench/results/judge.{json,md}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.answering.steps.analyse import analyse
from assistant.answering.extractive import PassagePool, SentenceCandidate, passage_pool
from assistant.answering.relevance import (
    JUDGE_FILE,
    PASSAGE_FEATURES,
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    LogisticModel,
    answer_types,
)
from assistant.retrieval.retriever import Passage
from assistant.settings import PROJECT_ROOT, Settings, get_settings

console = Console(stderr=True)
CACHE_DIR = PROJECT_ROOT / ".cache" / "judge"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DATASETS_DIR = PROJECT_ROOT / "eval" / "datasets"
SENTENCE_POOL = 5  # passages whose sentences are scored (the selector's max_passages)


@dataclass
class Sample:
    """One question (or its gold-removed variant) with its features."""

    corpus: str
    qid: str
    variant: str  # "tel_quel" or "sans_source"
    gold: frozenset[str]
    reference: str | None
    patterns: list[str]
    pool: PassagePool
    candidates: list[SentenceCandidate]  # of every retrieved passage (training picks the top ones)
    latency_s: float = 0.0

    @property
    def passage_labels(self) -> np.ndarray:
        return np.asarray([p.doc_id in self.gold for p in self.pool.passages], dtype=int)

    @property
    def answerable(self) -> int:
        return int(self.passage_labels.any())


@dataclass
class Corpus:
    name: str
    corpus: Path
    questions: list[dict[str, Any]] = field(default_factory=list)


# --- collection ----------------------------------------------------------------------------------------
def corpora(settings: Settings) -> list[Corpus]:
    """The demo set always; service-public and CASF when the shared data is there."""
    from eval.dataset import load_dataset

    found = []
    demo = [q for q in load_dataset(DATASETS_DIR / "demo-questions.jsonl") if q.category != "comparaison"]
    found.append(Corpus("demo", settings.resolve(settings.data.corpus_dir), [
        {"qid": q.qid, "question": q.question, "history": q.history, "territories": q.territories,
         "gold": q.gold_doc_ids, "reference": q.reference_answer if q.answerable else None, "patterns": [],
         "remove_gold": False} for q in demo]))
    data = settings.resolve(settings.data.shared_data_dir)
    sp = data / "service-public"
    if (sp / "fiches.jsonl").exists() and (sp / "questions-dev.jsonl").exists():
        rows = [json.loads(line) for line in (sp / "questions-dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
        found.append(Corpus("service-public", sp / "fiches.jsonl", [
            {"qid": r["qid"], "question": r["question"], "history": [], "territories": [], "gold": [r["gold_doc"]],
             "reference": None, "patterns": [], "remove_gold": True} for r in rows]))
    casf = data / "casf" / "articles.jsonl"
    if casf.exists():
        rows = [json.loads(line) for line in (DATASETS_DIR / "casf-questions.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
        found.append(Corpus("casf", casf, [
            {"qid": r["qid"], "question": r["question"], "history": [], "territories": [], "gold": r["gold_docs"],
             "reference": r.get("reference_answer"), "patterns": r.get("answer_patterns", []), "remove_gold": True}
            for r in rows]))
    return found


class _CacheUnpickler(pickle.Unpickler):
    """Reads caches written when this module ran as ``__main__`` (``python -m eval.train_judge`` before the
    entry point below re-imported it), so that benchmarks can load them too."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class("eval.train_judge" if module == "__main__" else module, name)


def collect(settings: Settings, corpus: Corpus, recollect: bool) -> list[Sample]:
    cache = CACHE_DIR / f"{corpus.name}.pkl"
    if cache.exists() and not recollect:
        samples = _CacheUnpickler(io.BytesIO(cache.read_bytes())).load()
        by_qid = {q["qid"]: q for q in corpus.questions}
        for sample in samples:  # labels and feature code may have changed since the collection
            q = by_qid.get(sample.qid)
            if q is None:
                continue
            sample.reference, sample.patterns = q["reference"], q["patterns"]
            standalone = analyse(q["question"], q["history"], [str(t) for t in q["territories"]] or None).standalone
            profile = dataclasses.replace(sample.pool.profile, asked=answer_types(standalone))
            # Re-validated: passages pickled before a field was added to Passage lack it.
            passages = [Passage.model_validate(vars(p)) for p in sample.pool.passages]
            sample.pool = passage_pool(profile, passages)
        return samples
    import time

    from assistant.answering.extractive import SentenceSelector, SentenceVectors
    from assistant.answering.term_stats import TermStatistics
    from assistant.answering.steps.search import planned_search
    from assistant.components.vector_store import SearchFilter
    from assistant.services import Services
    from eval.index import ensure_indexed, eval_settings

    services = Services(eval_settings(settings, corpus.corpus))
    samples: list[Sample] = []
    try:
        with console.status(f"Indexation de {corpus.name}…"):
            ensure_indexed(services, corpus.corpus)
        retriever = services.retriever
        selector = SentenceSelector(SentenceVectors(services.embedder, capacity=2_000_000), None, glossary=retriever.glossary,
                                    idf_weights=TermStatistics(retriever.store).idf_weights)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"Caractéristiques {corpus.name}", total=len(corpus.questions))
            for q in corpus.questions:
                territories = tuple(str(t) for t in q["territories"])
                base = SearchFilter(territories=territories, groups=tuple(f"dep-{t}" for t in territories))
                variants = [("tel_quel", base)]
                if q["remove_gold"]:
                    variants.append(("sans_source", SearchFilter(territories=territories, groups=base.groups,
                                                                 exclude_doc_ids=tuple(q["gold"]))))
                for variant, search_filter in variants:
                    started = time.perf_counter()
                    analysis = analyse(q["question"], q["history"], list(territories) or None)
                    passages, _ = planned_search(retriever, analysis, search_filter, settings.answer.max_passages)
                    pool = selector.passage_pool(analysis.standalone, passages)
                    candidates = selector.candidates(analysis.standalone, pool, list(range(len(passages))))
                    samples.append(Sample(corpus.name, q["qid"], variant, frozenset(q["gold"]) if variant == "tel_quel" else frozenset(),
                                          q["reference"], q["patterns"], pool, candidates, time.perf_counter() - started))
                progress.advance(task)
    finally:
        services.close()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(samples))
    return samples


# --- labels --------------------------------------------------------------------------------------------
_WORD_RE = re.compile(r"\w+")


def sentence_label(sample: Sample, candidate: SentenceCandidate) -> int | None:
    """1 when the sentence (of a gold passage) states the reference answer, 0 otherwise; None when the
    question has no reference (service-public: no labelled sentences)."""
    if not sample.gold:
        return 0 if (sample.patterns or sample.reference) else None
    if sample.pool.passages[candidate.passage_index].doc_id not in sample.gold:
        return 0 if (sample.patterns or sample.reference) else None
    if sample.patterns:
        from eval.metrics import states_answer

        return int(states_answer(candidate.text, sample.patterns))
    if sample.reference:
        return int(_reference_overlap(candidate.text, sample.reference) >= 0.5)
    return None


def _reference_overlap(sentence: str, reference: str) -> float:
    """Share of the sentence's content words that the reference answer also uses (demo labels)."""
    from assistant.answering.sentences import content_terms, numbers

    words = content_terms(sentence)
    if not words:
        return 0.0
    shared = len(words & content_terms(reference)) / len(words)
    if numbers(sentence) & numbers(reference):
        shared += 0.25
    return shared


# --- fitting -------------------------------------------------------------------------------------------
def standardisation(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each column (a constant column keeps scale 1), as ``LogisticModel`` stores them."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(rows)
    return scaler.mean_, np.where(scaler.scale_ > 0, scaler.scale_, 1.0)


def fit_logistic(rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...]) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardisation(rows)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight=None).fit((rows - mean) / scale, labels)
    return LogisticModel(features, mean, scale, model.coef_[0], float(model.intercept_[0]))


def fit_ranking_logistic(rows: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                         features: tuple[str, ...]) -> LogisticModel:
    """A relevance model fitted for what it is used for: ordering the items of one question (``groups``; the
    passages of its pool). The direction is a logistic regression on within-question pairs (a positive item
    minus a negative one of the same question, both signs, no intercept: a linear RankNet / RankSVM), so that
    what separates one question's items counts, not what separates easy questions from hard ones; its
    regularisation is chosen by cross-validation grouped by question. A one-dimensional logistic regression
    of the labels on that score (Platt scaling, ``platt_scaling``) then gives it a scale and an offset: the
    output stays a probability, which the later stages read. Questions without a positive or without a
    negative item only enter the second step. (Fitted so, the sentence model did worse: it stays pointwise.)"""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    mean, scale = standardisation(rows)
    standard = (rows - mean) / scale
    differences, signs, pair_groups = [], [], []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        positives, negatives = members[labels[members] == 1], members[labels[members] == 0]
        for p in positives:
            for n in negatives:
                differences += [standard[p] - standard[n], standard[n] - standard[p]]
                signs += [1, 0]
                pair_groups += [group, group]
    if not differences:
        return fit_logistic(rows, labels, features)
    differences, signs, pair_groups = np.asarray(differences), np.asarray(signs), np.asarray(pair_groups)
    folds = min(3, len(np.unique(pair_groups)))
    if folds >= 2:
        splits = list(GroupKFold(n_splits=folds).split(differences, signs, pair_groups))
        pairwise = LogisticRegressionCV(Cs=[0.01, 0.1, 1.0, 10.0], cv=splits, fit_intercept=False, max_iter=3000,
                                        l1_ratios=(0.0,), scoring="neg_log_loss", use_legacy_attributes=False)
    else:
        pairwise = LogisticRegression(C=1.0, fit_intercept=False, max_iter=3000)
    direction = pairwise.fit(differences, signs).coef_[0]
    slope, offset = platt_scaling(standard @ direction, labels)
    return LogisticModel(features, mean, scale, direction * slope, offset)


def platt_scaling(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of the probability ``sigmoid(a × score + b)`` of minimal log loss, with ``a`` kept positive:
    the calibration never reverses the order the scores give (pooled over questions, a feature that ranks
    one question's items may still look negative)."""
    from scipy.optimize import minimize

    def loss(params: np.ndarray) -> float:
        z = params[0] * scores + params[1]
        return float(np.mean(np.logaddexp(0.0, z) - labels * z))

    fitted = minimize(loss, x0=np.array([1.0, 0.0]), bounds=[(1e-3, None), (None, None)], method="L-BFGS-B")
    return float(fitted.x[0]), float(fitted.x[1])


def fit_passage_ranker(samples: list[Sample]) -> LogisticModel:
    return fit_ranking_logistic(*passage_matrix(samples), PASSAGE_FEATURES)


@dataclass
class Stages:
    passage: LogisticModel
    answerability: LogisticModel
    sentence: LogisticModel | None  # None when the samples have no labelled sentences (service-public alone)


def passage_matrix(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels and question (the sample's index) of every retrieved passage."""
    pooled = [(i, s) for i, s in enumerate(samples) if len(s.pool.passages)]
    return (np.vstack([s.pool.rows for _, s in pooled]), np.concatenate([s.passage_labels for _, s in pooled]),
            np.concatenate([np.full(len(s.pool.passages), i) for i, s in pooled]))


def top_candidates(sample: Sample, probabilities: np.ndarray) -> tuple[list[int], list[SentenceCandidate]]:
    order = [int(i) for i in np.argsort(-probabilities, kind="stable")]
    keep = set(order[:SENTENCE_POOL])
    return order, [c for c in sample.candidates if c.passage_index in keep]


def question_matrix(samples: list[Sample], passage_probs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for sample, probs in zip(samples, passage_probs):
        _, candidates = top_candidates(sample, probs)
        rows.append(sample.pool.question_row(probs, candidates))
    return np.asarray(rows, dtype=float), np.asarray([s.answerable for s in samples])


def sentence_matrix(samples: list[Sample], passage_probs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Rows and labels of the labelled sentences; ``where`` = (sample index, candidate index)."""
    rows, labels, where = [], [], []
    for i, (sample, probs) in enumerate(zip(samples, passage_probs)):
        order, candidates = top_candidates(sample, probs)
        if not candidates:
            continue
        matrix = sample.pool.sentence_rows(candidates, probs, order)
        for j, candidate in enumerate(candidates):
            label = sentence_label(sample, candidate)
            if label is not None:
                rows.append(matrix[j])
                labels.append(label)
                where.append((i, j))
    return np.asarray(rows, dtype=float).reshape(-1, len(SENTENCE_FEATURES)), np.asarray(labels, dtype=int), where


def fit_stages(samples: list[Sample], folds: int = 5) -> tuple[Stages, list[np.ndarray]]:
    """The three models on ``samples``; also the out-of-fold passage probabilities (grouped by question)."""
    oof = out_of_fold_passage_probabilities(samples, folds)
    passage = fit_passage_ranker(samples)
    q_rows, q_labels = question_matrix(samples, oof)
    answerability = fit_logistic(q_rows, q_labels, QUESTION_FEATURES)
    s_rows, s_labels, _ = sentence_matrix(samples, oof)
    sentence = fit_logistic(s_rows, s_labels, SENTENCE_FEATURES) if 0 < s_labels.sum() < len(s_labels) else None
    return Stages(passage, answerability, sentence), oof


def out_of_fold_passage_probabilities(samples: list[Sample], folds: int) -> list[np.ndarray]:
    from sklearn.model_selection import GroupKFold

    groups = np.asarray([f"{s.corpus}:{s.qid}" for s in samples])
    result: list[np.ndarray] = [np.zeros(len(s.pool.passages)) for s in samples]
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(len(samples)), groups=groups):
        model = fit_passage_ranker([samples[i] for i in train])
        for i in test:
            result[i] = model.probabilities(samples[i].pool.rows)
    return result


def predict(stages: Stages, samples: list[Sample], passage_probs: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Answerability per sample, chosen sentence label per sample (first sentence and any chosen)."""
    probs = passage_probs or [stages.passage.probabilities(s.pool.rows) for s in samples]
    q_rows, _ = question_matrix(samples, probs)
    answerability = stages.answerability.probabilities(q_rows)
    return {"passage": probs, "answerability": answerability}


@dataclass
class OutOfFold:
    """Every sample's predictions from models fitted without its question."""

    answerability: np.ndarray
    passage: list[np.ndarray]
    candidates: list[list[SentenceCandidate]]  # the scored sentences (of the top re-ranked passages)
    sentence: list[np.ndarray]


def out_of_fold(samples: list[Sample], folds: int) -> OutOfFold:
    from sklearn.model_selection import GroupKFold

    groups = np.asarray([f"{s.corpus}:{s.qid}" for s in samples])
    result = OutOfFold(np.zeros(len(samples)), [np.zeros(0)] * len(samples), [[] for _ in samples],
                       [np.zeros(0)] * len(samples))
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(len(samples)), groups=groups):
        stages, _ = fit_stages([samples[i] for i in train], folds=3)
        test_samples = [samples[i] for i in test]
        probs = [stages.passage.probabilities(s.pool.rows) for s in test_samples]
        result.answerability[test] = predict(stages, test_samples, probs)["answerability"]
        for k, i in enumerate(test):
            result.passage[i] = probs[k]
            order, candidates = top_candidates(samples[i], probs[k])
            result.candidates[i] = candidates
            result.sentence[i] = (stages.sentence.probabilities(samples[i].pool.sentence_rows(candidates, probs[k], order))
                                  if candidates and stages.sentence else np.zeros(len(candidates)))
    return result


def simulate_answers(samples: list[Sample], oof: OutOfFold, answer_threshold: float, sentence_threshold: float,
                     max_sentences: int = 4) -> dict[str, Any]:
    """The extractive answer each question as asked would get (the product's own sentence choice): gold
    document cited, precision of the cited passages, short answer stated (questions with patterns)."""
    from assistant.answering.extractive import choose_sentences
    from eval.metrics import states_answer

    out: dict[str, Any] = {}
    for corpus in sorted({s.corpus for s in samples}):
        cited_gold, precision, correct = [], [], []
        for i, sample in enumerate(samples):
            if sample.corpus != corpus or sample.variant != "tel_quel" or not sample.gold:
                continue
            answered = oof.answerability[i] >= answer_threshold
            lead = int(np.argmax(oof.passage[i])) if len(oof.passage[i]) else None
            chosen = (choose_sentences(oof.candidates[i], oof.sentence[i], max_sentences, sentence_threshold, lead)
                      if answered else [])
            docs = [sample.pool.passages[index].doc_id for index in dict.fromkeys(c.passage_index for c in chosen)]
            cited_gold.append(float(bool(set(docs) & sample.gold)))
            if docs:
                precision.append(sum(d in sample.gold for d in docs) / len(docs))
            if sample.patterns:
                correct.append(float(bool(chosen) and states_answer("\n".join(c.text for c in chosen), sample.patterns)))
        out[corpus] = {"gold_cited": _mean(cited_gold), "citation_precision": _mean(precision),
                       "short_answer_correct": _mean(correct)}
    return out


def choose_sentence_threshold_by_answers(samples: list[Sample], oof: OutOfFold, answer_threshold: float) -> tuple[float, list]:
    """The sentence threshold whose simulated answers best combine gold document cited, citation precision
    and stated short answers (each a mean over the corpora that have it)."""
    grid = []
    for threshold in np.round(np.arange(0.05, 0.96, 0.05), 2):
        sim = simulate_answers(samples, oof, answer_threshold, float(threshold))
        objective = sum(_mean([v[name] for v in sim.values() if v[name] is not None]) or 0.0
                        for name in ("gold_cited", "citation_precision", "short_answer_correct"))
        grid.append((float(threshold), objective, sim))
    best = max(grid, key=lambda row: row[1])
    return best[0], grid


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


# --- metrics -------------------------------------------------------------------------------------------
def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 3) if 0 < labels.sum() < len(labels) else None


def answer_metrics(samples: list[Sample], answerability: np.ndarray, passage_probs: list[np.ndarray],
                   threshold: float) -> dict[str, Any]:
    """Per corpus and variant: abstention rate, gold passage ranked first among the re-ranked passages."""
    out: dict[str, Any] = {}
    for corpus in sorted({s.corpus for s in samples}):
        for variant in ("tel_quel", "sans_source"):
            idx = [i for i, s in enumerate(samples) if s.corpus == corpus and s.variant == variant]
            if not idx:
                continue
            abstained = answerability[idx] < threshold
            entry = {"questions": len(idx), "abstention": round(float(abstained.mean()), 3)}
            if variant == "tel_quel":
                top_gold = [bool(samples[i].passage_labels[int(np.argmax(passage_probs[i]))]) if len(passage_probs[i]) else False
                            for i in idx]
                first_gold = [bool(samples[i].passage_labels[0]) if len(samples[i].pool.passages) else False for i in idx]
                entry["gold_first_reranked"] = round(float(np.mean(top_gold)), 3)
                entry["gold_first_retrieved"] = round(float(np.mean(first_gold)), 3)
                entry["gold_retrieved"] = round(float(np.mean([samples[i].answerable for i in idx])), 3)
            out[f"{corpus}/{variant}"] = entry
    return out


def choose_refusal_threshold(answerability: np.ndarray, labels: np.ndarray, max_refusal: float) -> float:
    """The highest threshold that refuses at most ``max_refusal`` of the answerable samples."""
    answerable = answerability[labels == 1]
    best = 0.02
    for threshold in np.round(np.arange(0.02, 0.99, 0.01), 2):
        if answerable.size and (answerable < threshold).mean() <= max_refusal:
            best = float(threshold)
    return best


def choose_threshold(answerability: np.ndarray, labels: np.ndarray, precision: float) -> float:
    """The lowest threshold whose answered samples are right (answerable) at least ``precision`` of the time."""
    for threshold in np.round(np.arange(0.02, 0.99, 0.01), 2):
        answered = answerability >= threshold
        if answered.sum() and labels[answered].mean() >= precision:
            return float(threshold)
    return 0.98


def oof_sentence_auc(samples: list[Sample], oof: OutOfFold) -> float | None:
    scores, labels = [], []
    for i, sample in enumerate(samples):
        for candidate, probability in zip(oof.candidates[i], oof.sentence[i]):
            label = sentence_label(sample, candidate)
            if label is not None:
                scores.append(probability)
                labels.append(label)
    return auc(np.asarray(scores), np.asarray(labels)) if labels else None


def leave_one_corpus_out(samples: list[Sample], max_refusal: float) -> dict[str, Any]:
    """Fit on the other corpora, test on this one, the threshold chosen on the training corpora only."""
    report: dict[str, Any] = {}
    names = sorted({s.corpus for s in samples})
    if len(names) < 2:
        return report
    for held in names:
        train = [s for s in samples if s.corpus != held]
        test = [s for s in samples if s.corpus == held]
        stages, train_oof = fit_stages(train)
        train_q, train_labels = question_matrix(train, train_oof)
        threshold = choose_refusal_threshold(stages.answerability.probabilities(train_q), train_labels, max_refusal)
        probs = [stages.passage.probabilities(s.pool.rows) for s in test]
        answerability = predict(stages, test, probs)["answerability"]
        labels = np.asarray([s.answerable for s in test])
        s_rows, s_labels, _ = sentence_matrix(test, probs)
        report[held] = {
            "threshold_from_training_corpora": threshold,
            "answerability_auc": auc(answerability, labels),
            "passage_auc": auc(np.concatenate(probs), np.concatenate([s.passage_labels for s in test])),
            "sentence_auc": auc(stages.sentence.probabilities(s_rows), s_labels) if len(s_rows) and stages.sentence else None,
            "answers": answer_metrics(test, answerability, probs, threshold),
        }
    return report


# --- main ----------------------------------------------------------------------------------------------
def main(
    max_refusal: float = typer.Option(0.05, help="Part maximale des questions auxquelles le corpus répond que le seuil "
                                      "de réponse peut refuser (données de développement)."),
    caution_precision: float = typer.Option(0.90, help="Précision des réponses au-delà de laquelle aucune mise en garde "
                                            "n'est affichée."),
    recollect: bool = typer.Option(False, help="Recalculer les caractéristiques (sinon .cache/judge/)."),
    only: Optional[list[str]] = typer.Option(None, "--corpus", help="Corpus à utiliser (demo, service-public, casf ; "
                                             "défaut : tous ceux présents)."),
    out: Path = typer.Option(JUDGE_FILE, help="Fichier du modèle écrit."),
    results: Path = typer.Option(RESULTS_DIR, help="Dossier des résultats (judge.json, judge.md)."),
) -> None:
    """Entraîne les modèles de pertinence et de capacité à répondre (judge.json) et rapporte leur qualité."""
    settings = get_settings()
    samples: list[Sample] = []
    for corpus in corpora(settings):
        if only and corpus.name not in only:
            continue
        if not corpus.corpus.exists():
            console.print(f"[yellow]Corpus « {corpus.name} » absent ({corpus.corpus}) : ignoré.[/yellow]")
            continue
        samples += collect(settings, corpus, recollect)
    if not samples:
        console.print("[red]Aucune donnée d'entraînement.[/red]")
        raise typer.Exit(2)
    with console.status("Ajustement (validation croisée groupée par question)…"):
        oof = out_of_fold(samples, folds=5)
        labels = np.asarray([s.answerable for s in samples])
        answer_threshold = choose_refusal_threshold(oof.answerability, labels, max_refusal)
        caution_threshold = max(answer_threshold, choose_threshold(oof.answerability, labels, caution_precision))
        sentence_threshold, grid = choose_sentence_threshold_by_answers(samples, oof, answer_threshold)
        stages, passage_oof = fit_stages(samples)
        s_rows, s_labels, _ = sentence_matrix(samples, passage_oof)
        loco = leave_one_corpus_out(samples, max_refusal)
    version = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    artifact = {
        "version": version,
        "trained_on": {name: sum(1 for s in samples if s.corpus == name) for name in sorted({s.corpus for s in samples})},
        "thresholds": {"answer": answer_threshold, "caution": caution_threshold, "sentence": sentence_threshold,
                       "max_refusal_target": max_refusal, "caution_precision_target": caution_precision},
        "passage": stages.passage.to_dict(), "answerability": stages.answerability.to_dict(),
        "sentence": stages.sentence.to_dict(),
    }
    out.write_text(json.dumps(artifact, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    report = {
        "version": version,
        "samples": len(samples),
        "thresholds": artifact["thresholds"],
        "cross_validation": {
            "answerability_auc": auc(oof.answerability, labels),
            "answers": answer_metrics(samples, oof.answerability, oof.passage, answer_threshold),
            "extractive_answers": simulate_answers(samples, oof, answer_threshold, sentence_threshold),
            "sentence_threshold_grid": [{"threshold": t, "objective": round(v, 3)} for t, v, _ in grid],
            "sentences_labelled": int(len(s_labels)), "sentences_positive": int(s_labels.sum()),
            "sentence_auc": oof_sentence_auc(samples, oof),
        },
        "leave_one_corpus_out": loco,
        "collection_latency_p50_s": round(float(np.median([s.latency_s for s in samples])), 3),
    }
    write_report(report, results)
    console.print(f"Modèle écrit : {out.relative_to(PROJECT_ROOT) if out.is_relative_to(PROJECT_ROOT) else out}")


def write_report(report: dict[str, Any], results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / "judge.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    t = report["thresholds"]
    lines = [
        "# Modèles de pertinence et de capacité à répondre (`make train-judge`)", "",
        f"- Version {report['version']}, {report['samples']} exemples (questions, et pour service-public et le CASF "
        "les mêmes questions sans leurs documents attendus).",
        f"- Seuils choisis sur les prédictions hors échantillon : réponse {t['answer']} (au plus "
        f"{t['max_refusal_target']} des questions auxquelles le corpus répond refusées), mise en garde sous "
        f"{t['caution']} (au-dessus, précision des réponses ≥ {t['caution_precision_target']}), "
        f"phrase {t['sentence']} (meilleure somme : document attendu cité + précision des citations + réponse courte "
        "énoncée, sur les réponses extractives simulées hors échantillon).",
        "- Pertinence des passages : direction ajustée sur des paires d'une même question (passage attendu contre "
        "autre passage du lot : ce qui les ordonne), puis calibrée en probabilité (Platt) ; capacité à répondre et "
        "phrases : régressions logistiques.", "",
        "## Validation croisée groupée par question (5 plis)", "",
        f"- AUC de la capacité à répondre : {report['cross_validation']['answerability_auc']}",
        f"- Phrases étiquetées : {report['cross_validation']['sentences_labelled']} "
        f"(dont {report['cross_validation']['sentences_positive']} portant la réponse attendue) ; AUC des phrases "
        f"{report['cross_validation']['sentence_auc']}", "",
        "| corpus / variante | questions | abstention | document attendu 1er après reclassement | 1er à la recherche | retrouvé (8 passages) |",
        "|---|---|---|---|---|---|",
    ]
    for key, entry in report["cross_validation"]["answers"].items():
        lines.append(f"| {key} | {entry['questions']} | {entry['abstention']} | {entry.get('gold_first_reranked', '—')} | "
                     f"{entry.get('gold_first_retrieved', '—')} | {entry.get('gold_retrieved', '—')} |")
    lines += ["", "Réponses extractives simulées (questions telles quelles, hors échantillon) :", "",
              "| corpus | document attendu cité | précision des citations | réponse courte énoncée |", "|---|---|---|---|"]
    for corpus, entry in report["cross_validation"]["extractive_answers"].items():
        lines.append(f"| {corpus} | {entry['gold_cited']} | {entry['citation_precision']} | "
                     f"{entry['short_answer_correct'] if entry['short_answer_correct'] is not None else '—'} |")
    if report["leave_one_corpus_out"]:
        lines += ["", "## Un corpus laissé de côté (ajusté sur les deux autres, seuil compris)", "",
                  "| corpus testé | seuil | AUC réponse | AUC passages | AUC phrases | abstention (tel quel) | abstention (sans source) | attendu 1er |",
                  "|---|---|---|---|---|---|---|---|"]
        for held, entry in report["leave_one_corpus_out"].items():
            answers = entry["answers"]
            as_is = answers.get(f"{held}/tel_quel", {})
            removed = answers.get(f"{held}/sans_source", {})
            lines.append(f"| {held} | {entry['threshold_from_training_corpora']} | {entry['answerability_auc']} | "
                         f"{entry['passage_auc']} | {entry['sentence_auc']} | {as_is.get('abstention', '—')} | "
                         f"{removed.get('abstention', '—')} | {as_is.get('gold_first_reranked', '—')} |")
    (results / "judge.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.print(f"Résultats : {results / 'judge.md'}")


if __name__ == "__main__":
    from eval.train_judge import main as entry  # cached samples then pickle as eval.train_judge.Sample

    typer.run(entry)
