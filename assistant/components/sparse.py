"""French BM25 sparse vectors for Qdrant (term frequencies here, IDF in Qdrant via ``Modifier.IDF``)."""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

from assistant.settings import SparseSettings
from assistant.text.french import terms


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


def term_index(term: str) -> int:
    """Stable 31-bit id of a term (same on every machine and Python run)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


class FrenchBM25Encoder:
    """Encodes passages with BM25's saturated term frequency and queries with term presence."""

    def __init__(self, settings: SparseSettings):
        self.k1 = settings.k1
        self.b = settings.b
        self.avg_len = settings.avg_doc_tokens

    def encode_passage(self, text: str) -> SparseVector:
        counts = Counter(terms(text))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            idx = term_index(term)
            weights[idx] = weights.get(idx, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return SparseVector(list(weights), list(weights.values()))

    def encode_query(self, text: str, extra_text: str = "", extra_weight: float = 0.5) -> SparseVector:
        """``extra_text`` (e.g. glossary expansions) counts with a lower weight than the user's words."""
        weights: dict[int, float] = {}
        for term in terms(extra_text):
            weights[term_index(term)] = extra_weight
        for term in terms(text):
            weights[term_index(term)] = 1.0
        return SparseVector(list(weights), list(weights.values()))
