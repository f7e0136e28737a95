"""Ingestion benchmark → ``bench/results/ingest.{json,md}``.

For the demo corpus and the CASF articles (``--casf-limit N``), each configuration runs in its own
process (peak memory = that process's max RSS), with the same embedding model:

- ``pipeline``: the product's ``IngestionPipeline`` into the configured embedded Qdrant engine;
- ``embedding_only``: the model alone on exactly the texts the pipeline embedded, in the same batches
  (the ceiling the pipeline can reach: target end-to-end / embedding-only ≥ 0.90);
- ``pipeline_onnx_int8``: the same pipeline with ``embedding.runtime: onnx-int8`` (int8 weights on ONNX
  Runtime); its vectors are compared with the fp32 pipeline's (cosine) and its speed with fp32's in the same run
  (target ≥ 25 passages/s on 2 cores);
- ``llamaindex``: llama-index defaults (``SentenceSplitter`` + ``VectorStoreIndex``) into
  ``QdrantVectorStore`` with qdrant-client's local mode, the same model wrapped as a llama-index embedding.

    python -m bench.ingest                      # demo corpus + all 2,854 CASF articles
    python -m bench.ingest --casf-limit 300     # a subset (recorded in the results)
    python -m bench.ingest --configs pipeline,pipeline_onnx_int8 --datasets casf --casf-limit 600
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, Settings
from bench.common import (
    add_output_arguments,
    available,
    bench_settings,
    folder_mb,
    llamaindex_embedding,
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

CONFIGS = ("pipeline", "embedding_only", "pipeline_onnx_int8", "llamaindex")
TARGET_RATIO = 0.90
INT8_TARGET_PER_S = 25.0
INT8_MIN_COSINE = 0.99
WARM_UP = ["Échauffement du modèle avant la mesure."]


# --- orchestration (parent process) -------------------------------------------------------------------
def bench_dataset(name: str, source: Path, work: Path, configs: tuple[str, ...] = CONFIGS) -> dict[str, Any]:
    """Runs every configuration on ``source`` (a file or folder), each in a fresh process."""
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for config in configs:
        print(f"[{name}] configuration « {config} »…", flush=True)
        results[config] = run_worker_process(config, source, work)
        if "error" in results[config]:
            print(f"[{name}] « {config} » a échoué : {results[config]['error']}", flush=True)
    missing = {"error": "non mesuré"}
    pipeline, embed_only, int8, llama = (results.get(c, missing) for c in CONFIGS)
    summary: dict[str, Any] = {}
    if "error" not in pipeline and "error" not in int8:
        summary["int8"] = int8_summary(pipeline, int8, work)
    if "error" not in pipeline and "error" not in embed_only:
        summary["end_to_end_over_embedding_only"] = round(pipeline["chunks_per_s"] / embed_only["chunks_per_s"], 3)
        summary["target"] = TARGET_RATIO
        summary["target_met"] = summary["end_to_end_over_embedding_only"] >= TARGET_RATIO
    if "error" not in pipeline and "error" not in llama:
        summary["pipeline_over_llamaindex_documents_per_s"] = round(pipeline["documents_per_s"] / llama["documents_per_s"], 3)
    return {"configurations": results, "summary": summary}


def int8_summary(fp32: dict[str, Any], int8: dict[str, Any], work: Path) -> dict[str, Any]:
    """Speed ratio (same run, same texts) and cosine of each passage's int8 vector to its fp32 vector."""
    import numpy as np

    vectors = {}
    for config in ("pipeline", "pipeline_onnx_int8"):
        texts = json.loads((work / f"{config}-texts.json").read_text(encoding="utf-8"))
        vectors[config] = dict(zip(texts, np.load(work / f"{config}-vectors.npy")))
    common = sorted(set(vectors["pipeline"]) & set(vectors["pipeline_onnx_int8"]))
    cosines = np.array([float(vectors["pipeline"][t] @ vectors["pipeline_onnx_int8"][t]) for t in common])
    return {
        "passages_per_s_fp32": fp32["chunks_per_s"], "passages_per_s_int8": int8["chunks_per_s"],
        "speedup_wall": round(int8["chunks_per_s"] / fp32["chunks_per_s"], 2),
        "passages_per_cpu_s_fp32": fp32["chunks_per_cpu_s"], "passages_per_cpu_s_int8": int8["chunks_per_cpu_s"],
        "speedup_cpu": round(int8["chunks_per_cpu_s"] / fp32["chunks_per_cpu_s"], 2),
        "passages_compared": len(common), "cosine_min": round(float(cosines.min()), 4),
        "cosine_mean": round(float(cosines.mean()), 4), "cosine_p01": round(float(np.quantile(cosines, 0.01)), 4),
        "target_per_s": INT8_TARGET_PER_S, "target_met": int8["chunks_per_s"] >= INT8_TARGET_PER_S,
        "cosine_target": INT8_MIN_COSINE, "cosine_target_met": float(cosines.mean()) >= INT8_MIN_COSINE,
    }


