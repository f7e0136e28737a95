"""Extractive answers: the sentences of the retrieved passages that carry the asked information, quoted
verbatim and cited; and whether the passages answer at all (abstention).

Both decisions come from the fitted models of :mod:`assistant.answering.relevance` (``judge.json``): the
selector computes the features of the top passages and of their sentences, the models give the
probabilities, the judge compares the question's answerability with the fitted thresholds.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answering.relevance import (
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    QuestionProfile,
    RelevanceJudge,
    passage_row,
    question_profile,
    question_row,
    sentence_row,
)
from assistant.answering.sentences import SENTENCE_END, content_terms, split_sentences
from assistant.retrieval.retriever import Passage
from assistant.text.french import fold, terms
from assistant.text.glossary import Glossary
from assistant.text.injection import is_instruction


def looks_like_injection(text: str, flagged: Sequence[str] = ()) -> bool:
    """An instruction addressed to the assistant, planted in a document: never quoted nor sent to the LLM.
    Besides the sentence read on its own, the sentences ingestion ``flagged`` in its passage, read in context
    (« Il doit écrire… » is an order only after « Assistant, … »; ``Passage.suspected_instructions``), are withheld."""
    if is_instruction(text):
        return True
    unit = _folded(text)
    return any(f and (f in unit or unit in f) for f in map(_folded, flagged))


def _folded(text: str) -> str:
    return " ".join(fold(text).split())


@dataclass
class SelectedSentence:
    passage_index: int
    text: str
    score: float  # probability that the sentence carries the asked information
    similarity: float
    position: int = 0  # rank of the sentence in its passage


@dataclass
class Evidence:
    """How well the passages answer: the answerability probability, the passages' relevance and the
    sentences chosen for the answer."""

    answerability: float
    sentences: list[SelectedSentence]
    passage_relevance: list[float] = field(default_factory=list)  # per retrieved passage
    order: list[int] = field(default_factory=list)  # retrieved passages by decreasing relevance
    similarity: float = 0.0  # best sentence cosine (reported, not decided on)


@dataclass
class SentenceCandidate:
    passage_index: int  # in the retrieved list
    text: str
    position: int
    count: int  # sentences in the passage
    similarity: float
    coverage: float


@dataclass
class PassagePool:
    """The features of one question against its retrieved passages, before any model."""

    profile: QuestionProfile
    passages: list[Passage]
    rows: np.ndarray  # one row of PASSAGE_FEATURES per passage
    top_similarity: float
    max_coverage: float
    max_rare_coverage: float
    missing_mass: float  # IDF share of the question's information found in none of the passages
    document_margin: float
    distinct_documents: float

    def question_row(self, passage_probabilities: np.ndarray, candidates: list[SentenceCandidate]) -> list[float]:
        return question_row(list(passage_probabilities), top_similarity=self.top_similarity,
                            top_sentence=max((c.similarity for c in candidates), default=0.0),
                            max_coverage=self.max_coverage, max_rare_coverage=self.max_rare_coverage,
                            missing_mass=self.missing_mass, document_margin=self.document_margin,
                            distinct_documents=self.distinct_documents)

    def sentence_rows(self, candidates: list[SentenceCandidate], passage_probabilities: np.ndarray,
                      order: list[int]) -> np.ndarray:
        """``order``: passage indices by decreasing relevance (a sentence's passage rank is its place there)."""
        best = max((c.similarity for c in candidates), default=0.0)
        rank = {index: place for place, index in enumerate(order)}
        return np.asarray([
            sentence_row(self.profile, similarity=c.similarity, best_similarity=best, coverage=c.coverage,
                         passage_relevance=float(passage_probabilities[c.passage_index]), passage_rank=rank[c.passage_index],
                         position=c.position, count=c.count, text=c.text)
            for c in candidates
        ], dtype=float).reshape(len(candidates), len(SENTENCE_FEATURES))


@dataclass(frozen=True)
class Sufficiency:
    sufficient: bool
    doubtful: bool
    strength: float  # the answerability probability


class EvidenceJudge:
    """Answers when the fitted answerability reaches ``answer_threshold``; with a caution under
    ``caution_threshold``. Both thresholds come from the judge artifact (chosen there for a stated precision
    target on development data), unless the settings override them."""

    def __init__(self, answer_threshold: float, caution_threshold: float):
        if not 0 <= answer_threshold <= caution_threshold <= 1:
            raise ValueError("caution_threshold must be at least answer_threshold, both within [0, 1]")
        self.answer_threshold = answer_threshold
        self.caution_threshold = caution_threshold

    def run(self, evidence: Evidence) -> Sufficiency:
        sufficient = bool(evidence.sentences) and evidence.answerability >= self.answer_threshold
        return Sufficiency(sufficient, sufficient and evidence.answerability < self.caution_threshold,
                           round(evidence.answerability, 4))


class SentenceVectors:
    """The embedder, remembering the vectors of the last ``capacity`` passage sentences: the same passages come
    back across questions (a comparison's national rule for each territory, follow-ups, the articles everyone
    asks about), their sentences are embedded once. Thread-safe: one instance serves concurrent requests.
    (functools.lru_cache caches one text per call; the embedder wants the missing texts as one batch.)"""

    def __init__(self, embedder, capacity: int = 20_000):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.embedder.embed_passages([])
        with self._lock:
            known = {t: self._vectors[t] for t in dict.fromkeys(texts) if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embedder.embed_passages(missing)))
            with self._lock:
                for text in missing:
                    self._vectors[text] = known[text]
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])


