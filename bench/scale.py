"""National-scale benchmark of the embedded engine → ``bench/results/scale.{json,md}``.

An index of 101 synthetic territories (the départements, Corsica and overseas included) at 200,000 and
1,000,000 passages, plus a 20,000-passage baseline built in the same run (timings are also given as ratios
to it, since the machine is shared). Passages are real: chunks of the CASF articles and service-public
fiches (``shared_data_dir``), embedded once by the configured model (cached in the index root); the other
points are perturbed copies of their vectors (Gaussian noise, cosine ≈ 0.85 to the source) with the
source's BM25 terms (a quarter dropped at random), assigned to a territory and to access groups:

- 30 % national texts (public); 70 % territorial, spread evenly over the 101 territories, half of them
  public, half visible to the département's group only (``dep-<code>``, some also ``mdph-<code>``).

Each size is built in its own process through the product's ``EdgeStore`` (payload indexes, ``territory``
and ``visibility`` with ``is_tenant``): write time (upserts), optimise time (HNSW graph, at close), disk.
Then a fresh process opens the index and times filtered hybrid queries (dense + BM25, RRF in Qdrant, the
shipped retrieval settings) for real questions, as a user of one département (visibility + territory
filter) and as a national user (visibility filter only): p50/p95, and its memory (RSS). The indexes are
deleted afterwards (``--keep`` keeps them).

    python -m bench.scale                         # 20k (baseline), 200k, 1M
    python -m bench.scale --sizes 20000,200000    # smaller run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    BENCH_CACHE,
    bench_settings,
    folder_mb,
    latency_summary,
    load_average,
    load_embedder,
    md_table,
    open_store,
    read_jsonl,
    report_head,
    results_header,
    shared_data_dir,
    write_results,
)

SIZES = (20_000, 200_000, 1_000_000)
TERRITORIES = tuple(f"{n:02d}" for n in range(1, 96) if n != 20) + ("2A", "2B", "971", "972", "973", "974", "976")
NATIONAL_SHARE = 0.30
RESTRICTED_SHARE = 0.50  # of territorial passages
NOISE_SIGMA = 0.032  # per dimension, on unit vectors of 384 dimensions: cosine ≈ 0.85 to the source
TERM_DROP = 0.25
BATCH = 2048
TARGET_P95_MS = 50.0
assert len(TERRITORIES) == 101


# --- real passages and questions ------------------------------------------------------------------
def real_passages(settings: Settings, count: int) -> list[dict[str, str]]:
    """``count`` chunks of ~1,200 characters: half CASF windows, half service-public fiches."""
    from bench.embedding_speed import build_chunks

    data = shared_data_dir(settings)
    casf = build_chunks(data / "casf" / "articles.jsonl", count // 2)
    fiches = read_jsonl(data / "service-public" / "fiches.jsonl", count - len(casf))
    texts = casf + [" ".join(f["text"].split())[:1200] for f in fiches]
    return [{"text": t, "source": "casf" if i < len(casf) else "service-public"} for i, t in enumerate(texts)]


def real_questions(settings: Settings, count: int) -> list[str]:
    data = shared_data_dir(settings)
    questions = [q["question"] for q in read_jsonl(data / "service-public" / "questions-dev.jsonl")]
    casf = PROJECT_ROOT / "eval" / "datasets" / "casf-questions.jsonl"
    if casf.exists():
        questions += [q["question"] for q in read_jsonl(casf)]
    rng = np.random.default_rng(7)
    return [questions[i] for i in rng.permutation(len(questions))[:count]]


def prepare_sources(settings: Settings, root: Path, n_real: int, n_questions: int) -> Path:
    """Embeds the real passages and questions once (cached in ``root``); returns the cache file."""
    cache = root / f"sources-{n_real}-{settings.embedding.model}-{settings.embedding.runtime}.npz"
    if cache.exists():
        return cache
    passages, questions = real_passages(settings, n_real), real_questions(settings, n_questions)
    embedder = load_embedder(settings)
    started = time.perf_counter()
    vectors = embedder.embed_passages([p["text"] for p in passages])
    embed_s = time.perf_counter() - started
    root.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, query_vectors=embedder.embed_queries(questions),
             texts=np.array([p["text"] for p in passages]), questions=np.array(questions),
             embed_s=np.array(embed_s))
    return cache


# --- points ---------------------------------------------------------------------------------------
def generate(size: int, sources: dict[str, Any], settings: Settings, seed: int = 0):
    """Batches of ``PointRecord``: real passages first, then perturbed copies, with territories and groups."""
    from assistant.components.sparse import FrenchBM25Encoder, SparseVector
    from assistant.components.vector_store import PointRecord, point_id

    rng = np.random.default_rng(seed)
    vectors, texts = sources["vectors"], sources["texts"]
    encoder = FrenchBM25Encoder(settings.sparse)
    sparse = [encoder.encode_passage(str(t)) for t in texts]
    n_real = len(texts)
    for start in range(0, size, BATCH):
        count = min(BATCH, size - start)
        index = np.arange(start, start + count)
        base = index % n_real
        dense = vectors[base].copy()
        copies = index >= n_real
        dense[copies] += NOISE_SIGMA * rng.standard_normal((int(copies.sum()), dense.shape[1])).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        national = rng.random(count) < NATIONAL_SHARE
        territory = rng.integers(0, len(TERRITORIES), count)
        restricted = rng.random(count) < RESTRICTED_SHARE
        mdph = rng.random(count) < 0.3
        records = []
        for k, i in enumerate(index):
            terms = sparse[base[k]]
            if copies[k] and terms.indices:
                keep = rng.random(len(terms.indices)) >= TERM_DROP
                terms = SparseVector([x for x, kept in zip(terms.indices, keep) if kept],
                                     [x for x, kept in zip(terms.values, keep) if kept])
            code = "national" if national[k] else TERRITORIES[territory[k]]
            groups = ["public"]
            if not national[k] and restricted[k]:
                groups = [f"dep-{code}"] + ([f"mdph-{code}"] if mdph[k] else [])
            doc = int(i) // 40
            records.append(PointRecord(point_id("scale", str(i)), dense[k], terms, {
                "doc_id": f"{code}-{doc}", "title": f"Document {doc}", "chunk_index": int(i) % 40,
                "text": str(texts[base[k]]), "doc_type": "loi_reglement" if national[k] else "pratique_territoriale",
                "territory": code, "visibility": groups, "validity": "en_vigueur", "valid_from": None,
                "valid_until": None, "source_file": f"{code}/doc-{doc}.pdf",
            }))
        yield records


# --- workers (one process each) -------------------------------------------------------------------
def worker_build(size: int, index_dir: Path, sources_file: Path, progress: Path | None = None) -> dict[str, Any]:
    """Builds the index; ``progress`` receives the figures known so far after each phase (a run stopped
    during the optimisation still tells its write time and a lower bound of the optimisation's)."""
    settings = bench_settings(index_dir)
    sources = dict(np.load(sources_file))
    store = open_store(settings)
    store.ensure_collection(int(sources["vectors"].shape[1]))
    write_s = generate_s = write_cpu_s = 0.0
    started = time.perf_counter()
    batches = generate(size, sources, settings)
    while True:
        t0 = time.perf_counter()
        records = next(batches, None)
        generate_s += time.perf_counter() - t0
        if records is None:
            break
        t0, c0 = time.perf_counter(), time.process_time()
        store.upsert(records)
        write_s += time.perf_counter() - t0
        write_cpu_s += time.process_time() - c0
    total_s = time.perf_counter() - started
    load_mid = load_average()
    known = {"points_written": size, "write_s": round(write_s, 1), "write_cpu_s": round(write_cpu_s, 1),
             "optimize_started": time.strftime("%H:%M:%S"), "load_average_before_optimize": load_mid}
    if progress:
        progress.write_text(json.dumps(known), encoding="utf-8")
    t0, c0 = time.perf_counter(), time.process_time()
    store.optimize()  # HNSW graph and payload index segments
    optimize_s, optimize_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    count = store.count()
    schema = {name: {"type": str(info.data_type).split(".")[-1], "is_tenant": getattr(info.params, "is_tenant", None)}
              for name, info in store._require().info().payload_schema.items()}
    store.close()
    close_s = time.perf_counter() - t0
    return {
        "points": count, "write_s": round(write_s, 1), "points_per_s_write": round(size / write_s),
        "write_cpu_s": round(write_cpu_s, 1), "optimize_cpu_s": round(optimize_cpu_s, 1),
        "generate_s": round(generate_s, 1), "build_wall_s": round(total_s, 1), "optimize_s": round(optimize_s, 1),
        "close_s": round(close_s, 1), "disk_mib": folder_mb(index_dir), "build_peak_rss_mib": _peak_rss_mib(),
        "payload_indexes": schema, "load_average_before_optimize": load_mid, "load_average_after": load_average(),
    }


def worker_query(size: int, index_dir: Path, sources_file: Path, queries: int) -> dict[str, Any]:
    from assistant.components.sparse import FrenchBM25Encoder
    from assistant.components.vector_store import SearchFilter

    settings = bench_settings(index_dir)
    sources = dict(np.load(sources_file))
    t0 = time.perf_counter()
    store = open_store(settings)
    open_s = time.perf_counter() - t0
    rss_open = _rss_mib()
    encoder = FrenchBM25Encoder(settings.sparse)
    questions = [str(q) for q in sources["questions"]]
    sparse = [encoder.encode_query(q) for q in questions]
    r = settings.retrieval
    rng = np.random.default_rng(1)
    users = {
        "département": lambda: (lambda code: SearchFilter(groups=(f"dep-{code}", f"mdph-{code}"), territories=(code,)))(
            TERRITORIES[int(rng.integers(len(TERRITORIES)))]),
        "national": lambda: SearchFilter(groups=("national",)),
    }
    results: dict[str, Any] = {"open_s": round(open_s, 2), "rss_after_open_mib": rss_open}
    for user, make_filter in users.items():
        for i in range(5):  # warm-up
            store.query_hybrid(sources["query_vectors"][i], sparse[i], limit=r.top_k, prefetch_k=r.prefetch_k,
                               search_filter=make_filter(), rrf_k=r.rrf_k, weights=(r.dense_weight, r.sparse_weight))
        seconds, hits, foreign = [], [], 0
        for i in range(queries):
            q = i % len(questions)
            search_filter = make_filter()
            t0 = time.perf_counter()
            found = store.query_hybrid(sources["query_vectors"][q], sparse[q], limit=r.top_k, prefetch_k=r.prefetch_k,
                                       search_filter=search_filter, rrf_k=r.rrf_k,
                                       weights=(r.dense_weight, r.sparse_weight))
            seconds.append(time.perf_counter() - t0)
            hits.append(len(found))
            allowed = {"public", *search_filter.groups}
            territories = set(search_filter.territories) | {"national"} if search_filter.territories else None
            foreign += sum(1 for p in found if not allowed & set(p.payload["visibility"])
                           or (territories and p.payload["territory"] not in territories))
        results[user] = latency_summary(seconds) | {"mean_hits": round(float(np.mean(hits)), 2),
                                                    "queries": queries, "forbidden_results": foreign}
    results["rss_after_queries_mib"] = _rss_mib()
    results["peak_rss_mib"] = _peak_rss_mib()
    store.close()
    results["load_average_after"] = load_average()
    return results


def _peak_rss_mib() -> float:
    """This process's own peak (VmHWM): ``ru_maxrss`` would keep the parent's peak across fork and exec."""
    return _status_mib("VmHWM:")


def _rss_mib() -> float:
    return _status_mib("VmRSS:")


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_worker(kind: str, size: int, index_dir: Path, sources_file: Path, queries: int) -> dict[str, Any]:
    result_file = index_dir.parent / f"{kind}-{size}.json"
    command = [sys.executable, "-m", "bench.scale", "--worker", kind, "--size", str(size), "--index-dir", str(index_dir),
               "--sources", str(sources_file), "--queries", str(queries), "--result", str(result_file)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not result_file.exists():
        return {"error": f"code {done.returncode} : {done.stderr.strip()[-1500:]}"}
    return json.loads(result_file.read_text(encoding="utf-8"))


# --- report ---------------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    rows, ratio_rows = [], []
    base = data["sizes"].get(str(p["sizes"][0]), {})
    for size, r in data["sizes"].items():
        b, q = r.get("build", {}), r.get("query", {})
        if "partial" in b:  # stopped during the optimisation: what was measured before
            part = b["partial"]
            rows.append([int(size), part["write_s"], part.get("write_cpu_s"), round(int(size) / part["write_s"]),
                         f"> {part['optimize_elapsed_s']} (arrêtée)", f"> {part.get('optimize_cpu_s', '?')}",
                         round(part["disk_mib_before_optimize"] / 1024, 2), None, None, None, None, None, None, None])
            continue
        if "error" in b or "error" in q:
            rows.append([int(size), "échec", (b.get("error") or q.get("error", ""))[:200]] + [None] * 11)
            continue
        rows.append([int(size), b["write_s"], b.get("write_cpu_s"), b["points_per_s_write"], b["optimize_s"],
                     b.get("optimize_cpu_s"), round(b["disk_mib"] / 1024, 2),
                     round(b["disk_mib"] / int(size) * 100_000 / 1024, 2), q["rss_after_queries_mib"],
                     q["département"]["p50_ms"], q["département"]["p95_ms"], q["national"]["p50_ms"], q["national"]["p95_ms"],
                     q["département"]["forbidden_results"] + q["national"]["forbidden_results"]])
        bb, bq = base.get("build", {}), base.get("query", {})
        if bb and bq and "error" not in bb and "error" not in bq:
            ratio_rows.append([int(size), round(int(size) / p["sizes"][0], 1),
                               round(b["write_s"] / bb["write_s"], 1), round(b["optimize_s"] / max(bb["optimize_s"], 0.1), 1),
                               round(q["département"]["p95_ms"] / bq["département"]["p95_ms"], 2),
                               round(q["national"]["p95_ms"] / bq["national"]["p95_ms"], 2)])
    lines = [
        *report_head("passage à l'échelle nationale (moteur embarqué Qdrant Edge)", data),
        f"- Passages réels : {p['real_passages']} (CASF et service-public, vecteurs du modèle `{p['embedding']}` / "
        f"`{p['runtime']}`, calculés en {p['real_embed_s']} s), copies perturbées (bruit σ = {p['noise_sigma']} par "
        f"dimension, cosinus moyen à la source {p['copy_cosine_mean']}, {int(p['term_drop'] * 100)} % des termes BM25 retirés) ; "
        f"{p['territories']} territoires, {int(p['national_share'] * 100)} % de textes nationaux, "
        f"{int(p['restricted_share'] * 100)} % des textes territoriaux réservés au groupe du département.",
        f"- Requêtes : {p['queries']} par profil, {p['questions']} vraies questions (service-public, CASF), hybride "
        f"dense + BM25 fusionné dans Qdrant, réglages livrés (top_k {p['top_k']}, prefetch {p['prefetch_k']}). "
        "Profil département : visibilité (public + groupes du département) et territoire (département + national) ; "
        "profil national : visibilité seule (tous territoires).",
        "- Index des champs : `territory` et `visibility` en mots-clés avec `is_tenant` (multi-locataire, comme "
        "recommandé par Qdrant ; la même demande est faite au moteur serveur, voir "
        "`assistant/components/vector_store/qdrant.py`).",
        f"- Charge de la machine (2 cœurs partagés avec d'autres sessions) : au début {data['machine']['load_average_at_start']}, "
        f"à la fin {data['machine'].get('load_average_at_end')} ; par taille dans le JSON. Les durées sont donc aussi "
        f"données en rapport à la base de {p['sizes'][0]} passages mesurée dans la même exécution.",
        "",
        "## Mesures",
        "",
        md_table(["passages", "écriture (s)", "écriture (s CPU)", "points/s", "optimisation (s)", "optimisation (s CPU)",
                  "disque (Gio)", "disque / 100k (Gio)",
                  "RAM en service (Mio)", "département p50 (ms)", "département p95 (ms)", "national p50 (ms)",
                  "national p95 (ms)", "résultats interdits"], rows),
        "",
        f"## Rapports à la base de {p['sizes'][0]} passages (même exécution)",
        "",
        md_table(["passages", "× passages", "× écriture", "× optimisation", "× p95 département", "× p95 national"], ratio_rows),
        "",
    ]
    for size, r in data["sizes"].items():
        part = r.get("build", {}).get("partial")
        if part:
            stop = ", ".join(f"{k} {v} Mio" for k, v in (part.get("disk_mib_at_stop") or {}).items())
            lines.append(
                f"- **{_n(size)} passages : construction arrêtée pendant l'optimisation** ({r['build']['error']}). Mesuré : "
                f"écriture de {_n(part['points_written'])} points en {part['write_s']} s ({part.get('write_cpu_s')} s CPU) ; "
                f"optimisation (graphe HNSW) encore en cours après {part['optimize_elapsed_s']} s ; disque des segments avant "
                f"optimisation {part['disk_mib_before_optimize']} Mio (à l'arrêt : {stop}) ; mémoire du processus de "
                f"construction à l'arrêt {part.get('rss_mib_at_stop')} Mio, pic {part.get('peak_rss_mib_vmhwm')} Mio. "
                "Latences non mesurées à cette taille : voir docs/deploiement.md pour l'extrapolation et sa limite.")
    target = data["sizes"].get("1000000", {}).get("query", {})
    if target and "error" not in target:
        worst = max(target["département"]["p95_ms"], target["national"]["p95_ms"])
        lines.append(f"- Objectif p95 ≤ {TARGET_P95_MS:.0f} ms à 1 000 000 passages sur 2 cœurs : "
                     f"**{'atteint' if worst <= TARGET_P95_MS else 'NON atteint'}** (pire profil {worst} ms).")
    lines.append("- « RAM en service » : mémoire résidente du processus qui a ouvert l'index et répondu aux requêtes "
                 "(modèle d'embedding non chargé) ; la construction (pic dans le JSON) coûte davantage.")
    return "\n".join(lines) + "\n"


def _n(value: Any) -> str:
    return f"{int(value):,}".replace(",", " ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai du passage à l'échelle nationale.")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="tailles d'index ; la première sert de base")
    parser.add_argument("--real", type=int, default=2000, help="passages réels embarqués")
    parser.add_argument("--queries", type=int, default=200, help="requêtes par profil")
    parser.add_argument("--index-root", type=Path, default=BENCH_CACHE / "scale")
    parser.add_argument("--keep", action="store_true", help="garder les index après la mesure")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--worker", choices=("build", "query"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = (worker_build(args.size, args.index_dir, args.sources, args.result.with_suffix(".progress"))
                  if args.worker == "build"
                  else worker_query(args.size, args.index_dir, args.sources, args.queries))
        args.result.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        return

    settings = Settings()
    if not (shared_data_dir(settings) / "casf" / "articles.jsonl").exists():
        print(f"Données publiques absentes ({shared_data_dir(settings)}) : banc ignoré.")
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"Passages réels : {args.real} (vecteurs calculés une fois, en cache dans {args.index_root})…", flush=True)
    sources_file = prepare_sources(settings, args.index_root, args.real, max(args.queries, 100))
    sources = np.load(sources_file)
    rng = np.random.default_rng(3)
    vectors = sources["vectors"][:200]
    noisy = vectors + NOISE_SIGMA * rng.standard_normal(vectors.shape).astype(np.float32)
    copy_cosine = float(np.mean(np.sum(vectors * noisy, axis=1) / np.linalg.norm(noisy, axis=1)))
    data: dict[str, Any] = results_header(settings) | {
        "parameters": {"sizes": sizes, "real_passages": int(len(sources["texts"])), "questions": int(len(sources["questions"])),
                       "queries": args.queries, "embedding": settings.embedding.model, "runtime": settings.embedding.runtime,
                       "real_embed_s": round(float(sources["embed_s"]), 1), "noise_sigma": NOISE_SIGMA,
                       "copy_cosine_mean": round(copy_cosine, 3), "term_drop": TERM_DROP, "territories": len(TERRITORIES),
                       "national_share": NATIONAL_SHARE, "restricted_share": RESTRICTED_SHARE,
                       "top_k": settings.retrieval.top_k, "prefetch_k": settings.retrieval.prefetch_k},
        "sizes": {},
    }
    for size in sizes:
        index_dir = args.index_root / f"index-{size}"
        shutil.rmtree(index_dir, ignore_errors=True)
        print(f"[{size}] construction…", flush=True)
        build = run_worker("build", size, index_dir, sources_file, args.queries)
        print(f"[{size}] {build}", flush=True)
        query = run_worker("query", size, index_dir, sources_file, args.queries) if "error" not in build else {}
        print(f"[{size}] {query}", flush=True)
        data["sizes"][str(size)] = {"build": build, "query": query}
        if not args.keep:
            shutil.rmtree(index_dir, ignore_errors=True)
    data["machine"]["load_average_at_end"] = load_average()
    write_results("scale", data, markdown(data), *( [args.out_dir] if args.out_dir else []))


if __name__ == "__main__":
    main()