def run_worker_process(config: str, source: Path, work: Path) -> dict[str, Any]:
    result_file = work / f"{config}.json"
    command = [sys.executable, "-m", "bench.ingest", "--worker", config, "--input", str(source),
               "--work", str(work), "--result", str(result_file)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not result_file.exists():
        return {"error": f"code {done.returncode} : {done.stderr.strip()[-1500:]}"}
    return json.loads(result_file.read_text(encoding="utf-8"))


# --- configurations (worker processes) ----------------------------------------------------------------
class _RecordingEmbedder:
    """Passes through to the model and keeps the batches of texts (for the embedding-only run) and the vectors."""

    def __init__(self, embedder: Any):
        self.embedder = embedder
        self.dimension = embedder.dimension
        self.batches: list[list[str]] = []
        self.vectors: list[Any] = []

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> Any:
        self.batches.append(list(texts))
        self.vectors.append(self.embedder.embed_passages(texts))
        return self.vectors[-1]


def _warm_model(settings: Settings) -> tuple[Any, float]:
    started = time.perf_counter()
    embedder = load_embedder(settings)
    embedder.embed_passages(WARM_UP)
    return embedder, time.perf_counter() - started


def worker_pipeline(source: Path, work: Path, runtime: str = "torch") -> dict[str, Any]:
    import numpy as np

    from indexing.pipeline import IngestionPipeline

    config = "pipeline" if runtime == "torch" else f"pipeline_{runtime.replace('-', '_')}"
    index_dir = work / f"qdrant-{config}"
    settings = bench_settings(index_dir, embedding={"runtime": runtime})
    embedder, load_s = _warm_model(settings)
    recorder = _RecordingEmbedder(embedder)
    cpu_started = time.process_time()
    started = time.perf_counter()
    store = open_store(settings)
    report = IngestionPipeline(settings, recorder, store).run([source])
    run_s = time.perf_counter() - started
    close_started = time.perf_counter()
    store.close()  # Qdrant Edge builds its HNSW graph here: part of the cost of a usable index
    close_s = time.perf_counter() - close_started
    seconds = run_s + close_s
    cpu_s = time.process_time() - cpu_started
    if runtime == "torch":
        (work / "batches.json").write_text(json.dumps(recorder.batches, ensure_ascii=False), encoding="utf-8")
    texts = [t for batch in recorder.batches for t in batch]
    (work / f"{config}-texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(work / f"{config}-vectors.npy", np.vstack(recorder.vectors) if recorder.vectors else np.zeros((0, 1)))
    documents = sum(f.documents for f in report.files)
    chunks = report.chunks_written
    timings = {k: round(v, 2) for k, v in report.timings.items()}
    timings["other"] = round(run_s - sum(report.timings.values()), 2)
    timings["close_optimize"] = round(close_s, 2)
    return {
        "engine": settings.qdrant.embedded_engine, "runtime": runtime, "documents": documents, "chunks": chunks,
        "failed_files": [f"{f.path}: {f.error}" for f in report.failed],
        "seconds": round(seconds, 2), "documents_per_s": round(documents / seconds, 3),
        "chunks_per_s": round(chunks / seconds, 3), "chunks_per_cpu_s": round(chunks / cpu_s, 3), "timings_s": timings,
        "model_load_s": round(load_s, 2), "index_mb": folder_mb(index_dir), "peak_rss_mib": _peak_rss_mib(),
    }


def worker_embedding_only(source: Path, work: Path) -> dict[str, Any]:
    batches = json.loads((work / "batches.json").read_text(encoding="utf-8"))
    embedder, load_s = _warm_model(Settings())
    started = time.perf_counter()
    for batch in batches:
        embedder.embed_passages(batch)
    seconds = time.perf_counter() - started
    chunks = sum(len(b) for b in batches)
    return {"chunks": chunks, "batches": len(batches), "seconds": round(seconds, 2),
            "chunks_per_s": round(chunks / seconds, 3), "model_load_s": round(load_s, 2), "peak_rss_mib": _peak_rss_mib()}


def worker_llamaindex(source: Path, work: Path) -> dict[str, Any]:
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from indexing.parsers import ParseError, parse_file
    from indexing.pipeline import discover

    settings = Settings()
    embedder, load_s = _warm_model(settings)
    embed_model = llamaindex_embedding(embedder)
    index_dir = work / "qdrant-llamaindex"
    started = time.perf_counter()
    documents, failed = [], []
    for task in discover([source]):
        if task.error:
            failed.append(f"{task.path}: {task.error}")
            continue
        try:
            documents.extend(parse_file(task.path, int(settings.ingestion.max_file_mb * 1_000_000)).documents)
        except ParseError as exc:
            failed.append(f"{task.path}: {exc}")
    parse_s = time.perf_counter() - started
    # What VectorStoreIndex.from_documents does by default: Settings.transformations (a default
    # SentenceSplitter), then the index embeds the nodes and writes them to the vector store.
    t0 = time.perf_counter()
    nodes = SentenceSplitter()(documents)
    split_s = time.perf_counter() - t0
    client = QdrantClient(path=str(index_dir))
    t0 = time.perf_counter()
    VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(
        vector_store=QdrantVectorStore(collection_name="llamaindex", client=client)), embed_model=embed_model)
    index_s = time.perf_counter() - t0
    chunks = client.count("llamaindex").count
    client.close()
    seconds = time.perf_counter() - started
    return {
        "engine": "qdrant-client local", "documents": len(documents), "chunks": chunks, "failed_files": failed,
        "seconds": round(seconds, 2), "documents_per_s": round(len(documents) / seconds, 3),
        "chunks_per_s": round(chunks / seconds, 3),
        "timings_s": {"parse": round(parse_s, 2), "split": round(split_s, 2), "embed": round(embed_model.seconds, 2),
                      "upsert": round(index_s - embed_model.seconds, 2)},
        "model_load_s": round(load_s, 2), "index_mb": folder_mb(index_dir), "peak_rss_mib": _peak_rss_mib(),
    }


WORKERS = {"pipeline": worker_pipeline, "embedding_only": worker_embedding_only, "llamaindex": worker_llamaindex,
           "pipeline_onnx_int8": lambda source, work: worker_pipeline(source, work, runtime="onnx-int8")}


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


# --- report -------------------------------------------------------------------------------------------
def cpu_ceiling(per_cpu_second: float, cores: int, target: float) -> str:
    """What the machine could do unloaded: the CPU cost per passage measured under load holds, the wall time
    does not; all cores busy on embedding is the ceiling."""
    ceiling = per_cpu_second * cores
    reachable = "atteignable" if ceiling >= target else "hors de portée sur cette machine, même sans autre charge"
    return (f"- Plafond sans autre charge : {per_cpu_second} passages par seconde de CPU × {cores} cœurs = "
            f"**{ceiling:.1f} passages/s** : objectif ≥ {target} {reachable}.")


def markdown(data: dict[str, Any]) -> str:
    p = data["parameters"]
    lines = [
        *report_head("ingestion", data),
        f"- Paramètres : jeux {', '.join(p['datasets'])}"
        + (f" ; articles CASF {p['casf_articles']} sur {p['casf_available']} (--casf-limit {p['casf_limit']})" if p["casf_available"] else "")
        + f" ; lot d'écriture Qdrant {p['upsert_batch_size']}, lot du modèle {p['embedding_batch_size']}.",
        "- Chaque configuration tourne dans son propre processus (mémoire crête = RSS max de ce processus) ; "
        "temps du chargement du modèle exclu, temps d'optimisation de l'index (fermeture) inclus.",
        "",
    ]
    for name, result in data["datasets"].items():
        configs = result["configurations"]
        lines += [f"## {name}", "", md_table(
            ["configuration", "moteur", "documents", "passages", "durée (s)", "documents/s", "passages/s", "RSS max (Mio)", "index (Mio)"],
            [[c, r.get("engine", "modèle seul"), r.get("documents"), r.get("chunks"), r.get("seconds"), r.get("documents_per_s"),
              r.get("chunks_per_s"), r.get("peak_rss_mib"), r.get("index_mb")] for c, r in configs.items() if "error" not in r],
        ), ""]
        for config, r in configs.items():
            if "error" in r:
                lines.append(f"- « {config} » : échec ({r['error'][:300]})")
            elif "timings_s" in r:
                parts = ", ".join(f"{k} {v} s" for k, v in r["timings_s"].items())
                lines.append(f"- Répartition « {config} » : {parts}")
        s = result["summary"]
        if "end_to_end_over_embedding_only" in s:
            verdict = "atteint" if s["target_met"] else "NON atteint"
            lines.append(f"- Rapport bout-en-bout / modèle seul (passages/s) : **{s['end_to_end_over_embedding_only']}** "
                         f"(objectif ≥ {s['target']} : {verdict})")
        if "int8" in s:
            q = s["int8"]
            lines += [
                f"- **int8 (ONNX Runtime) / fp32 (torch), même exécution** : {q['passages_per_s_int8']} contre "
                f"{q['passages_per_s_fp32']} passages/s (× {q['speedup_wall']}) ; par seconde de CPU {q['passages_per_cpu_s_int8']} "
                f"contre {q['passages_per_cpu_s_fp32']} (× {q['speedup_cpu']}). Objectif ≥ {q['target_per_s']} passages/s : "
                f"{'atteint' if q['target_met'] else 'NON atteint'} sur cette exécution.",
                cpu_ceiling(q["passages_per_cpu_s_int8"], data["machine"]["cores"], q["target_per_s"]),
                f"- Cosinus int8 / fp32 sur {q['passages_compared']} passages : moyenne {q['cosine_mean']}, 1er centile "
                f"{q['cosine_p01']}, minimum {q['cosine_min']} (objectif moyenne ≥ {q['cosine_target']} : "
                f"{'atteint' if q['cosine_target_met'] else 'NON atteint'}).",
            ]
        if "pipeline_over_llamaindex_documents_per_s" in s:
            lines.append(f"- Pipeline / llama-index par défaut (documents/s) : **{s['pipeline_over_llamaindex_documents_per_s']}**")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai de l'ingestion.")
    parser.add_argument("--casf-limit", type=int, default=None, help="nombre d'articles CASF (défaut : tous)")
    parser.add_argument("--datasets", default="demo,casf", help="jeux à mesurer, parmi demo,casf")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"configurations, parmi {','.join(CONFIGS)}")
    parser.add_argument("--name", default="ingest", help="nom des fichiers de résultats (défaut : ingest)")
    add_output_arguments(parser, corpus_help="dossier du corpus de démonstration (défaut : réglages)")
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](args.input, args.work)
        args.result.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        return

    settings = Settings()
    wanted = {d.strip() for d in args.datasets.split(",") if d.strip()}
    configs = tuple(c for c in CONFIGS if c in {x.strip() for x in args.configs.split(",")})
    casf_path = shared_data_dir(settings) / "casf" / "articles.jsonl"
    data: dict[str, Any] = results_header(settings) | {
        "parameters": {"casf_limit": args.casf_limit, "casf_articles": 0, "casf_available": None,
                       "upsert_batch_size": settings.qdrant.upsert_batch_size,
                       "embedding_batch_size": settings.embedding.batch_size, "datasets": sorted(wanted),
                       "configurations": list(configs)},
        "datasets": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        if "demo" in wanted:
            corpus = args.corpus or settings.resolve(settings.data.corpus_dir)
            if available(corpus, "corpus de démonstration"):
                data["datasets"]["corpus de démonstration"] = bench_dataset("demo", corpus, Path(tmp) / "demo", configs)
        if "casf" in wanted and available(casf_path, "CASF"):
            articles = read_jsonl(casf_path)
            subset = articles[: args.casf_limit] if args.casf_limit else articles
            data["parameters"].update(casf_articles=len(subset), casf_available=len(articles))
            subset_file = Path(tmp) / "casf" / "articles.jsonl"
            subset_file.parent.mkdir(parents=True)
            subset_file.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in subset), encoding="utf-8")
            data["datasets"][f"CASF ({len(subset)} articles)"] = bench_dataset("casf", subset_file, Path(tmp) / "casf", configs)
    data["machine"]["load_average_at_end"] = load_average()
    write_results(args.name, data, markdown(data), args.out_dir)


if __name__ == "__main__":
    main()
