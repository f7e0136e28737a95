"""Reranker feasibility benchmark → ``bench/results/reranker.{json,md}``.

Can the 2-core default afford a cross-encoder at all? The product's reranking path (``reranker.enabled``,
``reranker.model``, ``reranker.top_n``: the ``top_n`` fused candidates are scored by a sentence-transformers
``CrossEncoder`` before the answer) is timed inside the extractive ``ask``, against the same ``ask``
without reranking, interleaved question by question in the same run (the ratio is what counts on a
shared machine).

Without ``--model`` the cross-encoder is built from the shipped multilingual-e5-small weights — the
initialisation a fine-tuned reranker would have here (same architecture, same cost) — with an untrained
scoring head: its latency is real, its ranking is not, so only latency is reported. With ``--model`` (a
trained cross-encoder folder, e.g. bge-reranker-v2-m3 copied locally) the gold-first rate and MRR@10 of the
reranked passages are reported too.

    python -m bench.reranker                    # CASF questions when ../shared/data is there, else the demo set
    python -m bench.reranker --questions 20 --top-n 8 30
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    available,
    latency_summary,
    load_average,
    load_embedder,
    md_table,
    read_jsonl,
    report_head,
    results_header,
    services_for,
    shared_data_dir,
    write_results,
)

DATASETS_DIR = PROJECT_ROOT / "eval" / "datasets"
LATENCY_BUDGET_S = 1.5  # extractive ask p50 allowed with a reranker (2 cores)


def questions_and_corpus(settings: Settings, limit: int) -> tuple[str, Path, list[dict[str, Any]]]:
    casf = shared_data_dir(settings) / "casf" / "articles.jsonl"
    if available(casf, "CASF"):
        rows = read_jsonl(DATASETS_DIR / "casf-questions.jsonl", limit)
        return "casf", casf, [{"question": r["question"], "gold": r["gold_docs"]} for r in rows]
    rows = [r for r in read_jsonl(DATASETS_DIR / "demo-questions.jsonl") if r.get("gold_doc_ids")][:limit]
    return "demo", settings.resolve(settings.data.corpus_dir), [{"question": r["question"], "gold": r["gold_doc_ids"]}
                                                                for r in rows]


def shipped_e5_folder(settings: Settings) -> Path:
    from assistant.components.embedding import _model_location

    return Path(_model_location(settings.embedding, settings.resolve(settings.embedding.models_dir)))


def rank_metrics(ranked: list[list[str]], golds: list[list[str]]) -> dict[str, float]:
    first = [float(bool(r) and r[0] in g) for r, g in zip(ranked, golds)]
    reciprocal = [next((1.0 / (i + 1) for i, d in enumerate(r[:10]) if d in g), 0.0) for r, g in zip(ranked, golds)]
    return {"gold_first": round(statistics.mean(first), 3), "mrr@10": round(statistics.mean(reciprocal), 3)}


def run(settings: Settings, top_ns: list[int], model: Path | None, out_dir: Path,
        question_set: tuple[str, Path, list[dict[str, Any]]]) -> dict[str, Any]:
    """``question_set``: (name, corpus, questions as {question, gold}), e.g. ``questions_and_corpus``'s."""
    from eval.index import ensure_indexed, eval_settings

    name, corpus, questions = question_set
    header = results_header(settings)  # the load average at the start
    embedder = load_embedder(settings)
    trained = model is not None
    model = model or shipped_e5_folder(settings)
    base = eval_settings(settings, corpus)
    plain = services_for(base, embedder)
    store = plain.store
    try:
        print(f"[{name}] index…", flush=True)
        ensure_indexed(plain, corpus)
        variants = {"sans reranker": plain}
        for top_n in top_ns:
            reranked = base.model_copy(update={"reranker": base.reranker.model_copy(
                update={"enabled": True, "model": str(model), "top_n": top_n})})
            variants[f"reranker top_n={top_n}"] = services_for(reranked, embedder, store)
        assistants = {label: services.assistant for label, services in variants.items()}
        for assistant in assistants.values():  # warm-up (model loading is not a per-question cost)
            assistant.ask(questions[0]["question"], mode="extractif")
        totals: dict[str, list[float]] = {label: [] for label in assistants}
        reranks: dict[str, list[float]] = {label: [] for label in assistants}
        ranked: dict[str, list[list[str]]] = {label: [] for label in assistants}
        for number, q in enumerate(questions, start=1):
            for label, assistant in assistants.items():  # interleaved: the load hits every variant alike
                response = assistant.ask(q["question"], mode="extractif")
                totals[label].append(response.timings.get("total", 0.0))
                retrieval = variants[label].retriever.run(q["question"])
                reranks[label].append(retrieval.timings.get("rerank", 0.0))
                ranked[label].append([p.doc_id for p in retrieval.passages])
            if number % 5 == 0:
                print(f"  {number}/{len(questions)}", flush=True)
    finally:
        store.close()
    baseline = statistics.median(totals["sans reranker"])
    data: dict[str, Any] = header | {
        "parameters": {"corpus": name, "questions": len(questions), "top_n": top_ns,
                       "model": str(model.relative_to(PROJECT_ROOT)) if model.is_relative_to(PROJECT_ROOT) else model.name,
                       "trained_head": trained, "latency_budget_p50_s": LATENCY_BUDGET_S},
        "variants": {},
    }
    for label in assistants:
        entry = {"ask_ms": latency_summary(totals[label]), "rerank_ms": latency_summary(reranks[label]),
                 "ratio_to_baseline_p50": round(statistics.median(totals[label]) / baseline, 2) if baseline else None}
        if trained or label == "sans reranker":
            entry |= rank_metrics(ranked[label], [q["gold"] for q in questions])
        data["variants"][label] = entry
    data["machine"]["load_average_at_end"] = load_average()
    write_results("reranker", data, markdown(data), out_dir)
    return data


