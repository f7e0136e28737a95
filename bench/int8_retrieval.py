"""Retrieval quality of the int8 runtime against fp32 → ``bench/results/retrieval-int8.{json,md}``.

The same corpora and questions as ``bench.retrieval`` (service-public, CASF), indexed twice in the same run:
``embedding.runtime: torch`` (fp32) and ``onnx-int8``; dense-only and the shipped hybrid retriever are scored
on both (document-level recall@1/5/10, MRR@10, nDCG@10). Target: every metric within 0.005 of fp32.
``--sp-fiches`` / ``--casf-articles`` take a subset of each corpus (every gold document of the kept questions,
then others up to the count): the fp32 indexing of the full corpora takes about 7 minutes on 2 free cores.

    python -m bench.int8_retrieval
    python -m bench.int8_retrieval --sp-fiches 200 --casf-articles 500 --sp-limit 150
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from assistant.settings import Settings
from bench.common import (
    add_output_arguments,
    load_average,
    load_embedder,
    md_table,
    prepare_index,
    read_jsonl,
    report_head,
    results_header,
    write_results,
)
from bench.retrieval import METRICS, CachedQueries, Dataset, evaluate, load_datasets, make_retriever, product_search

RUNTIMES = ("torch", "onnx-int8")
TOLERANCE = 0.005


def subset(dataset: Dataset, count: int | None, folder: Path) -> Dataset:
    """The gold documents of the questions first, then the corpus order, up to ``count`` documents."""
    if count is None:
        return dataset
    rows = read_jsonl(dataset.corpus)
    gold = {d for q in dataset.questions for d in q.gold}
    kept = [r for r in rows if r["id"] in gold]
    kept += [r for r in rows if r["id"] not in gold][: max(0, count - len(kept))]
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / f"{dataset.name}.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    return Dataset(dataset.name, corpus, dataset.questions, dataset.index_dir)


def measure(settings: Settings, datasets: list[Dataset], work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for runtime in RUNTIMES:
        run_settings = settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"runtime": runtime})})
        cached = CachedQueries(load_embedder(run_settings))
        for dataset in datasets:
            ds_settings, index, store = prepare_index(run_settings, cached.embedder, dataset.corpus,
                                                      work / runtime / dataset.name, f"{dataset.name} / {runtime}")
            try:
                documents = sum(1 for line in dataset.corpus.open(encoding="utf-8") if line.strip())
                entry = results.setdefault(dataset.name, {"documents": documents, "chunks": index["chunks"]})
                entry[runtime] = {
                    "dense": evaluate(product_search(make_retriever(ds_settings, cached, store), "dense"), dataset.questions),
                    "default": evaluate(product_search(make_retriever(ds_settings, cached, store)), dataset.questions),
                    "index_s": index.get("seconds"),
                }
            finally:
                store.close()
    for entry in results.values():
        entry["deltas"] = {
            retriever: {m: round(entry["onnx-int8"][retriever][m] - entry["torch"][retriever][m], 4) for m in METRICS}
            for retriever in ("dense", "default")
        }
        entry["within_tolerance"] = all(abs(v) <= TOLERANCE for d in entry["deltas"].values() for v in d.values())
    return results


def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = [*report_head("recherche, int8 (ONNX Runtime) contre fp32", data),
             f"- Corpus : {p['subset']} ; questions : {p['questions']}. Les deux index sont construits dans la même "
             f"exécution ; métriques au niveau du document (rang du meilleur passage). Objectif : |écart| ≤ {TOLERANCE}.", ""]
    for name, entry in data["datasets"].items():
        lines += [f"## {name} ({entry['documents']} documents, {entry['chunks']} passages)", "", md_table(
            ["recherche", "exécution", *METRICS],
            [[retriever, runtime, *[entry[runtime][retriever][m] for m in METRICS]]
             for retriever in ("dense", "default") for runtime in RUNTIMES]
            + [[retriever, "écart int8 − fp32", *[entry["deltas"][retriever][m] for m in METRICS]] for retriever in ("dense", "default")],
        ), "", f"- Tous les écarts ≤ {TOLERANCE} : **{'oui' if entry['within_tolerance'] else 'NON'}**", ""]
    lines.append("- « default » : le récupérateur hybride livré (dense + BM25, RRF dans Qdrant, réglages par défaut).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Qualité de recherche int8 contre fp32.")
    parser.add_argument("--sp-limit", type=int, default=None, help="questions service-public (défaut : toutes)")
    parser.add_argument("--casf-limit", type=int, default=None, help="questions CASF (défaut : toutes)")
    parser.add_argument("--sp-fiches", type=int, default=None, help="fiches service-public indexées (défaut : toutes)")
    parser.add_argument("--casf-articles", type=int, default=None, help="articles CASF indexés (défaut : tous)")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    settings = Settings()
    data: dict[str, Any] = results_header(settings) | {"datasets": {}}
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        datasets = [subset(d, {"service-public": args.sp_fiches, "casf": args.casf_articles}[d.name], Path(tmp) / "corpus")
                    for d in load_datasets(settings, args.sp_limit, args.casf_limit)]
        if not datasets:
            print("Aucun jeu de données disponible : rien à mesurer.", flush=True)
            return
        data["parameters"] = {
            "subset": f"fiches service-public {args.sp_fiches or 'toutes'}, articles CASF {args.casf_articles or 'tous'}",
            "questions": {d.name: len(d.questions) for d in datasets}, "tolerance": TOLERANCE,
        }
        data["datasets"] = measure(settings, datasets, Path(tmp) / "index")
    data["machine"]["load_average_at_end"] = load_average()
    write_results("retrieval-int8", data, markdown(data), args.out_dir)


if __name__ == "__main__":
    main()
