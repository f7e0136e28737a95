"""Shared helpers of the benchmarks: machine description, settings for a bench folder, stores,
latency summaries, result files, and a llama-index embedding adapter over the product's ``Embedder``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.settings import PROJECT_ROOT, Settings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_CACHE = PROJECT_ROOT / ".cache" / "bench"
COLLECTION = "bench"


# --- machine and run description -------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, versions, load and date: recorded in every results file."""
    import torch

    cpu = "inconnu"
    for line in _read_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_kib = next((int(line.split()[1]) for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram_kib / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def load_average() -> list[float]:
    """The 1/5/15-minute load averages: recorded at the start and at the end of a run."""
    return [round(x, 2) for x in os.getloadavg()]


def results_header(settings: Settings, **models: Any) -> dict[str, Any]:
    """The first entries of a results file: ``machine`` (taken now) and ``models`` (``models`` adds to them)."""
    return {"machine": machine_info(), "models": models_info(settings) | models}


def models_info(settings: Settings) -> dict[str, Any]:
    return {
        "embedding": settings.embedding.model,
        "embedding_batch_size": settings.embedding.batch_size,
        "reranker": settings.reranker.model if settings.reranker.enabled else None,
        "qdrant_engine": "serveur" if settings.qdrant.url else settings.qdrant.embedded_engine,
    }


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


# --- data --------------------------------------------------------------------------------------------
def shared_data_dir(settings: Settings) -> Path:
    return settings.resolve(settings.data.shared_data_dir)


def available(path: Path, label: str) -> bool:
    """True when ``path`` exists; else says, in French, that the dataset is skipped."""
    if path.exists():
        return True
    print(f"Jeu de données « {label} » absent ({path}) : ignoré.", flush=True)
    return False


def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


# --- settings, services, stores ---------------------------------------------------------------------
def bench_settings(qdrant_path: Path, base: Settings | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings whose embedded index lives in ``qdrant_path`` (never the product's default folder) and
    that never pick up a developer's running LLM server; ``sections`` override other fields."""
    base = base or Settings()
    update: dict[str, Any] = {
        "qdrant": base.qdrant.model_copy(update={"path": Path(qdrant_path), "url": None, "collection": COLLECTION}),
        "llm": base.llm.model_copy(update={"endpoint_file": Path(qdrant_path) / "no-llm-endpoint.yaml", "base_url": None}),
    }
    for name, values in sections.items():
        update[name] = update.get(name, getattr(base, name)).model_copy(update=values)
    return base.model_copy(update=update)


def open_store(settings: Settings) -> Any:
    """The embedded engine the settings select (``qdrant.embedded_engine``)."""
    from assistant.components.vector_store import build_store

    return build_store(settings.qdrant, PROJECT_ROOT)


def services_for(settings: Settings, embedder: Any = None, store: Any = None) -> Any:
    """The product's ``Services``, sharing an already loaded model and an already open store."""
    from assistant.services import Services

    services = Services(settings)
    if embedder is not None:
        services.__dict__["embedder"] = embedder
    services.__dict__["store"] = store if store is not None else open_store(settings)
    return services


def load_embedder(settings: Settings) -> Any:
    from assistant.components.embedding import build_embedder

    return build_embedder(settings.embedding, settings.resolve(settings.embedding.models_dir))


def ensure_index(settings: Settings, embedder: Any, corpus: Path) -> dict[str, Any]:
    """Ingests ``corpus`` into the settings' index (idempotent: a complete index writes nothing; documents
    no longer in ``corpus`` are removed), then closes the store so that the engine optimises it."""
    from indexing.pipeline import IngestionPipeline

    store = open_store(settings)
    try:
        started = time.perf_counter()
        report = IngestionPipeline(settings, embedder, store, on_batch=_progress).run([corpus], prune=True)
        if report.failed:
            raise RuntimeError(f"Échec de l'indexation de {corpus} : {report.failed[0].error}")
        chunks = store.count()
    finally:
        store.close()
    return {"chunks": chunks, "written": report.chunks_written, "seconds": round(time.perf_counter() - started, 1)}


def prepare_index(settings: Settings, embedder: Any, corpus: Path, index_dir: Path, label: str,
                  note: str = "") -> tuple[Settings, dict[str, Any], Any]:
    """The settings of the bench index in ``index_dir``, the index brought up to date with ``corpus``
    (``ensure_index``'s report) and the store opened on it: the caller closes it."""
    index_settings = bench_settings(index_dir, base=settings)
    print(f"[{label}] index {index_dir}{note}…", flush=True)
    index = ensure_index(index_settings, embedder, corpus)
    return index_settings, index, open_store(index_settings)


def _progress(done: int, total: int) -> None:
    if done == total or done % 512 == 0:
        print(f"  indexation : {done}/{total} passages", flush=True)


def iter_points(store: Any) -> Iterator[tuple[str, np.ndarray, Any, dict[str, Any]]]:
    """(id, dense vector, sparse vector, payload) of every point, whichever the engine."""
    for record in store.records():
        yield record.id, record.dense, record.sparse, record.payload


def folder_mb(path: Path) -> float:
    """Disk blocks really used (Qdrant preallocates sparse files)."""
    return round(sum(f.stat().st_blocks * 512 for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


# --- numbers -----------------------------------------------------------------------------------------
def latency_summary(seconds: Iterable[float]) -> dict[str, float | None]:
    ms = np.asarray([s * 1000 for s in seconds], dtype=float)
    if ms.size == 0:
        return {"p50_ms": None, "p95_ms": None}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def fmt(value: Any) -> str:
    """Metrics (below 10) with 3 decimals, seconds and milliseconds with fewer."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def md_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report_head(title: str, data: dict[str, Any]) -> list[str]:
    """The first lines of a bench's Markdown report: its title, then the machine and the models."""
    return [f"# Banc d'essai : {title}", "", machine_markdown(data["machine"], data["models"])]


def machine_markdown(machine: dict[str, Any], models: dict[str, Any]) -> str:
    return (
        f"- Machine : {machine['cpu']}, {machine['cores']} cœurs, {machine['ram_gib']} Gio de RAM ; "
        f"Python {machine['python']}, torch {machine['torch']} ({machine['torch_threads']} fils) ; "
        f"charge au démarrage {machine['load_average_at_start']} (d'autres tâches peuvent tourner).\n"
        f"- Date : {machine['date']}\n"
        f"- Modèles : embedding `{models['embedding']}`, reranker `{models.get('reranker') or 'aucun'}`, "
        f"moteur Qdrant `{models['qdrant_engine']}`"
    )


def add_output_arguments(parser: argparse.ArgumentParser, corpus_help: str | None = None,
                         index_root_help: str | None = None) -> None:
    """The options the benches share: ``--corpus`` (when ``corpus_help`` is given), ``--out-dir`` and
    ``--index-root`` (when ``index_root_help`` is given)."""
    if corpus_help is not None:
        parser.add_argument("--corpus", type=Path, default=None, help=corpus_help)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    if index_root_help is not None:
        parser.add_argument("--index-root", type=Path, default=BENCH_CACHE, help=index_root_help)


def write_results(name: str, data: dict[str, Any], markdown: str, out_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    print(f"Résultats écrits : {json_path} et {md_path}", flush=True)
    return json_path, md_path


# --- llama-index adapter -----------------------------------------------------------------------------
def llamaindex_embedding(embedder: Any) -> Any:
    """The product's model as a llama-index ``BaseEmbedding`` (e5 prefixes included); it also sums the
    time spent embedding in ``seconds``."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class ProductEmbedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()
        seconds: float = 0.0

        def __init__(self, inner: Any, **kwargs: Any):
            super().__init__(model_name=str(inner.model_name), **kwargs)
            self._embedder = inner

        def _timed(self, fn, texts: list[str]) -> list[list[float]]:
            started = time.perf_counter()
            vectors = fn(texts)
            self.seconds += time.perf_counter() - started
            return [v.tolist() for v in vectors]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._timed(self._embedder.embed_queries, [query])[0]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._timed(self._embedder.embed_passages, [text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._timed(self._embedder.embed_passages, texts)

    return ProductEmbedding(embedder)
