"""National-scale benchmark of the embedded engine → ``bench/results/scale.{json,md}``.

An index of 101 synthetic territories (the départements, Corsica and overseas included) at 200,000 and
1,000,000 passages, plus a 20,000-passage baseline built in the same run (timings are also given as ratios
to it, since the machine is shared). Passages are real: chunks of the CASF articles and service-public
fiches (``shared_data_dir``), embedded once by the configured model (cached in the index root); the other
points are perturbed copies of their vectors (Gaussian noise, cosine ≈ 0.85 to the source) with the
source's BM25 terms (a quarter dropped at random), assigned to a territory and to access groups:

- 30 % national texts (public); 70 % territorial, spread evenly over the 101 territories, half of them
  public, half visible to the département's group only (``dep-<code>``, some also ``mdph-<code>``).

Each size goes through three stages, each in its own process, each saving its figures to
``<index-root>/<stage>-<size>.json`` before the next starts (``--resume`` reuses them and the kept index,
so a crash or a stop loses one stage, not the run):

1. ``write``: upserts through the product's ``EdgeStore`` (payload indexes, ``territory`` and ``visibility``
   with ``is_tenant``), then flushes and closes the shard without optimising (write time, disk);
2. ``optimize``: reopens the index and runs Qdrant Edge's optimisers once, in one pass over the bulk write
   (HNSW graph, payload-index segments, quantized vectors): optimise time, CPU time, disk;
3. ``query``: a fresh process opens the index and times filtered hybrid queries (dense + BM25, RRF in
   Qdrant, the shipped retrieval settings) for real questions, as a user of one département (visibility
   + territory filter) and as a national user (visibility filter only): p50/p95, memory (RSS), and the
   dense branch's recall@10 against an exact (brute-force) search under the same filter.

The parent samples each stage's memory (RSS, anonymous RSS) and the index's disk every few seconds into
``<stage>-<size>.progress`` and stops a stage past ``--max-rss-gib`` or ``--stage-timeout``: a stopped
optimisation still reports its elapsed time, memory and disk. The index is created with
``qdrant.edge_quantization`` = ``--edge-quantization`` (default ``int8``, the national setting: int8
copies of the vectors in RAM, float originals on disk); ``none`` measures the product's default. The
indexes are deleted after their queries (``--keep`` keeps them).

    python -m bench.scale                                   # 20k (baseline), 200k, 1M
    python -m bench.scale --sizes 20000,200000              # smaller run
    python -m bench.scale --resume --keep                   # go on after a stop, reusing finished stages
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
STAGES = ("write", "optimize", "query")
RECALL_K = 10
SAMPLE_S = 1.0
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


# --- workers (one process per stage) --------------------------------------------------------------
def stage_settings(index_dir: Path, quantization: str) -> Settings:
    return bench_settings(index_dir, qdrant={"edge_quantization": quantization})


def worker_write(size: int, index_dir: Path, sources_file: Path, quantization: str) -> dict[str, Any]:
    """Writes the points, then flushes and closes the shard without optimising (the next stage does)."""
    settings = stage_settings(index_dir, quantization)
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
    t0 = time.perf_counter()
    count = store.count()
    store._dirty = False  # staged build: close() flushes only; the optimize stage builds the index
    store.close()
    return {"points": count, "write_s": round(write_s, 1), "points_per_s_write": round(size / write_s),
            "write_cpu_s": round(write_cpu_s, 1), "generate_s": round(generate_s, 1),
            "flush_close_s": round(time.perf_counter() - t0, 1), "stage_wall_s": round(time.perf_counter() - started, 1),
            "disk_mib": folder_mb(index_dir), "disk_mib_by_folder": _disk_by_folder(index_dir),
            "peak_rss_mib": _status_mib("VmHWM:"), "load_average_after": load_average()}


def worker_optimize(size: int, index_dir: Path, quantization: str) -> dict[str, Any]:
    """Reopens the written index and runs the optimisers until none is planned (one pass over the bulk)."""
    settings = stage_settings(index_dir, quantization)
    t0 = time.perf_counter()
    store = open_store(settings)
    open_s = time.perf_counter() - t0
    shard = store._require()
    before = shard.info()
    load_before = load_average()
    t0, c0 = time.perf_counter(), time.process_time()
    shard.optimize()  # HNSW graph, payload index segments, quantized vectors
    optimize_s, optimize_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    info = shard.info()
    schema = {name: {"type": str(i.data_type).split(".")[-1], "is_tenant": getattr(i.params, "is_tenant", None)}
              for name, i in info.payload_schema.items()}
    t0 = time.perf_counter()
    store.close()
    return {"points": info.points_count, "optimize_s": round(optimize_s, 1), "optimize_cpu_s": round(optimize_cpu_s, 1),
            "open_s": round(open_s, 1), "close_s": round(time.perf_counter() - t0, 1),
            "segments_before": before.segments_count, "segments": info.segments_count,
            "indexed_vectors": info.indexed_vectors_count, "disk_mib": folder_mb(index_dir),
            "disk_mib_by_folder": _disk_by_folder(index_dir), "payload_indexes": schema,
            "peak_rss_mib": _status_mib("VmHWM:"), "load_average_before": load_before,
            "load_average_after": load_average()}


def worker_query(size: int, index_dir: Path, sources_file: Path, queries: int, recall_queries: int,
                 quantization: str) -> dict[str, Any]:
    import qdrant_edge as qe

    from assistant.components.vector_store.edge import to_edge_filter
    from assistant.components.sparse import FrenchBM25Encoder
    from assistant.components.vector_store import DENSE, SearchFilter

    settings = stage_settings(index_dir, quantization)
    sources = dict(np.load(sources_file))
    t0 = time.perf_counter()
    store = open_store(settings)
    open_s = time.perf_counter() - t0
    rss_open = _status_mib("VmRSS:")
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
        # the dense branch as the product runs it (HNSW, quantized vectors if any) against brute force on the
        # original float vectors
        shard, overlap = store._require(), []
        exact = qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
        for i in range(recall_queries):
            q, edge_filter = i % len(questions), to_edge_filter(make_filter())
            found_ids = [[p.id for p in shard.query(qe.QueryRequest(
                limit=RECALL_K, query=qe.Query.Nearest(np.asarray(sources["query_vectors"][q], dtype=np.float32),
                                                       using=DENSE),
                filter=edge_filter, with_payload=False, params=params))]
                for params in (None, exact)]
            overlap.append(len(set(found_ids[0]) & set(found_ids[1])) / max(len(found_ids[1]), 1))
        results[user] = latency_summary(seconds) | {
            "mean_hits": round(float(np.mean(hits)), 2), "queries": queries, "forbidden_results": foreign,
            f"dense_recall_at_{RECALL_K}": round(float(np.mean(overlap)), 3) if overlap else None,
            "recall_queries": recall_queries}
    results["rss_after_queries_mib"] = _status_mib("VmRSS:")
    results["rss_anon_after_queries_mib"] = _status_mib("RssAnon:")
    results["peak_rss_mib"] = _status_mib("VmHWM:")
    store.close()
    results["load_average_after"] = load_average()
    return results


def _status_mib(key: str, pid: int | str = "self") -> float:
    """A memory line of ``/proc/<pid>/status`` (``VmHWM`` is the process's own peak: ``ru_maxrss`` would keep
    the parent's across fork and exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _disk_by_folder(index_dir: Path) -> dict[str, float]:
    """Disk of the shard's sub-folders (segments, wal, the optimiser's temporary segments…)."""
    shards = list(Path(index_dir).glob("edge/*"))
    return {f.name: folder_mb(f) for shard in shards if shard.is_dir() for f in shard.iterdir() if f.is_dir()}


def run_stage(stage: str, size: int, index_dir: Path, sources_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Runs one stage in a child process (``nice``d like its parent) and watches it: memory and disk samples
    go to ``<stage>-<size>.progress``; past ``--max-rss-gib`` of anonymous memory or ``--stage-timeout`` the
    child is stopped and the result holds what was measured until then (``partial``)."""
    root = index_dir.parent
    result_file, progress_file, log_file = (root / f"{stage}-{size}{ext}" for ext in (".json", ".progress", ".log"))
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.scale", "--worker", stage, "--size", str(size), "--index-dir", str(index_dir),
               "--sources", str(sources_file), "--queries", str(args.queries), "--recall-queries", str(args.recall_queries),
               "--edge-quantization", args.edge_quantization, "--result", str(result_file)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started, last_disk, stop_reason = time.perf_counter(), 0.0, None
    peak = {"rss_mib": 0.0, "rss_anon_mib": 0.0}
    progress: dict[str, Any] = {"stage": stage, "started": time.strftime("%H:%M:%S"), "load_average_at_start": load_average()}
    with log_file.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        while child.poll() is None:
            rss, anon = _status_mib("VmRSS:", child.pid), _status_mib("RssAnon:", child.pid)
            peak = {"rss_mib": max(peak["rss_mib"], rss), "rss_anon_mib": max(peak["rss_anon_mib"], anon)}
            elapsed = time.perf_counter() - started
            progress |= {"elapsed_s": round(elapsed), "rss_mib": rss, "rss_anon_mib": anon,
                         "peak_rss_mib": peak["rss_mib"], "peak_rss_anon_mib": peak["rss_anon_mib"],
                         "load_average": load_average()}
            if elapsed - last_disk >= 30 and index_dir.exists():
                progress["disk_mib_by_folder"], last_disk = _disk_by_folder(index_dir), elapsed
            progress_file.write_text(json.dumps(progress, ensure_ascii=False), encoding="utf-8")
            if anon > args.max_rss_gib * 1024:
                stop_reason = f"mémoire anonyme {anon:.0f} Mio > {args.max_rss_gib} Gio"
            elif args.stage_timeout and elapsed > args.stage_timeout:
                stop_reason = f"durée {elapsed:.0f} s > {args.stage_timeout} s"
            if stop_reason:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                break
            time.sleep(SAMPLE_S)
    watched = {"watch_peak_rss_mib": peak["rss_mib"], "watch_peak_rss_anon_mib": peak["rss_anon_mib"]}
    if child.returncode != 0 or not result_file.exists():
        if index_dir.exists():
            progress["disk_mib_by_folder"] = _disk_by_folder(index_dir)
        tail = log_file.read_text(encoding="utf-8", errors="replace").strip()[-1500:]
        return {"error": stop_reason or f"code {child.returncode} : {tail}",
                "partial": progress | {"elapsed_s": round(time.perf_counter() - started)}}
    result = json.loads(result_file.read_text(encoding="utf-8")) | watched
    result_file.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")  # kept for --resume
    return result


def run_size(size: int, sources_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The three stages of one size; with ``--resume``, finished stages (their JSON, and the index for the
    stages after them) are reused."""
    index_dir = args.index_root / f"index-{size}"
    done: dict[str, Any] = {}
    if args.resume:
        for stage in STAGES:
            result_file = args.index_root / f"{stage}-{size}.json"
            if not result_file.exists():
                break
            done[stage] = json.loads(result_file.read_text(encoding="utf-8")) | {"reused": True}
        if len(done) < len(STAGES) and not index_dir.exists():
            done = {}  # the index of the finished stages is gone: start again
    result: dict[str, Any] = {}
    for stage in STAGES:
        if stage in done:
            result[stage] = done[stage]
            print(f"[{size}] {stage} : repris de l'exécution précédente", flush=True)
            continue
        if stage == "write":
            shutil.rmtree(index_dir, ignore_errors=True)
        print(f"[{size}] {stage}…", flush=True)
        result[stage] = run_stage(stage, size, index_dir, sources_file, args)
        print(f"[{size}] {stage} : {json.dumps(result[stage], ensure_ascii=False)[:600]}", flush=True)
        if "error" in result[stage]:
            return result  # the index stays for --resume
    if not args.keep:
        shutil.rmtree(index_dir, ignore_errors=True)
    return result


# --- report ---------------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    rows, ratio_rows, notes = [], [], []
    recall = f"dense_recall_at_{RECALL_K}"
    base = data["sizes"].get(str(p["sizes"][0]), {})
    for size, r in sorted(data["sizes"].items(), key=lambda item: int(item[0])):
        w, o, q = r.get("write", {}), r.get("optimize", {}), r.get("query", {})
        failed = next((stage for stage in STAGES if "error" in r.get(stage, {})), None)
        if failed or not q:
            part = r.get(failed, {}).get("partial", {}) if failed else {}
            opt = (f"> {part.get('elapsed_s')} (arrêtée)" if failed == "optimize" else o.get("optimize_s"))
            rows.append([int(size), w.get("write_s"), w.get("write_cpu_s"), w.get("points_per_s_write"), opt,
                         o.get("optimize_cpu_s"), None, None, None, _gib(part.get("peak_rss_anon_mib")),
                         _gib(part.get("peak_rss_mib")), None, None, None, None, None, None, None])
            if failed:
                stop = ", ".join(f"{k} {v:.0f} Mio" for k, v in (part.get("disk_mib_by_folder") or {}).items())
                notes.append(f"- **{_n(size)} passages : étape « {failed} » arrêtée** ({r[failed]['error'][:300]}) "
                             f"après {part.get('elapsed_s')} s ; mémoire du processus à l'arrêt {part.get('rss_mib')} Mio "
                             f"(anonyme {part.get('rss_anon_mib')} Mio, pic {part.get('peak_rss_anon_mib')} Mio) ; "
                             f"disque à l'arrêt : {stop or '—'} ; charge {part.get('load_average')}.")
            continue
        build_peak = max(w.get("watch_peak_rss_anon_mib", 0), o.get("watch_peak_rss_anon_mib", 0))
        build_peak_total = max(w.get("watch_peak_rss_mib", 0), o.get("watch_peak_rss_mib", 0))
        rows.append([int(size), w["write_s"], w["write_cpu_s"], w["points_per_s_write"], o["optimize_s"],
                     o["optimize_cpu_s"], round(o["disk_mib"] / 1024, 2), round(o["disk_mib"] / int(size) * 100_000 / 1024, 2),
                     q["rss_after_queries_mib"], _gib(build_peak), _gib(build_peak_total),
                     q["département"]["p50_ms"], q["département"]["p95_ms"], q["national"]["p50_ms"], q["national"]["p95_ms"],
                     q["département"].get(recall), q["national"].get(recall),
                     q["département"]["forbidden_results"] + q["national"]["forbidden_results"]])
        bw, bo, bq = base.get("write", {}), base.get("optimize", {}), base.get("query", {})
        if all(x and "error" not in x for x in (bw, bo, bq)):
            ratio_rows.append([int(size), round(int(size) / p["sizes"][0], 1), round(w["write_s"] / bw["write_s"], 1),
                               round(o["optimize_s"] / max(bo["optimize_s"], 0.1), 1),
                               round(q["département"]["p95_ms"] / bq["département"]["p95_ms"], 2),
                               round(q["national"]["p95_ms"] / bq["national"]["p95_ms"], 2)])
    quantized = p["edge_quantization"] == "int8"
    lines = [
        *report_head("passage à l'échelle nationale (moteur embarqué Qdrant Edge)", data),
        f"- Passages réels : {p['real_passages']} (CASF et service-public, vecteurs du modèle `{p['embedding']}` / "
        f"`{p['runtime']}`, calculés en {p['real_embed_s']} s), copies perturbées (bruit σ = {p['noise_sigma']} par "
        f"dimension, cosinus moyen à la source {p['copy_cosine_mean']}, {int(p['term_drop'] * 100)} % des termes BM25 retirés) ; "
        f"{p['territories']} territoires, {int(p['national_share'] * 100)} % de textes nationaux, "
        f"{int(p['restricted_share'] * 100)} % des textes territoriaux réservés au groupe du département.",
        f"- Réglage de l'index : `qdrant.edge_quantization: {p['edge_quantization']}` — "
        + ("copies int8 (quantification scalaire) des vecteurs épinglées en RAM, utilisées pour construire le graphe "
           "HNSW et pour chercher, résultats re-notés sur les vecteurs d'origine (float32), gardés sur disque (mmap) ; "
           "le réglage national de docs/deploiement.md. HNSW par défaut de Qdrant (m 16, ef_construct 100)."
           if quantized else "vecteurs float32 en RAM (défaut du produit), HNSW par défaut de Qdrant (m 16, ef_construct 100)."),
        f"- Requêtes : {p['queries']} par profil, {p['questions']} vraies questions (service-public, CASF), hybride "
        f"dense + BM25 fusionné dans Qdrant, réglages livrés (top_k {p['top_k']}, prefetch {p['prefetch_k']}). "
        "Profil département : visibilité (public + groupes du département) et territoire (département + national) ; "
        f"profil national : visibilité seule (tous territoires). Rappel@{RECALL_K} : la branche dense telle que le "
        f"produit la lance, comparée à une recherche exacte (force brute sur les vecteurs float32) sous le même filtre, sur {p['recall_queries']} "
        "requêtes par profil.",
        "- Index des champs : `territory` et `visibility` en mots-clés avec `is_tenant` (multi-locataire, comme "
        "recommandé par Qdrant ; la même demande est faite au moteur serveur, voir "
        "`assistant/components/vector_store/qdrant.py`).",
        "- Construction en trois étapes, chacune dans son processus : écriture (upserts, puis fermeture sans "
        "optimiser), optimisation en une passe après l'écriture en bloc (graphe HNSW, segments, vecteurs quantifiés), "
        "requêtes. Chaque processus tourne avec `nice -n 10` ; la mémoire est échantillonnée toutes les "
        f"{SAMPLE_S:.0f} s (« pic construction » sur l'écriture et l'optimisation : mémoire anonyme, que le système ne "
        "peut pas reprendre, et RSS, qui compte en plus les pages des fichiers de l'index projetées en mémoire, "
        "que le système peut libérer).",
        f"- Charge de la machine (2 cœurs partagés avec d'autres sessions) : au début {data['machine']['load_average_at_start']}, "
        f"à la fin {data['machine'].get('load_average_at_end')} ; par étape dans le JSON. Les durées sont donc aussi "
        f"données en rapport à la base de {p['sizes'][0]} passages mesurée dans la même exécution.",
        "",
        "## Mesures",
        "",
        md_table(["passages", "écriture (s)", "écriture (s CPU)", "points/s", "optimisation (s)", "optimisation (s CPU)",
                  "disque (Gio)", "disque / 100k (Gio)", "RAM en service (Mio)", "pic construction, anonyme (Gio)",
                  "pic construction, RSS (Gio)",
                  "département p50 (ms)", "département p95 (ms)", "national p50 (ms)", "national p95 (ms)",
                  f"rappel@{RECALL_K} département", f"rappel@{RECALL_K} national", "résultats interdits"], rows),
        "",
        f"## Rapports à la base de {p['sizes'][0]} passages (même exécution)",
        "",
        md_table(["passages", "× passages", "× écriture", "× optimisation", "× p95 département", "× p95 national"], ratio_rows),
        "",
        *notes,
    ]
    loads = [f"{_n(size)} : {r['optimize'].get('load_average_before')} → {r['optimize'].get('load_average_after')}"
             for size, r in sorted(data["sizes"].items(), key=lambda item: int(item[0]))
             if "error" not in r.get("optimize", {"error": 1})]
    if loads:
        lines.append("- Charge (1, 5, 15 min) au début et à la fin de chaque optimisation : " + " ; ".join(loads) + ".")
    reused = [f"{_n(size)} ({', '.join(stage for stage in STAGES if r.get(stage, {}).get('reused'))})"
              for size, r in data["sizes"].items() if any(r.get(stage, {}).get("reused") for stage in STAGES)]
    if reused:
        lines.append("- Étapes reprises d'une exécution précédente arrêtée ou partielle (`--resume`, mêmes paramètres, "
                     "index gardé entre les étapes) : " + " ; ".join(reused) + ".")
    target = data["sizes"].get("1000000", {}).get("query", {})
    if target and "error" not in target:
        worst = max(target["département"]["p95_ms"], target["national"]["p95_ms"])
        lines.append(f"- Objectif p95 ≤ {TARGET_P95_MS:.0f} ms à 1 000 000 passages sur 2 cœurs : "
                     f"**{'atteint' if worst <= TARGET_P95_MS else 'NON atteint'}** (pire profil {worst} ms, "
                     f"RAM en service {target['rss_after_queries_mib']} Mio).")
    lines.append("- « RAM en service » : mémoire résidente du processus qui a ouvert l'index et répondu aux requêtes "
                 "(modèle d'embedding non chargé), pages de fichiers projetées comprises ; la construction coûte davantage.")
    return "\n".join(lines) + "\n"


def _gib(mib: float | None) -> float | None:
    return round(mib / 1024, 2) if mib else None


def _n(value: Any) -> str:
    return f"{int(value):,}".replace(",", " ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai du passage à l'échelle nationale.")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="tailles d'index ; la première sert de base")
    parser.add_argument("--real", type=int, default=2000, help="passages réels embarqués")
    parser.add_argument("--queries", type=int, default=200, help="requêtes par profil")
    parser.add_argument("--recall-queries", type=int, default=50, help="requêtes par profil pour le rappel dense")
    parser.add_argument("--edge-quantization", choices=("none", "int8"), default="int8",
                        help="qdrant.edge_quantization des index construits")
    parser.add_argument("--index-root", type=Path, default=BENCH_CACHE / "scale")
    parser.add_argument("--keep", action="store_true", help="garder les index après la mesure")
    parser.add_argument("--resume", action="store_true", help="reprendre les étapes déjà terminées (index gardés)")
    parser.add_argument("--max-rss-gib", type=float, default=15.0, help="arrêter une étape au-delà (mémoire anonyme)")
    parser.add_argument("--stage-timeout", type=float, default=0, help="arrêter une étape au-delà (s ; 0 = jamais)")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--worker", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        if args.worker == "write":
            result = worker_write(args.size, args.index_dir, args.sources, args.edge_quantization)
        elif args.worker == "optimize":
            result = worker_optimize(args.size, args.index_dir, args.edge_quantization)
        else:
            result = worker_query(args.size, args.index_dir, args.sources, args.queries, args.recall_queries,
                                  args.edge_quantization)
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
                       "queries": args.queries, "recall_queries": args.recall_queries,
                       "edge_quantization": args.edge_quantization, "embedding": settings.embedding.model,
                       "runtime": settings.embedding.runtime, "real_embed_s": round(float(sources["embed_s"]), 1),
                       "noise_sigma": NOISE_SIGMA, "copy_cosine_mean": round(copy_cosine, 3), "term_drop": TERM_DROP,
                       "territories": len(TERRITORIES), "national_share": NATIONAL_SHARE,
                       "restricted_share": RESTRICTED_SHARE, "top_k": settings.retrieval.top_k,
                       "prefetch_k": settings.retrieval.prefetch_k},
        "sizes": {},
    }
    for size in sizes:
        data["sizes"][str(size)] = run_size(size, sources_file, args)
    data["machine"]["load_average_at_end"] = load_average()
    write_results("scale", data, markdown(data), *([args.out_dir] if args.out_dir else []))


if __name__ == "__main__":
    main()
