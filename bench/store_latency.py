"""Latency of filtered hybrid queries on the embedded engines (Qdrant Edge vs qdrant-client's local mode).

Builds collections of N chunks (384-d clustered random vectors; BM25 sparse vectors of real French text
from the CASF articles when ``shared_data_dir`` has them, else of synthetic words; realistic payloads),
then times ``query_hybrid`` (dense + sparse, RRF, access/territory/type/validity filters) with the
product's retrieval settings. Prints JSON.

    python bench/store_latency.py                       # 1k, 10k, 50k; local mode up to 10k
    python bench/store_latency.py --sizes 1000 --queries 50 --out bench/results/store_latency.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.components.sparse import FrenchBM25Encoder, SparseVector  # noqa: E402
from assistant.components.vector_store import PointRecord, SearchFilter, build_store, point_id  # noqa: E402
from assistant.settings import DOC_TYPES, Settings  # noqa: E402

DIM = 384
CENTERS = 256
DEPARTMENTS = ("59", "62", "75", "13", "69", "33", "31", "44", "67", "06")


def load_texts(settings: Settings, rng: np.random.Generator) -> tuple[list[str], str]:
    """Real French legal text (tags stripped), or synthetic Zipf-distributed words."""
    path = settings.resolve(settings.data.shared_data_dir) / "casf" / "articles.jsonl"
    if path.exists():
        texts = []
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                text = re.sub(r"<[^>]+>", " ", json.loads(line)["text"])
                texts.append(re.sub(r"\s+", " ", text).strip())
        return [t for t in texts if len(t) >= 200], f"casf ({path})"
    vocab = np.array([f"terme{i}" for i in range(20_000)])
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    return [" ".join(rng.choice(vocab, 400, p=p / p.sum())) for _ in range(3000)], "synthetic"


def window(text: str, rng: np.random.Generator, size: int) -> str:
    start = int(rng.integers(0, max(1, len(text) - size)))
    return text[start:start + size]


def make_records(n: int, texts: list[str], centers: np.ndarray, encoder: FrenchBM25Encoder,
                 rng: np.random.Generator) -> list[PointRecord]:
    records = []
    for i in range(n):
        source = int(rng.integers(len(texts)))
        text = window(texts[source], rng, 900)
        dense = centers[source % CENTERS] + 0.8 * rng.standard_normal(DIM).astype(np.float32)
        local = rng.random() < 0.4
        restricted = local and rng.random() < 0.25
        territory = str(rng.choice(DEPARTMENTS)) if local else "national"
        start = dt.date(2005, 1, 1) + dt.timedelta(days=int(rng.integers(0, 7000)))
        payload = {
            "doc_id": f"doc-{i // 25}", "title": f"Document {i // 25}", "chunk_index": i % 25, "text": text,
            "doc_type": DOC_TYPES[i // 25 % len(DOC_TYPES)], "territory": territory,
            "visibility": [f"dep-{territory}"] if restricted else ["public"],
            "validity": "abroge" if rng.random() < 0.05 else "en_vigueur",
            "valid_from": f"{start}T00:00:00Z" if rng.random() < 0.3 else None,
            "valid_until": f"{start + dt.timedelta(days=3650)}T00:00:00Z" if rng.random() < 0.1 else None,
            "source_file": f"corpus/doc-{i // 25}.md",
        }
        records.append(PointRecord(point_id("bench", str(i)), dense, encoder.encode_passage(text), payload))
    return records


def make_queries(count: int, texts: list[str], centers: np.ndarray, encoder: FrenchBM25Encoder,
                 rng: np.random.Generator) -> list[tuple[np.ndarray, SparseVector, SearchFilter]]:
    """A few words of a passage, a vector near its cluster, and a random but plausible caller filter."""
    queries = []
    for _ in range(count):
        source = int(rng.integers(len(texts)))
        words = window(texts[source], rng, 400).split()[1:9]
        dense = centers[source % CENTERS] + 0.8 * rng.standard_normal(DIM).astype(np.float32)
        department = str(rng.choice(DEPARTMENTS))
        search_filter = SearchFilter(
            groups=(f"dep-{department}",) if rng.random() < 0.5 else (),
            territories=(department,) if rng.random() < 0.5 else (),
            doc_types=tuple(rng.choice(DOC_TYPES, 2, replace=False)) if rng.random() < 0.3 else (),
            valid_at=dt.date(2024, 6, 1) if rng.random() < 0.5 else None,
        )
        queries.append((dense, encoder.encode_query(" ".join(words)), search_filter))
    return queries


def time_queries(store, queries, settings: Settings) -> dict:
    r = settings.retrieval
    latencies, hits = [], []
    for dense, sparse, search_filter in queries:
        start = time.perf_counter()
        found = store.query_hybrid(dense, sparse, limit=r.top_k, prefetch_k=r.prefetch_k, search_filter=search_filter,
                                   rrf_k=r.rrf_k, weights=(r.dense_weight, r.sparse_weight))
        latencies.append((time.perf_counter() - start) * 1000)
        hits.append(len(found))
    ms = np.array(latencies)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2), "mean_hits": round(float(np.mean(hits)), 2)}


def dense_recall(store, records: list[PointRecord], rng: np.random.Generator, k: int = 10, count: int = 50) -> float:
    """Unfiltered dense top-k against exact cosine search in NumPy (HNSW is approximate)."""
    matrix = np.stack([r.dense for r in records])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = [r.id for r in records]
    found = 0
    for i in rng.choice(len(records), count, replace=False):
        query = records[i].dense + 0.5 * rng.standard_normal(DIM).astype(np.float32)
        exact = {ids[j] for j in np.argsort(-(matrix @ (query / np.linalg.norm(query))))[:k]}
        found += len(exact & {h.id for h in store.query_hybrid(query, None, limit=k, prefetch_k=k)})
    return round(found / (k * count), 4)


def folder_mb(path: Path) -> float:
    """Blocks really used: Qdrant preallocates sparse files (WAL, mmap chunks)."""
    return round(sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def bench_engine(engine: str, records, queries, settings: Settings, workdir: Path, rng) -> dict:
    qsettings = settings.qdrant.model_copy(update={
        "path": workdir / f"{engine}-{len(records)}", "url": None, "embedded_engine": engine, "collection": "bench"})
    store = build_store(qsettings, workdir)
    store.ensure_collection(DIM)
    start = time.perf_counter()
    batch = settings.qdrant.upsert_batch_size
    for i in range(0, len(records), batch):
        store.upsert(records[i:i + batch])
    result = {"engine": engine, "points": len(records), "upsert_s": round(time.perf_counter() - start, 2)}
    if engine == "edge":  # the appendable segment, before close() builds the HNSW graph
        result["unoptimized"] = time_queries(store, queries, settings)
    start = time.perf_counter()
    store.close()
    result["close_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    store = build_store(qsettings, workdir)
    result["open_s"] = round(time.perf_counter() - start, 3)
    time_queries(store, queries[:10], settings)  # warm-up
    result.update(time_queries(store, queries, settings))
    result["dense_recall_at_10"] = dense_recall(store, records, rng)
    store.close()
    result["disk_mb"] = folder_mb(Path(qsettings.path))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="edge,local")
    parser.add_argument("--local-max", type=int, default=10_000, help="largest size run on the local mode")
    parser.add_argument("--out", type=Path, help="also write the JSON there")
    args = parser.parse_args()

    settings = Settings()
    rng = np.random.default_rng(0)
    texts, text_source = load_texts(settings, rng)
    encoder = FrenchBM25Encoder(settings.sparse)
    centers = rng.standard_normal((CENTERS, DIM)).astype(np.float32)
    queries = make_queries(args.queries, texts, centers, encoder, rng)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "setup": {"dimension": DIM, "queries": args.queries, "text": text_source, "top_k": settings.retrieval.top_k,
                  "prefetch_k": settings.retrieval.prefetch_k, "upsert_batch": settings.qdrant.upsert_batch_size},
        "results": [], "skipped": [],
    }
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            records = make_records(size, texts, centers, encoder, rng)
            for engine in args.engines.split(","):
                if engine == "local" and size > args.local_max:
                    report["skipped"].append({"engine": engine, "points": size, "reason": f"> --local-max {args.local_max}"})
                    continue
                report["results"].append(bench_engine(engine, records, queries, settings, Path(tmp), rng))
                print(json.dumps(report["results"][-1]), file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