class SentenceSelector:
    """Two stages, both scored by the judge's models: the retrieved passages are re-ranked by their
    relevance (dense similarity, glossary-aware coverage, rank, asked vs stated information…); the
    sentences of the ``max_passages`` most relevant ones are scored, and the most probable quoted."""

    def __init__(self, embedder, judge: RelevanceJudge | None, glossary: Glossary | None = None, max_passages: int = 5,
                 max_sentences: int = 4, idf_weights=None):
        if max_passages < 1 or max_sentences < 1:
            raise ValueError("max_passages and max_sentences must be at least 1")
        self.embedder = embedder if isinstance(embedder, SentenceVectors) else SentenceVectors(embedder)
        self.judge = judge  # None only to gather features for training (eval/train_judge.py)
        self.glossary = glossary
        self.idf_weights = idf_weights or (lambda words: dict.fromkeys(words, 1.0))
        self.max_passages = max_passages
        self.max_sentences = max_sentences

    def passage_pool(self, question: str, passages: list[Passage]) -> PassagePool:
        return passage_pool(question_profile(question, self.glossary, self.idf_weights), passages)

    def candidates(self, question: str, pool: PassagePool, indices: list[int]) -> list[SentenceCandidate]:
        """The answer units of the passages at ``indices``, with their similarity to the question."""
        found: list[SentenceCandidate] = []
        for index in indices:
            passage = pool.passages[index]
            units = [u for u in answer_units(passage.text)
                     if len(u) >= 15 and not looks_like_injection(u, passage.suspected_instructions)]
            found += [SentenceCandidate(index, unit, position, len(units), 0.0, pool.profile.coverage(set(terms(unit))))
                      for position, unit in enumerate(units)]
        if found:
            query_vector = self.embedder.embed_queries([question])[0]
            for candidate, similarity in zip(found, self.embedder.embed_passages([c.text for c in found]) @ query_vector):
                candidate.similarity = float(similarity)
        return found

    def run(self, question: str, passages: list[Passage]) -> Evidence:
        if not passages:
            return Evidence(0.0, [])
        judge = self.judge
        pool = self.passage_pool(question, passages)
        passage_probabilities = judge.passage.probabilities(pool.rows)
        order = [int(i) for i in np.argsort(-passage_probabilities, kind="stable")]
        candidates = self.candidates(question, pool, order[: self.max_passages])
        answerability = float(judge.answerability.probabilities(
            np.asarray([pool.question_row(passage_probabilities, candidates)]))[0])
        evidence = Evidence(answerability, [], passage_probabilities.tolist(), order=order,
                            similarity=max((c.similarity for c in candidates), default=0.0))
        if not candidates:
            return evidence
        sentence_probabilities = judge.sentence.probabilities(pool.sentence_rows(candidates, passage_probabilities, order))
        evidence.sentences = choose_sentences(candidates, sentence_probabilities, self.max_sentences,
                                              judge.sentence_threshold, lead_passage=order[0])
        return evidence


def choose_sentences(candidates: list[SentenceCandidate], probabilities: np.ndarray, max_sentences: int,
                     threshold: float, lead_passage: int | None = None) -> list[SelectedSentence]:
    """The most probable sentence of the most relevant passage (``lead_passage``) first — what that passage
    says about the question —, then the most probable others from ``threshold`` on (at most
    ``max_sentences``, no near-repeat)."""
    ranked = sorted(zip(candidates, probabilities), key=lambda pair: pair[1], reverse=True)
    lead = next((pair for pair in ranked if pair[0].passage_index == lead_passage), None)
    if lead is not None:
        ranked = [lead] + [pair for pair in ranked if pair is not lead]
    chosen: list[SelectedSentence] = []
    for candidate, probability in ranked:
        if len(chosen) >= max_sentences or (chosen and probability < threshold):
            break
        if any(_redundant(candidate.text, c.text) for c in chosen):
            continue
        chosen.append(SelectedSentence(candidate.passage_index, candidate.text, float(probability), candidate.similarity,
                                       candidate.position))
    return chosen


