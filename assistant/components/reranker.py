"""Optional cross-encoder reranking (sentence-transformers ``CrossEncoder``), off without a model."""

from __future__ import annotations

from assistant.settings import RerankerSettings


class CrossEncoderReranker:
    def __init__(self, settings: RerankerSettings):
        if not settings.model:
            raise ValueError("reranker : aucun modèle configuré (reranker.model).")
        from sentence_transformers import CrossEncoder

        self.top_n = settings.top_n
        self.model = CrossEncoder(settings.model, device="cpu")

    def scores(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        return [float(s) for s in self.model.predict([(query, p) for p in passages], convert_to_numpy=True)]


def build_reranker(settings: RerankerSettings) -> CrossEncoderReranker | None:
    return CrossEncoderReranker(settings) if settings.enabled and settings.model else None
