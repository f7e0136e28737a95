"""Retrieval benchmark → ``bench/results/retrieval.{json,md}``.

Datasets: service-public (530 fiches, 425 development questions) and CASF (2,854 articles, questions
of ``eval/datasets/casf-questions.jsonl``). Each corpus is indexed once into ``.cache/bench/<dataset>``
(idempotent, reused across runs). Retrievers: ``bm25`` (sparse mode), ``dense``, ``hybrid`` (RRF
k=60, weights 1/1, prefetch 60, in Qdrant), ``hybrid_rerank`` (when a cross-encoder is configured),
``llamaindex_naive`` (a default ``VectorStoreIndex`` retriever over the same chunk vectors) and
``default`` (the shipped ``Settings().retrieval``). Metrics at document level (a document's rank is
its best chunk's): recall@1/5/10 (a question is found when one of its gold documents is), MRR@10,
nDCG@10, and per-query latency. Then a grid over the fusion parameters on the service-public
development set, and the store's latency at 1k/10k/50k chunks.

    python -m bench.retrieval
    python -m bench.retrieval --sizes 1000,10000 --sp-limit 200
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.components.vector_store import PointRecord, point_id
from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    BENCH_CACHE,
    add_output_arguments,
    available,
    bench_settings,
    folder_mb,
    iter_points,
    latency_summary,
    llamaindex_embedding,
    load_average,
    load_embedder,
    md_table,
    open_store,
    prepare_index,
    read_jsonl,
    report_head,
    results_header,
    services_for,
    shared_data_dir,
    write_results,
)

DEPTH = 50  # chunks asked of every retriever; documents are ranked by their best chunk
KS = (1, 5, 10)
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
GRID = {"dense_weight": (0.5, 1.0, 2.0), "sparse_weight": (0.5, 1.0, 2.0), "prefetch_k": (20, 60, 100), "rrf_k": (10, 60)}
HYBRID_REFERENCE = {"rrf_k": 60, "dense_weight": 1.0, "sparse_weight": 1.0, "prefetch_k": 60}
SINGLE = ("bm25", "dense")
NOISE = 0.02  # per-dimension noise of distractor vectors (cosine ≈ 0.93 with their source)


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    gold: frozenset[str]


@dataclass
class Dataset:
    name: str
    corpus: Path
    questions: list[Question]
    index_dir: Path


def load_datasets(settings: Settings, sp_limit: int | None, casf_limit: int | None) -> list[Dataset]:
    """The datasets whose files exist (the others are skipped with a message)."""
    data = shared_data_dir(settings)
    datasets = []
    sp = data / "service-public"
    if available(sp / "fiches.jsonl", "service-public") and available(sp / "questions-dev.jsonl", "service-public (questions)"):
        questions = [Question(r["qid"], r["question"], frozenset([r["gold_doc"]]))
                     for r in read_jsonl(sp / "questions-dev.jsonl", sp_limit)]
        datasets.append(Dataset("service-public", sp / "fiches.jsonl", questions, BENCH_CACHE / "service-public"))
    casf = data / "casf" / "articles.jsonl"
    casf_questions = PROJECT_ROOT / "eval" / "datasets" / "casf-questions.jsonl"
    if available(casf, "CASF") and available(casf_questions, "questions CASF"):
        questions = [Question(r["qid"], r["question"], frozenset(r["gold_docs"])) for r in read_jsonl(casf_questions, casf_limit)]
        datasets.append(Dataset("casf", casf, questions, BENCH_CACHE / "casf"))
    return datasets


# --- metrics ------------------------------------------------------------------------------------------
def doc_ranking(doc_ids: Iterable[str]) -> list[str]:
    """Documents in the order of their best chunk."""
    return list(dict.fromkeys(doc_ids))


def score(ranking: list[str], gold: frozenset[str]) -> dict[str, float]:
    first = next((i for i, d in enumerate(ranking[:10]) if d in gold), None)
    scores = {f"recall@{k}": float(first is not None and first < k) for k in KS}
    scores["mrr@10"] = 0.0 if first is None else 1.0 / (first + 1)
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if d in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), 10)))
    scores["ndcg@10"] = dcg / ideal
    return scores


def evaluate(search: Callable[[str], list[str]], questions: list[Question]) -> dict[str, Any]:
    """Mean metrics over ``questions``."""
    totals = dict.fromkeys(METRICS, 0.0)
    for question in questions:
        for name, value in score(doc_ranking(search(question.text)), question.gold).items():
            totals[name] += value
    result: dict[str, Any] = {name: round(value / len(questions), 4) for name, value in totals.items()}
    result["questions"] = len(questions)
    return result


def time_searches(search: Callable[[str], Any], texts: list[str], warm_up: int = 3) -> dict[str, Any]:
    """p50/p95 per query, after a few untimed warm-up queries."""
    for text in texts[:warm_up]:
        search(text)
    seconds = []
    for text in texts:
        started = time.perf_counter()
        search(text)
        seconds.append(time.perf_counter() - started)
    return latency_summary(seconds) | {"latency_queries": len(texts)}


# --- retrievers ---------------------------------------------------------------------------------------
def make_retriever(settings: Settings, embedder: Any, store: Any, reranker: dict[str, Any] | None = None, **retrieval: Any) -> Any:
    """The product's retriever (as ``Services`` builds it) with some retrieval/reranker settings changed."""
    update: dict[str, Any] = {"retrieval": settings.retrieval.model_copy(update=retrieval)}
    if reranker is not None:
        update["reranker"] = settings.reranker.model_copy(update=reranker)
    return services_for(settings.model_copy(update=update), embedder, store).retriever


