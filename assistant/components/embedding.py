"""Dense embeddings: the backend the settings name (``embedding.backend``), built by :func:`build_embedder`.

``local`` (this module): sentence-transformers in the process, whichever model the settings name; with
``runtime: onnx-int8`` (``embedding_onnx.py``), the same model with int8 weights on ONNX Runtime.
``service`` (``embedding_service.py``): an OpenAI-compatible ``/v1/embeddings`` endpoint.
Every backend offers ``embed_passages``, ``embed_queries`` and ``dimension``, and adds the settings' prefixes
(e5's ``query: `` / ``passage: ``) itself, so both paths send the model the same texts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from assistant.components.embedding_base import (  # noqa: F401  (the errors are imported from here too)
    LOCAL_E5,
    LOCAL_MINILM,
    EmbeddingError,
    EmbeddingUnavailableError,
    model_location,
)
from assistant.settings import EmbeddingSettings

_model_location = model_location  # bench/reranker.py's name


def build_embedder(settings: EmbeddingSettings, models_dir: Path):
    """The embedding backend the settings select (imported only when chosen)."""
    match settings.backend, settings.runtime:
        case "local", "torch":
            return Embedder(settings, models_dir)
        case "local", "onnx-int8":
            from assistant.components.embedding_onnx import OnnxInt8Embedder

            return OnnxInt8Embedder(settings, models_dir)
        case "service", _:
            from assistant.components.embedding_service import ServiceEmbedder

            return ServiceEmbedder(settings)
        case other:
            raise ValueError(f"embedding.backend / runtime inconnus : « {other} ».")


class Embedder:
    """Encodes passages and queries; prefixes (e.g. e5's ``query: ``) come from the settings."""

    def __init__(self, settings: EmbeddingSettings, models_dir: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        self.settings = settings
        self.model_name = settings.model
        self.model = SentenceTransformer(str(model_location(settings, models_dir)), device=settings.device)
        self.model.max_seq_length = min(settings.max_seq_length, self.model.max_seq_length or 512)
        self.dimension: int = int(self.model.get_embedding_dimension())

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.settings.passage_prefix + t for t in texts], show_progress)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.settings.query_prefix + t for t in texts], False)

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(
            texts,
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        ).astype(np.float32)
