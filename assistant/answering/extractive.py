"""Extractive answers: the most relevant sentences of the retrieved passages, quoted verbatim and cited.

This is what a CPU-only site gets, so it also decides whether the evidence suffices (abstention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.answering.sentences import content_terms, coverage, split_sentences
from assistant.text.french import terms
from assistant.retrieval.retriever import Passage

_INJECTION_RE = re.compile(
    r"ignor\w*\s+(?:les|toutes?\s+les|tes|vos)?\s*(?:consignes|instructions|règles)|oublie\w*\s+(?:les|tes|vos)\s+(?:consignes|instructions)"
    r"|tu\s+es\s+(?:désormais|maintenant)|system\s*prompt|ignore\s+(?:all|previous)\s+instructions",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION_RE.search(text))


@dataclass
class SelectedSentence:
    passage_index: int
    text: str
    score: float
    similarity: float


@dataclass
class Evidence:
    """How well the passages answer: best sentence similarity and query-term coverage."""

    similarity: float
    coverage: float
    sentences: list[SelectedSentence]


@dataclass(frozen=True)
class Sufficiency:
    sufficient: bool
    doubtful: bool
    strength: float


class EvidenceJudge:
    """Decides whether the evidence answers the question, else the assistant abstains.

    Neither signal suffices alone: lexical coverage misses paraphrases ("ne pas répondre" vs "le silence
    vaut rejet") and sentence similarity is compressed (e5 cosines of 0.80–0.95). Their sum,
    ``coverage + similarity_weight × (similarity − 0.85)``, separates answerable from out-of-corpus
    questions better than either (ROC AUC 0.85 vs 0.80 and 0.83 on the demo evaluation set).
    """

    PIVOT = 0.85

    def __init__(self, min_similarity: float, min_strength: float, similarity_weight: float, doubtful_below: float):
        if doubtful_below < min_strength:
            raise ValueError("doubtful_below must be at least min_strength")
        self.min_similarity = min_similarity
        self.min_strength = min_strength
        self.similarity_weight = similarity_weight
        self.doubtful_below = doubtful_below

    def run(self, evidence: Evidence) -> Sufficiency:
        strength = evidence.coverage + self.similarity_weight * (evidence.similarity - self.PIVOT)
        sufficient = bool(evidence.sentences) and evidence.similarity >= self.min_similarity and strength >= self.min_strength
        return Sufficiency(sufficient, sufficient and strength < self.doubtful_below, round(strength, 4))


class SentenceSelector:
    """Scores every sentence of the top passages against the question (dense + lexical + rank)."""

    def __init__(self, embedder, max_passages: int = 5, max_sentences: int = 4, relative_cut: float = 0.85,
                 idf_weights=None):
        self.embedder = embedder
        self.idf_weights = idf_weights or (lambda words: dict.fromkeys(words, 1.0))
        self.max_passages = max_passages
        self.max_sentences = max_sentences
        self.relative_cut = relative_cut

    def run(self, question: str, expansion_terms: str, passages: list[Passage]) -> Evidence:
        candidates: list[tuple[int, str]] = []
        for index, passage in enumerate(passages[: self.max_passages]):
            units = split_sentences(passage.text)
            for position, unit in enumerate(units):
                if looks_like_injection(unit) or len(unit) < 15:
                    continue
                if unit.endswith(":"):  # a list's lead-in brings its items along
                    following = [u for u in units[position + 1: position + 7] if u.startswith(("-", "•", "–"))]
                    unit = "\n".join([unit, *following]) if following else unit
                candidates.append((index, unit))
        query_terms = content_terms(question)
        weights = self.idf_weights(query_terms)
        top_coverage = max((_weighted_coverage(weights, f"{p.title} {p.section_path} {p.text}")
                            for p in passages[: self.max_passages]), default=0.0)
        if not candidates:
            return Evidence(0.0, top_coverage, [])
        query_vector = self.embedder.embed_queries([question])[0]
        sentence_vectors = self.embedder.embed_passages([text for _, text in candidates])
        similarities = sentence_vectors @ query_vector
        scored = []
        for (index, text), similarity in zip(candidates, similarities):
            lexical = coverage(query_terms, text) if query_terms else 0.0
            prior = 1.0 / (1 + index)
            scored.append(SelectedSentence(index, text, float(0.6 * similarity + 0.25 * lexical + 0.15 * prior), float(similarity)))
        scored.sort(key=lambda s: s.score, reverse=True)
        chosen: list[SelectedSentence] = []
        for candidate in scored:
            if len(chosen) >= self.max_sentences or candidate.score < self.relative_cut * scored[0].score:
                break
            if any(_redundant(candidate.text, c.text) for c in chosen):
                continue
            chosen.append(candidate)
        return Evidence(float(np.max(similarities)), top_coverage, chosen)


def _weighted_coverage(weights: dict[str, float], text: str) -> float:
    """Share of the question's information (IDF mass of its terms) found together in one passage."""
    total = sum(weights.values())
    present = weights.keys() & set(terms(text))
    return sum(weights[t] for t in present) / total if total else 0.0


def _redundant(a: str, b: str) -> bool:
    ta, tb = content_terms(a), content_terms(b)
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) > 0.7