def product_search(retriever: Any, mode: str = "hybrid") -> Callable[[str], list[str]]:
    return lambda text: [p.doc_id for p in retriever.run(text, top_k=DEPTH, mode=mode).passages]


def llamaindex_search(store: Any, embedder: Any) -> Callable[[str], list[str]]:
    """llama-index's default ``VectorStoreIndex`` (in-memory) over the index's own chunk vectors."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    nodes = [TextNode(id_=pid, text=payload.get("text", ""), metadata={"doc_id": payload["doc_id"]}, embedding=dense.tolist())
             for pid, dense, _, payload in iter_points(store)]
    retriever = VectorStoreIndex(nodes, embed_model=llamaindex_embedding(embedder)).as_retriever(similarity_top_k=DEPTH)
    return lambda text: [hit.node.metadata["doc_id"] for hit in retriever.retrieve(text)]


class CachedQueries:
    """The embedder with memoised query vectors: retrievers and the fusion grid ask the same questions."""

    def __init__(self, embedder: Any):
        self.embedder = embedder
        self.dimension = embedder.dimension
        self.model_name = embedder.model_name
        self.cache: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.embedder.embed_queries(missing)))
        return np.stack([self.cache[t] for t in texts])


def bench_retrievers(dataset: Dataset, settings: Settings, embedder: Any, cached: CachedQueries, store: Any,
                     reranker_model: str | None, latency_sample: int) -> dict[str, Any]:
    """Quality on every question with memoised query vectors; latency on the first ``latency_sample``
    questions with the real model, so that it includes encoding the question."""
    questions = dataset.questions
    results: dict[str, Any] = {}
    runs: list[tuple[str, Callable[[Any], Callable[[str], list[str]]]]] = [
        ("bm25", lambda e: product_search(make_retriever(settings, e, store), "sparse")),
        ("dense", lambda e: product_search(make_retriever(settings, e, store), "dense")),
        ("hybrid", lambda e: product_search(make_retriever(settings, e, store, **HYBRID_REFERENCE))),
        ("llamaindex_naive", lambda e: llamaindex_search(store, e)),
        ("default", lambda e: product_search(services_for(settings, e, store).retriever)),
    ]
    if reranker_model:
        runs.insert(3, ("hybrid_rerank", lambda e: product_search(make_retriever(
            settings, e, store, reranker={"enabled": True, "model": reranker_model}, **HYBRID_REFERENCE))))
    else:
        results["hybrid_rerank"] = {"status": "non mesuré", "reason": (
            "aucun modèle de reranking (cross-encoder) disponible hors ligne : reranker.model n'est pas configuré "
            "et aucun paquet installable ne fournit de poids (voir ../shared/MODELS.md) ; --reranker-model CHEMIN pour le mesurer")}
    for name, build in runs:
        print(f"[{dataset.name}] {name} ({len(questions)} questions)…", flush=True)
        try:
            results[name] = evaluate(build(cached), questions)
            results[name] |= time_searches(build(embedder), [q.text for q in questions[:latency_sample]])
        except Exception as exc:  # e.g. a reranker that cannot load: recorded, the bench goes on
            results[name] = {"status": "non mesuré", "reason": f"{type(exc).__name__}: {exc}"}
    return results


def check_default(retrievers: dict[str, Any], candidate: str = "default") -> dict[str, Any]:
    """Is ``candidate`` ≥ each single retriever on R@10 and strictly better on MRR@10?"""
    c = retrievers[candidate]
    checks = {f"recall@10 ≥ {s}": c["recall@10"] >= retrievers[s]["recall@10"] for s in SINGLE if "recall@10" in retrievers.get(s, {})}
    checks |= {f"mrr@10 > {s}": c["mrr@10"] > retrievers[s]["mrr@10"] for s in SINGLE if "mrr@10" in retrievers.get(s, {})}
    return {"checks": checks, "passed": bool(checks) and all(checks.values())}


# --- fusion grid (service-public development questions) ------------------------------------------------
def fusion_grid(dataset: Dataset, settings: Settings, cached: CachedQueries, store: Any) -> list[dict[str, Any]]:
    rows = []
    combos = list(itertools.product(*GRID.values()))
    print(f"[{dataset.name}] grille de fusion : {len(combos)} combinaisons…", flush=True)
    for values in combos:
        params = dict(zip(GRID, values))
        metrics = evaluate(product_search(make_retriever(settings, cached, store, **params)), dataset.questions)
        rows.append(params | {m: metrics[m] for m in METRICS})
    rows.sort(key=lambda r: (r["mrr@10"], r["recall@10"], r["ndcg@10"]), reverse=True)
    return rows


# --- latency against corpus size ----------------------------------------------------------------------
def latency_by_size(dataset: Dataset, settings: Settings, cached: CachedQueries, store: Any, sizes: list[int],
                    n_queries: int, workdir: Path) -> list[dict[str, Any]]:
    """The default retriever on stores of N chunks: the real ones, plus distractors that are perturbed
    copies of real vectors (same sparse vector, new document id). Question vectors are memoised: the
    times are the store's search and the retriever without the model."""
    points = list(iter_points(store))
    rng = np.random.default_rng(0)
    questions = dataset.questions[:n_queries]
    rows = []
    for size in sizes:
        print(f"[{dataset.name}] latence à {size} passages…", flush=True)
        size_settings = bench_settings(workdir / f"size-{size}", base=settings)
        target = open_store(size_settings)
        target.ensure_collection(cached.dimension)
        started = time.perf_counter()
        batch: list[PointRecord] = []
        for i in range(size):
            pid, dense, sparse, payload = points[i % len(points)]
            if i >= len(points):
                noisy = dense + NOISE * rng.standard_normal(dense.shape[0]).astype(np.float32)
                dense, pid = noisy / np.linalg.norm(noisy), point_id("distracteur", str(i))
                payload = payload | {"doc_id": f"distracteur-{i}"}
            batch.append(PointRecord(pid, dense, sparse, payload))
            if len(batch) == settings.qdrant.upsert_batch_size or i == size - 1:
                target.upsert(batch)
                batch = []
        upsert_s = time.perf_counter() - started
        started = time.perf_counter()
        target.close()
        close_s = time.perf_counter() - started
        target = open_store(size_settings)
        retriever = services_for(size_settings, cached, target).retriever
        for q in questions[:3]:
            retriever.run(q.text)
        search, total = [], []
        for q in questions:
            timings = retriever.run(q.text).timings
            search.append(timings["search"])
            total.append(timings["total"])
        target.close()
        rows.append({
            "chunks": size, "real_chunks": min(size, len(points)), "queries": len(questions),
            "upsert_s": round(upsert_s, 1), "optimize_s": round(close_s, 1), "disk_mb": folder_mb(workdir / f"size-{size}"),
            "search": latency_summary(search), "retriever_without_model": latency_summary(total),
        })
    return rows