def passage_pool(profile: QuestionProfile, passages: list[Passage]) -> PassagePool:
    """The passage features of one question (``profile``) against its retrieved passages."""
    passage_terms = [set(terms(f"{p.title} {p.context} {p.section_path} {p.text}")) for p in passages]
    coverages = [profile.coverage(t) for t in passage_terms]
    rare = [profile.rare_coverage(t) for t in passage_terms]
    similarities = [p.similarity if p.similarity is not None else 0.0 for p in passages]
    by_document: dict[str, float] = {}
    for passage, similarity in zip(passages, similarities):
        by_document[passage.doc_id] = max(similarity, by_document.get(passage.doc_id, -1.0))

    def best_elsewhere(doc_id: str) -> float:
        return max((v for d, v in by_document.items() if d != doc_id), default=0.0)

    rows = [
        passage_row(profile, similarity=similarities[i], best_similarity=max(similarities),
                    other_document_best=best_elsewhere(p.doc_id), rank=i, coverage=coverages[i],
                    max_coverage=max(coverages), rare_coverage=rare[i],
                    heading_coverage=profile.coverage(set(terms(f"{p.title} {p.context} {p.section_path}"))),
                    article=p.article, text=p.text)
        for i, p in enumerate(passages)
    ]
    everything = set().union(*passage_terms) if passage_terms else set()
    documents = sorted(by_document.values(), reverse=True) + [0.0, 0.0]
    return PassagePool(profile, passages, np.asarray(rows, dtype=float).reshape(len(passages), len(PASSAGE_FEATURES)),
                       top_similarity=max(similarities, default=0.0), max_coverage=max(coverages, default=0.0),
                       max_rare_coverage=max(rare, default=0.0), missing_mass=1.0 - profile.coverage(everything),
                       document_margin=documents[0] - documents[1],
                       distinct_documents=len(by_document) / len(passages) if passages else 0.0)


# A list item: a bullet, an enumeration (« 1° », « a) », « 2) ») or a lower-case start.
_LIST_ITEM_RE = re.compile(r"^(?:[-•–]|\d{1,2}°|\d{1,2}\)|[a-zà-öø-ÿ])")


def _unfinished(unit: str) -> bool:
    return not unit.rstrip().endswith(SENTENCE_END)


def _heading_like(unit: str) -> bool:
    """« Organes de la copropriété », « Calcul de l'indemnité »: a short unpunctuated line with no figure and no
    table cell — a title, or a list item cut from its lead-in."""
    return _unfinished(unit) and len(unit) < 90 and not any(ch.isdigit() for ch in unit) and "|" not in unit


def answer_units(text: str) -> list[str]:
    """Sentences of a passage as answer units: a list's lead-in (« … les conditions suivantes : ») carries its
    items along, bulleted or not (« dans le cadre :\nd'un CDD d'insertion,\nd'un contrat unique… », unpunctuated
    lines, table rows) up to a nested lead-in (« où : »); a sentence wrapped over lines is one unit. Dropped,
    because they announce or ask and never answer: a lead-in whose items are not in the passage, a question
    (« Qui est concerné ? »), a title, and a line that continues a sentence begun elsewhere (lower-case start:
    items whose lead-in is in another chunk)."""
    units = split_sentences(text)
    out: list[str] = []
    position = 0
    while position < len(units):
        unit = units[position]
        position += 1
        if unit.endswith(":"):
            items = []
            while (position < len(units) and len(items) < 8 and not units[position].endswith(":")
                   and (_LIST_ITEM_RE.match(units[position]) or _unfinished(units[position]))):
                items.append(units[position])
                position += 1
            if items:
                out.append("\n".join([unit, *items]))
            continue
        while position < len(units) and unit[-1].isalnum() and units[position][0].islower():
            unit += "\n" + units[position]  # a sentence wrapped over lines (« … et attribue\nune APA… »)
            position += 1
        if unit.endswith("?") or unit[0].islower() or _heading_like(unit):
            continue
        out.append(unit)
    return out


def _redundant(a: str, b: str) -> bool:
    ta, tb = content_terms(a), content_terms(b)
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) > 0.7
