"""Document frequencies of index terms (for IDF-weighted evidence) and the territories the index
covers, read from the index itself."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable

from assistant.text.french import terms


class TermStatistics:
    """Chunk frequency of every term of the collection, and its territories; recomputed when the point
    count changes."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._count = -1
        self._df: Counter = Counter()
        self._n = 0
        self._territories: frozenset[str] = frozenset()

    def _refresh(self) -> None:
        count = self.store.count()
        if count == self._count:
            return
        df: Counter = Counter()
        n = 0
        territories: set[str] = set()
        for _, payload in self.store.scroll_payloads(["text", "title", "section_path", "territory"]):
            n += 1
            df.update(set(terms(f"{payload.get('title', '')} {payload.get('section_path', '')} {payload.get('text', '')}")))
            territories.add(str(payload.get("territory") or "national"))
        self._df, self._n, self._count, self._territories = df, n, count, frozenset(territories)
        weights = sorted(self._idf(d) for d in df.values())
        self._unseen = weights[len(weights) // 2] if weights else 1.0

    def _idf(self, df: int) -> float:
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def idf_weights(self, words: Iterable[str]) -> dict[str, float]:
        """BM25's IDF of each word, read against the index once per call (one point count, not one per
        word). A word absent from the corpus gets the median weight: it may be a rare topic word (a sign
        the corpus does not answer) as well as an unusual inflection of a common verb."""
        with self._lock:
            self._refresh()
            return {w: self._idf(self._df[w]) if self._df.get(w) else self._unseen for w in words}

    def territories(self) -> frozenset[str]:
        """Territory codes of the indexed documents (``national`` included)."""
        with self._lock:
            self._refresh()
            return self._territories
