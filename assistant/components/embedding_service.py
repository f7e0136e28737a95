"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` service (vLLM, Hugging Face TEI, infinity-emb).

Texts are sent in batches of ``embedding.service.batch_size``, at most ``concurrency`` requests at once;
the OpenAI client retries connection errors, timeouts and 408/409/429/5xx answers with exponential backoff
(``max_retries``). The prefixes (e5's ``query: `` / ``passage: ``) are added here exactly as the in-process
backend adds them, and vectors are L2-normalised here too, so both backends give the index the same vectors.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np
import openai

from assistant.components.embedding_base import EmbeddingError, EmbeddingUnavailableError
from assistant.settings import EmbeddingSettings

_PROBE = "dimension"


class ServiceEmbedder:
    """Same interface as the in-process ``Embedder``: ``embed_passages``, ``embed_queries``, ``dimension``."""

    def __init__(self, settings: EmbeddingSettings):
        service = settings.service
        if not service.base_url:
            raise EmbeddingError("Service d'embeddings sans adresse : renseignez embedding.service.base_url.")
        self.settings = settings
        self.model_name = service.model
        self.base_url = service.base_url.rstrip("/")
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=service.api_key, max_retries=service.max_retries,
            timeout=openai.Timeout(service.timeout_s, connect=service.connect_timeout_s),
        )
        self._pool = ThreadPoolExecutor(service.concurrency, thread_name_prefix="embeddings")

    @cached_property
    def dimension(self) -> int:
        """Asked once from the service (one short request)."""
        return int(self._request([self.settings.passage_prefix + _PROBE]).shape[1])

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.settings.passage_prefix + t for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.settings.query_prefix + t for t in texts])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        size = self.settings.service.batch_size
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        parts = [self._request(batches[0])] if len(batches) == 1 else list(self._pool.map(self._request, batches))
        vectors = np.vstack(parts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _request(self, batch: list[str]) -> np.ndarray:
        where = f"Service d'embeddings {self.base_url} (modèle « {self.model_name} »)"
        try:
            response = self._client.embeddings.create(model=self.model_name, input=batch, encoding_format="float")
        except openai.APIConnectionError as exc:  # refused, reset or timed out, after the retries
            raise EmbeddingUnavailableError(
                f"{where} injoignable ({self.settings.service.max_retries + 1} tentative(s)) : vérifiez "
                f"qu'il est démarré et que l'adresse est juste ({type(exc).__name__})."
            ) from exc
        except openai.APIStatusError as exc:
            detail = str(exc.message)[:300]
            raise EmbeddingError(f"{where} : réponse HTTP {exc.status_code} ({detail}).") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"{where} : {len(data)} vecteurs reçus pour {len(batch)} textes.")
        vectors = np.asarray([item.embedding for item in data], dtype=np.float32)
        if vectors.ndim != 2 or not vectors.shape[1]:
            raise EmbeddingError(f"{where} : réponse sans vecteurs exploitables.")
        return vectors
