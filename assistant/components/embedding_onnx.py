"""The local model with int8 weights on ONNX Runtime (``embedding.runtime: onnx-int8``): faster on CPU.

The sentence-transformers folder the settings name is exported once to ONNX (torch's exporter), then
quantized by ONNX Runtime's dynamic quantization (``onnxruntime.quantization.quantize_dynamic``: int8
weights per output channel, activations quantized at run time), and cached beside the model in
``models_dir``. sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins
transformers < 4.58; this module does the same steps with the two libraries underneath it.

Texts are tokenized by the model's own tokenizer, batched by length, pooled as the folder's
``1_Pooling`` says (mean or CLS) and L2-normalised, like the torch path; prefixes come from the settings.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
import shutil
import tempfile
from pathlib import Path

import numpy as np

from assistant.settings import EmbeddingSettings

ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
MARKER_FILE = "onnx_int8.json"
FORMAT_VERSION = 1
OPSET = 17


def ensure_onnx_int8(model_dir: Path, target_dir: Path) -> Path:
    """``target_dir/model_int8.onnx`` for the sentence-transformers folder ``model_dir``, built only if needed
    (in a temporary sibling folder renamed into place, so an interrupted export leaves nothing half-written)."""
    model_dir, target_dir = Path(model_dir), Path(target_dir)
    marker = target_dir / MARKER_FILE
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("format_version") == FORMAT_VERSION:
        return target_dir / INT8_FILE
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    try:
        _export(model_dir, tmp / ONNX_FILE)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # MatMul only: quantizing the 250k-row embedding table (Gather) saves disk, not time, and costs accuracy.
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "consider pre-processing"
        quantize_dynamic(tmp / ONNX_FILE, tmp / INT8_FILE, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        (tmp / ONNX_FILE).unlink()
        (tmp / MARKER_FILE).write_text(json.dumps({"format_version": FORMAT_VERSION, "source": model_dir.name,
                                                    "quantization": "dynamic int8, MatMul, per channel"}),
                                       encoding="utf-8")
        if target_dir.exists():
            shutil.rmtree(target_dir)
        try:
            os.rename(tmp, target_dir)
        except OSError:
            if not (target_dir / MARKER_FILE).is_file():  # not a concurrent export finishing first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target_dir / INT8_FILE


def _export(model_dir: Path, out_file: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", **_model_args(model_dir)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    dynamic = {0: "batch", 1: "tokens"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings: shapes are dynamic on purpose
        torch.onnx.export(LastHiddenState(model), example, str(out_file), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic})


def _model_args(model_dir: Path) -> dict:
    config = model_dir / "sentence_bert_config.json"
    return json.loads(config.read_text(encoding="utf-8")).get("model_args", {}) if config.is_file() else {}


def _pooling(model_dir: Path) -> str:
    for config in sorted(model_dir.glob("*_Pooling/config.json")):
        data = json.loads(config.read_text(encoding="utf-8"))
        if data.get("pooling_mode_cls_token") or data.get("pooling_mode") == "cls":
            return "cls"
        if data.get("pooling_mode_mean_tokens") or data.get("pooling_mode") == "mean":
            return "mean"
        raise ValueError(f"{config} : regroupement non pris en charge par l'exécution onnx-int8 (moyenne ou CLS).")
    return "mean"


class OnnxInt8Embedder:
    """Same interface as the torch ``Embedder``: ``embed_passages``, ``embed_queries``, ``dimension``."""

    def __init__(self, settings: EmbeddingSettings, models_dir: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from assistant.components.embedding_base import model_location

        location = Path(model_location(settings, models_dir))
        if not location.is_dir():
            raise ValueError(f"embedding.runtime onnx-int8 : « {location} » n'est pas un dossier de modèle local.")
        self.settings = settings
        self.model_name = settings.model
        self.model_file = ensure_onnx_int8(location, Path(models_dir) / f"{location.name}-onnx-int8")
        self.pooling = _pooling(location)
        self.tokenizer = AutoTokenizer.from_pretrained(str(location))
        self.max_length = min(settings.max_seq_length, self.tokenizer.model_max_length or 512)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        self.dimension: int = int(self._encode(["dimension"]).shape[1])

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.settings.passage_prefix + t for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.settings.query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        size = self.settings.batch_size
        out: np.ndarray | None = None
        for start in range(0, len(texts), size):
            index = order[start : start + size]
            batch = self.tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="np")
            mask = batch["attention_mask"].astype(np.int64)
            hidden = self.session.run(None, {"input_ids": batch["input_ids"].astype(np.int64), "attention_mask": mask})[0]
            if self.pooling == "cls":
                vectors = hidden[:, 0]
            else:
                vectors = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[index] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out
