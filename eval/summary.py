"""Per-question results → run summary (overall, per category, cost) and the previous comparable run."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import metrics as m
from eval.judge import JUDGE_METRICS, MEASURED, NOT_MEASURED


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    group: str
    higher_is_better: bool = True


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("recall@1", "Rappel@1 (documents attendus)", "recherche"),
    MetricInfo("recall@5", "Rappel@5", "recherche"),
    MetricInfo("recall@10", "Rappel@10", "recherche"),
    MetricInfo("hit@5", "Succès@5 (au moins un document attendu)", "recherche"),
    MetricInfo("mrr@10", "MRR@10", "recherche"),
    MetricInfo("ndcg@10", "nDCG@10", "recherche"),
    MetricInfo("section_hit@10", "Section attendue trouvée@10", "recherche"),
    MetricInfo("ragas_context_recall", "Rappel de contexte RAGAS (sans LLM)", "recherche"),
    MetricInfo("ragas_context_precision", "Précision de contexte RAGAS (sans LLM)", "recherche"),
    MetricInfo("citation_precision", "Précision des citations", "réponse"),
    MetricInfo("citation_recall", "Rappel des citations", "réponse"),
    MetricInfo("gold_cited", "Document attendu cité", "réponse"),
    MetricInfo("short_answer_correct", "Réponse courte attendue énoncée", "réponse"),
    MetricInfo("support_rate", "Phrases étayées par leurs citations", "réponse"),
    MetricInfo("answer_rate", "Questions couvertes ayant reçu une réponse (sans abstention)", "réponse"),
    MetricInfo("abstention_precision", "Précision de l'abstention", "réponse"),
    MetricInfo("abstention_recall", "Rappel de l'abstention (hors corpus)", "réponse"),
    MetricInfo("abstention_f1", "F1 de l'abstention", "réponse"),
    MetricInfo("unanswerable_confident", "Questions sans réponse dans le corpus répondues sans mise en garde", "réponse",
               False),
    MetricInfo("comparison_status_accuracy", "Statuts de comparaison exacts", "réponse"),
    MetricInfo("rougeL", "ROUGE-L (réponse / référence)", "réponse"),
    MetricInfo("chrf", "chrF (réponse / référence)", "réponse"),
    MetricInfo("faithfulness", "Fidélité (juge LLM)", "juge"),
    MetricInfo("answer_relevancy", "Pertinence de la réponse (juge LLM)", "juge"),
    MetricInfo("context_precision", "Précision du contexte (juge LLM)", "juge"),
    MetricInfo("context_recall", "Rappel du contexte (juge LLM)", "juge"),
    MetricInfo("factual_correctness", "Exactitude factuelle (juge LLM)", "juge"),
    MetricInfo("latency_mean_s", "Latence moyenne par question (s)", "coût", False),
    MetricInfo("latency_p50_s", "Latence médiane (s)", "coût", False),
    MetricInfo("latency_p95_s", "Latence p95 (s)", "coût", False),
    MetricInfo("retrieval_latency_mean_s", "Latence moyenne de la recherche seule (s)", "coût", False),
    MetricInfo("tokens_in", "Jetons envoyés au LLM (total)", "coût", False),
    MetricInfo("tokens_out", "Jetons générés par le LLM (total)", "coût", False),
)
METRIC_INFO = {info.name: info for info in METRICS}
CATEGORY_METRICS = ("recall@5", "mrr@10", "section_hit@10", "citation_precision", "citation_recall", "gold_cited",
                    "short_answer_correct", "support_rate", "rougeL")


def _entry(value: float | None, n: int, reason: str = "aucune question concernée") -> dict[str, Any]:
    if value is None:
        return {"value": None, "n": 0, "status": NOT_MEASURED, "reason": reason}
    return {"value": value, "n": n, "status": MEASURED, "reason": ""}


def _values(records: list[dict[str, Any]], name: str) -> list[float]:
    return [r["metrics"][name] for r in records if r["metrics"].get(name) is not None]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if not r.get("error")]
    out: dict[str, dict[str, Any]] = {}
    for info in METRICS:
        if info.group in ("recherche", "réponse") and info.name not in ("answer_rate", "abstention_precision",
                                                                           "abstention_recall", "abstention_f1",
                                                                           "unanswerable_confident"):
            values = _values(ok, info.name)
            out[info.name] = _entry(m.mean(values), len(values))
    outcomes = [(r["answerable"], r["response"]["abstained"]) for r in ok]
    for name, value in m.abstention_scores(outcomes).items():
        concerned = {"abstention_precision": lambda a, did: did, "abstention_recall": lambda a, did: not a}.get(
            name, lambda a, did: did or not a)
        relevant = sum(1 for a, did in outcomes if concerned(a, did))
        out[name] = _entry(value, relevant, "aucune question hors corpus dans le jeu")
    answered = [not did for a, did in outcomes if a]
    out["answer_rate"] = _entry(m.mean(float(x) for x in answered), len(answered))
    # The wrong answers a professional would trust: given on a question the corpus does not answer, with no caution.
    banded = [r["response"] for r in ok if not r["answerable"] and r["response"].get("confidence")]
    out["unanswerable_confident"] = _entry(
        m.mean(float(not resp["abstained"] and resp["confidence"] == "élevée") for resp in banded), len(banded),
        "aucune question hors corpus avec un niveau de confiance dans le jeu")
    for name in JUDGE_METRICS:
        scores = [r["judge"][name] for r in ok if name in r.get("judge", {})]
        measured = [s["value"] for s in scores if s["status"] == MEASURED]
        reasons = Counter(s["reason"] for s in scores if s["status"] != MEASURED)
        reason = reasons.most_common(1)[0][0] if reasons else "aucune question concernée"
        out[name] = _entry(m.mean(measured), len(measured), reason)
        if measured and reasons:
            out[name]["reason"] = f"{sum(reasons.values())} question(s) non mesurée(s) : {reason}"
    latencies = [r["latency_s"] for r in ok]
    out["latency_mean_s"] = _entry(m.mean(latencies), len(latencies))
    out["latency_p50_s"] = _entry(m.percentile(latencies, 50), len(latencies))
    out["latency_p95_s"] = _entry(m.percentile(latencies, 95), len(latencies))
    retrieval = [r["retrieval"]["latency_s"] for r in ok]
    out["retrieval_latency_mean_s"] = _entry(m.mean(retrieval), len(retrieval))
    for key in ("in", "out"):
        tokens = [r["response"]["tokens"][key] for r in ok if key in r["response"]["tokens"]]
        out[f"tokens_{key}"] = _entry(float(sum(tokens)) if tokens else None, len(tokens),
                                      "aucun appel au LLM (mode extractif)")
    return {"metrics": out, "per_category": _per_category(ok), "steps": _steps(ok),
            "questions": len(records), "errors": [r["qid"] for r in records if r.get("error")],
            "modes": dict(Counter(r["response"]["mode"] for r in ok))}


def _per_category(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record["category"]].append(record)
    table = {}
    for category, items in groups.items():
        row: dict[str, Any] = {"questions": len(items)}
        for name in CATEGORY_METRICS:
            row[name] = m.mean(r["metrics"].get(name) for r in items)
        row["abstention_rate"] = m.mean(1.0 if r["response"]["abstained"] else 0.0 for r in items)
        row["latency_mean_s"] = m.mean(r["latency_s"] for r in items)
        table[category] = row
    return table


def _steps(records: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds per step of the assistant (``AssistantResponse.timings``), over the questions that ran it."""
    per_step: dict[str, list[float]] = defaultdict(list)
    for record in records:
        for step, seconds in record["response"]["timings"].items():
            per_step[step].append(seconds)
    return {step: sum(v) / len(v) for step, v in per_step.items()}


def find_previous(meta: dict[str, Any], report_dir: Path, reports_root: Path) -> Path | None:
    """The latest report in ``reports_root``, before ``meta["created"]``, of the same dataset, corpus, mode and variant."""
    candidates = []
    for other in reports_root.glob("*/results.json"):
        if other.parent.resolve() == report_dir.resolve():
            continue
        try:
            other_meta = json.loads(other.read_text(encoding="utf-8"))["meta"]
        except (json.JSONDecodeError, KeyError):
            continue
        same = all(other_meta.get(k) == meta.get(k) for k in ("dataset_name", "corpus_name", "mode")) and \
            other_meta.get("variant", "tel_quel") == meta.get("variant", "tel_quel")
        if same and other_meta.get("created", "") < meta.get("created", ""):
            candidates.append((other_meta["created"], other.parent))
    return max(candidates)[1] if candidates else None