# --- report -------------------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = [
        *report_head("recherche", data),
        f"- Paramètres : {DEPTH} passages demandés par question, rang d'un document = son meilleur passage ; "
        f"réglages livrés (`default`) : {p['default_retrieval']}.",
        f"- Questions : {p['questions']} ; index persistants dans `.cache/bench/<jeu>`.",
        "- recall@k : part des questions dont un document de référence est dans les k premiers ; "
        f"latences par requête, encodage de la question compris, sur les {p['latency_queries']} premières questions.",
        "",
    ]
    for name, result in data["datasets"].items():
        corpus = result["index"]
        lines += [f"## {name} ({corpus['chunks']} passages, {result['questions']} questions)", ""]
        rows = []
        for retriever, r in result["retrievers"].items():
            if "recall@10" in r:
                rows.append([retriever] + [r[m] for m in METRICS] + [r["p50_ms"], r["p95_ms"]])
            else:
                rows.append([retriever, r["status"] + " : " + r["reason"][:160]] + [None] * 6)
        lines += [md_table(["recherche", *METRICS, "p50 (ms)", "p95 (ms)"], rows), ""]
        check = result["default_check"]
        verdict = "oui" if check["passed"] else "NON"
        details = ", ".join(f"{k} : {'oui' if v else 'non'}" for k, v in check["checks"].items())
        lines += [f"- `default` ≥ chaque recherche simple en recall@10 et strictement meilleur en MRR@10 : **{verdict}** ({details})", ""]
    grid = data.get("grid")
    if grid:
        lines += [f"## Grille de fusion (réglée sur {grid['dataset']} : données de DÉVELOPPEMENT)", "",
                  "Le réglage utilise le jeu de développement : ces scores ne sont pas une mesure sur données tenues à l'écart.", "",
                  md_table([*GRID, *METRICS], [[r[k] for k in (*GRID, *METRICS)] for r in grid["results"][:10]]), "",
                  f"- Combinaisons qui battent chaque recherche simple sur ce jeu : {grid['eligible_on_dev']} sur {len(grid['results'])}",
                  f"- Meilleure d'entre elles (MRR@10, puis recall@10 ; toutes si aucune) : `{grid['best']}`"]
        for name, check in grid.get("best_checks", {}).items():
            metrics = grid["best_metrics"][name]
            lines.append(f"- Sur {name} : " + ", ".join(f"{m} {metrics[m]}" for m in METRICS)
                         + f" ; ≥ recherches simples : **{'oui' if check['passed'] else 'NON'}**")
        lines.append(f"- Réglages livrés actuels : `{data['parameters']['default_retrieval']}` ; changement conseillé : "
                     f"**{'oui' if grid['recommend_change'] else 'non'}**")
        lines.append("")
    if data.get("latency_by_size"):
        lines += ["## Latence du magasin selon la taille de l'index (recherche `default`)", "",
                  "Au-delà des passages réels : copies perturbées de vecteurs réels (distracteurs).", "",
                  md_table(["passages", "dont réels", "écriture (s)", "optimisation (s)", "disque (Mio)",
                            "recherche p50 (ms)", "recherche p95 (ms)", "hors modèle p50 (ms)", "hors modèle p95 (ms)"],
                           [[r["chunks"], r["real_chunks"], r["upsert_s"], r["optimize_s"], r["disk_mb"], r["search"]["p50_ms"],
                             r["search"]["p95_ms"], r["retriever_without_model"]["p50_ms"], r["retriever_without_model"]["p95_ms"]]
                            for r in data["latency_by_size"]]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai de la recherche.")
    parser.add_argument("--sp-limit", type=int, default=None, help="nombre de questions service-public (défaut : 425)")
    parser.add_argument("--casf-limit", type=int, default=None, help="nombre de questions CASF (défaut : toutes)")
    parser.add_argument("--sizes", default="1000,10000,50000", help="tailles d'index pour la latence ('' = aucune)")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--no-grid", action="store_true", help="sans la grille de fusion")
    parser.add_argument("--reranker-model", default=None, help="cross-encoder (dossier local) pour hybrid_rerank")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    settings = Settings()
    run(settings, load_datasets(settings, args.sp_limit, args.casf_limit), args.out_dir,
        sizes=[int(s) for s in args.sizes.split(",") if s.strip()], latency_queries=args.latency_queries,
        grid=not args.no_grid, reranker_model=args.reranker_model or (settings.reranker.model if settings.reranker.enabled else None))


def run(settings: Settings, datasets: list[Dataset], out_dir: Path, *, sizes: list[int], latency_queries: int,
        grid: bool, reranker_model: str | None, dev_name: str = "service-public") -> dict[str, Any]:
    """Indexes each dataset (once), measures every retriever, then the fusion grid on ``dev_name`` and the
    latency against index size on ``dev_name`` (or the first dataset)."""
    if not datasets:
        print("Aucun jeu de données disponible : rien à mesurer.", flush=True)
        return {}
    embedder = load_embedder(settings)
    cached = CachedQueries(embedder)
    data: dict[str, Any] = results_header(settings, reranker=reranker_model) | {
        "parameters": {"depth_chunks": DEPTH, "default_retrieval": settings.retrieval.model_dump(),
                       "hybrid_reference": HYBRID_REFERENCE, "grid_space": GRID, "sizes": sizes,
                       "latency_queries": latency_queries, "questions": {d.name: len(d.questions) for d in datasets}},
        "datasets": {},
    }
    stores: dict[str, Any] = {}
    try:
        for dataset in datasets:
            ds_settings, index, store = prepare_index(settings, embedder, dataset.corpus, dataset.index_dir, dataset.name,
                                                      " (construit une fois, puis réutilisé)")
            stores[dataset.name] = store
            retrievers = bench_retrievers(dataset, ds_settings, embedder, cached, store, reranker_model, latency_queries)
            data["datasets"][dataset.name] = {"index": index, "questions": len(dataset.questions),
                                              "retrievers": retrievers, "default_check": check_default(retrievers)}
        dev = next((d for d in datasets if d.name == dev_name), None)
        if grid and dev is not None:
            data["grid"] = grid_report(dev, datasets, settings, cached, stores, data)
        if sizes:
            source = dev or datasets[0]
            with tempfile.TemporaryDirectory(prefix="bench-latence-") as tmp:
                data["latency_by_size"] = latency_by_size(source, bench_settings(source.index_dir, base=settings), cached,
                                                          stores[source.name], sizes, latency_queries, Path(tmp))
    finally:
        for store in stores.values():
            store.close()
    data["machine"]["load_average_at_end"] = load_average()
    write_results("retrieval", data, markdown(data), out_dir)
    return data


def grid_report(dev: Dataset, datasets: list[Dataset], settings: Settings, cached: CachedQueries, stores: dict[str, Any],
                data: dict[str, Any]) -> dict[str, Any]:
    """The best grid point (MRR@10, then recall@10) among those that beat each single retriever on the
    development set (all points when none does), then checked on every dataset."""
    rows = fusion_grid(dev, bench_settings(dev.index_dir, base=settings), cached, stores[dev.name])
    dev_retrievers = data["datasets"][dev.name]["retrievers"]
    eligible = [r for r in rows if check_default(dev_retrievers | {"grid_point": r}, "grid_point")["passed"]]
    best = {k: (eligible or rows)[0][k] for k in GRID}
    report: dict[str, Any] = {"dataset": f"{dev.name} (questions de développement)", "tuned_on_dev": True,
                              "results": rows, "eligible_on_dev": len(eligible), "best": best,
                              "best_metrics": {}, "best_checks": {}}
    for dataset in datasets:
        ds_settings = bench_settings(dataset.index_dir, base=settings)
        retrievers = dict(data["datasets"][dataset.name]["retrievers"])
        retrievers["grid_best"] = evaluate(product_search(make_retriever(ds_settings, cached, stores[dataset.name], **best)),
                                           dataset.questions)
        report["best_metrics"][dataset.name] = retrievers["grid_best"]
        report["best_checks"][dataset.name] = check_default(retrievers, "grid_best")
    current = {k: getattr(settings.retrieval, k) for k in GRID}
    better = all(
        report["best_metrics"][name]["mrr@10"] > data["datasets"][name]["retrievers"]["default"]["mrr@10"]
        for name in report["best_metrics"]
    )
    report["recommend_change"] = best != current and better and all(c["passed"] for c in report["best_checks"].values())
    return report


if __name__ == "__main__":
    main()