def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = report_head("reranker (cross-encoder) sur 2 cœurs", data) + [
        f"- Corpus : {p['corpus']} ({p['questions']} questions), réponses extractives, chaque question posée à chaque "
        "variante à tour de rôle (même charge).",
        f"- Cross-encoder : `{p['model']}`" + ("" if p["trained_head"] else
                                               " (poids e5-small livrés, tête de score non entraînée : latence réelle, "
                                               "classement non significatif, non rapporté)"),
        f"- Budget : `ask` extractif p50 ≤ {p['latency_budget_p50_s']} s avec le reranker.", "",
    ]
    rows = []
    for label, v in data["variants"].items():
        rows.append([label, v["ask_ms"]["p50_ms"], v["ask_ms"]["p95_ms"], v["rerank_ms"]["p50_ms"], v["ratio_to_baseline_p50"],
                     v.get("gold_first", "—"), v.get("mrr@10", "—")])
    lines.append(md_table(["variante", "ask p50 (ms)", "ask p95 (ms)", "reranking p50 (ms)", "× sans reranker (p50)",
                           "attendu 1er", "MRR@10"], rows))
    within = {label: v["ask_ms"]["p50_ms"] is not None and v["ask_ms"]["p50_ms"] <= 1000 * p["latency_budget_p50_s"]
              for label, v in data["variants"].items() if label != "sans reranker"}
    lines += ["", "Dans le budget : " + ", ".join(f"{label} : {'oui' if ok else 'non'}" for label, ok in within.items()) + ".",
              "", f"Charge en fin de banc : {data['machine']['load_average_at_end']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai : coût d'un reranker cross-encoder dans la réponse.")
    parser.add_argument("--questions", type=int, default=30, help="questions posées (défaut : 30)")
    parser.add_argument("--top-n", type=int, nargs="+", default=[8, 30],
                        help="candidats reclassés par le cross-encoder (défaut : 8 et 30, le réglage livré)")
    parser.add_argument("--model", type=Path, default=None,
                        help="dossier d'un cross-encoder entraîné (défaut : poids e5-small livrés, latence seule)")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_ROOT / "bench" / "results", help="dossier des résultats")
    args = parser.parse_args(argv)
    settings = Settings()
    run(settings, args.top_n, args.model, args.out_dir, questions_and_corpus(settings, args.questions))


if __name__ == "__main__":
    main()
