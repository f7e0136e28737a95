"""The harmonisation matrix: every question of a référentiel against every territory's documents.

One row per practice question (its national rule, quoted and cited), one column per territory, each cell a
status (``conforme``, ``divergent``, ``contraire``, ``non_trouve``) with the local practice quoted and cited
(document, section or article, page) and a one-line reason (the values compared).

It reuses the answer's components (:class:`~assistant.answering.components.AnswerComponents`): the hybrid
retriever, the sentence selector, the term statistics and the practice comparator, and the extractive
citations (:func:`~assistant.answering.steps.answer_extractive.quote_evidence`). For each
question:

1. the national rule: the section the référentiel names (the whole section is the rule compared; the
   selector picks the sentences quoted), or the national passages closest to the question; every figure
   of that document and of the nearest national passages is context (a local figure found there restates
   the law);
2. for each territory: its ``pratique_territoriale`` passages closest to the row (question and label
   searches, fused by rank); the best section is the practice, compared whole with the rule, its sentences
   holding the question's words quoted; under ``min_similarity`` (cosine of the question with the
   territory's closest passage, read from the index) the cell is « non trouvé »;
3. :class:`~assistant.answering.comparison.PracticeComparator` classifies the pair (rules, or the LLM in
   generative mode with the rules as fallback), the row's label naming the topic.

Visibility: every search carries the reader's groups (:class:`SearchFilter`), as answers do; a territory
whose documents the reader cannot see is « non trouvé » (and absent from the default columns).
Cost: the question's vector is computed once per row and no passage is embedded again, so a cell is three
index queries and the rules (``MatrixOptions.candidates`` > 1 runs the selector instead: one embedding per
cell).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from assistant.answering.comparison import PracticeComparator
from assistant.answering.extractive import Evidence, SelectedSentence, answer_units
from assistant.answering.sentences import content_terms, split_sentences
from assistant.answering.schema import Citation, PracticeStatus
from assistant.answering.steps.answer_extractive import quote_evidence
from assistant.components.vector_store import ScoredPoint, SearchFilter
from assistant.harmonisation.referentiel import PracticeQuestion, Referentiel
from assistant.retrieval.retriever import Passage
from assistant.text.french import fold, terms

STATUS_ORDER: tuple[str, ...] = ("conforme", "divergent", "contraire", "non_trouve")
STATUS_LABELS = {"conforme": "Conforme", "divergent": "Divergent", "contraire": "Contraire", "non_trouve": "Non trouvé"}
NOT_FOUND_QUOTE = "Non trouvé dans les documents de ce territoire."
NATIONAL_NOT_FOUND = "Règle nationale non trouvée dans les documents visibles."
_RRF_K = 3  # reciprocal-rank fusion of the label and question searches
_SIGNAL_RE = re.compile(r"\d|obligatoire|\bdoit\b|\bpeut\b|\bpeuvent\b|\bne\b|\bn'|\bsans\b|\bsauf\b|\bgratuit|"
                        r"\bun|\bdeux|\btrois|\bquinze|\bsoixante", re.IGNORECASE)


class MatrixCell(BaseModel):
    question_id: str
    territory: str
    status: PracticeStatus
    reason: str = Field("", description="One line: the values or words compared.")
    note: str = Field("", description="The comparator's full note.")
    quote: str = Field("", description="The local practice, quoted verbatim (sentences joined by […]).")
    citations: list[Citation] = Field(default_factory=list)
    decided_by: Literal["regles", "llm"] = "regles"
    llm_error: str | None = None


class MatrixRow(BaseModel):
    id: str
    label: str
    question: str
    national_rule: str = Field(description="The référentiel's summary of the national rule.")
    national_reference: str = Field("", description="The référentiel's national document and section.")
    national_quote: str = ""
    national_citations: list[Citation] = Field(default_factory=list)


class HarmonisationMatrix(BaseModel):
    run_id: int | None = None
    created_at: str
    user: str = ""
    mode: str = "extractif"
    groups: list[str] = Field(default_factory=list)
    territories: list[str]
    rows: list[MatrixRow]
    cells: list[MatrixCell]
    documents: dict[str, str] = Field(default_factory=dict, description="doc_id → content hash of each document read.")
    referentiel: str = ""
    referentiel_hash: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    def cell(self, question_id: str, territory: str) -> MatrixCell | None:
        return self._index().get((question_id, territory))

    def _index(self) -> dict[tuple[str, str], MatrixCell]:
        return {(c.question_id, c.territory): c for c in self.cells}

    def counts_by_territory(self) -> dict[str, Counter]:
        counts = {t: Counter() for t in self.territories}
        for c in self.cells:
            counts.setdefault(c.territory, Counter())[c.status] += 1
        return counts

    def counts_by_question(self) -> dict[str, Counter]:
        counts = {r.id: Counter() for r in self.rows}
        for c in self.cells:
            counts.setdefault(c.question_id, Counter())[c.status] += 1
        return counts

    def totals(self) -> Counter:
        return Counter(c.status for c in self.cells)

    def filtered(self, *, statuses: Iterable[str] = (), territories: Iterable[str] = (),
                 questions: Iterable[str] = ()) -> "HarmonisationMatrix":
        """The same run restricted to some statuses, territories or questions (empty: no restriction)."""
        statuses, territories, questions = set(statuses), list(territories), set(questions)
        rows = [r for r in self.rows if not questions or r.id in questions]
        columns = [t for t in self.territories if not territories or t in territories]
        kept_rows, kept_columns = {r.id for r in rows}, set(columns)
        cells = [c for c in self.cells if c.question_id in kept_rows and c.territory in kept_columns
                 and (not statuses or c.status in statuses)]
        return self.model_copy(update={"rows": rows, "territories": columns, "cells": cells})


@dataclass(frozen=True)
class MatrixOptions:
    """What a matrix run may tune (defaults: ``Settings().harmonisation``; the bench fixes them without
    looking at the territory under test).

    ``candidates``: 1 reads the practice in the best passage (question and label searches fused), its
    sentences quoted by their words; more runs the sentence selector over that many passages (one embedding
    per cell) and keeps the section of the best sentence. ``compare``: ``section`` compares the whole
    section with the rule, ``sentences`` only the selected sentences. ``sections``: with 2, the next best
    section of the territory is compared too (a practice split over two articles). ``heading_weight``: how much
    the row's words in a passage's own heading add to its fused rank score. « Non trouvé »: under
    ``min_similarity`` (cosine of the question with the territory's closest passage), or when the chosen
    section holds none of the label's words and under ``min_question_coverage`` of the question's (IDF-weighted)."""

    top_k: int = 4
    candidates: int = 1
    min_similarity: float = 0.84
    compare: Literal["section", "sentences"] = "section"
    sections: int = 1
    max_quote_sentences: int = 3
    heading_weight: float = 0.2
    min_question_coverage: float = 0.3

    @classmethod
    def from_settings(cls, settings: Any) -> "MatrixOptions":
        return cls(top_k=settings.top_k, candidates=settings.candidates, min_similarity=settings.min_similarity,
                   compare=settings.compare, sections=settings.sections, heading_weight=settings.heading_weight,
                   min_question_coverage=settings.min_question_coverage)


class _QueryMemo:
    """The embedder, with query vectors memoised: one question, many territories, one embedding."""

    def __init__(self, inner: Any):
        self.inner = inner
        self._queries: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            for text, vector in zip(missing, self.inner.embed_queries(missing)):
                self._queries[text] = vector
        return np.stack([self._queries[t] for t in texts]) if texts else self.inner.embed_queries([])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


Progress = Callable[[int, int, str], None]


class MatrixBuilder:
    """``build(referentiel, territories=…, questions=…, groups=…, mode=…)`` → :class:`HarmonisationMatrix`."""

    def __init__(self, components: Any, options: MatrixOptions | None = None, comparator: PracticeComparator | None = None):
        self.components = components
        self.options = options or MatrixOptions()
        self.store = components.retriever.store
        memo = _QueryMemo(components.retriever.embedder)
        self.retriever = copy.copy(components.retriever)
        self.retriever.embedder = memo
        self.selector = copy.copy(components.selector)
        self.selector.embedder = memo
        self.comparator = comparator or components.comparator

    # --- what the caller may see ------------------------------------------------------------------
    def territories(self, groups: Iterable[str] = ()) -> list[str]:
        """Territories with at least one practice document visible to ``groups``, sorted by code."""
        visible = SearchFilter(doc_types=("pratique_territoriale",), groups=tuple(groups))
        codes = {str(p.get("territory")) for _, p in self.store.scroll_payloads(["territory"], visible)}
        return sorted(c for c in codes if c and c != "national")

    # --- the run ----------------------------------------------------------------------------------
    def build(self, referentiel: Referentiel, *, territories: Iterable[str] | None = None,
              questions: list[str] | None = None, groups: Iterable[str] = (), mode: str = "extractif",
              user: str = "", progress: Progress | None = None) -> HarmonisationMatrix:
        started = time.perf_counter()
        groups = tuple(groups)
        selected = referentiel.select(questions)
        codes = list(dict.fromkeys(territories)) if territories else self.territories(groups)
        warnings: list[str] = []
        if not codes:
            warnings.append("Aucun document de pratique territoriale visible : la matrice est vide.")
        use_llm = mode == "generatif"
        rows: list[MatrixRow] = []
        cells: list[MatrixCell] = []
        read: set[str] = set()
        total, done = len(selected) * len(codes), 0
        cell_seconds = 0.0
        for question in selected:
            national = self.national(question, groups, warnings)
            rows.append(national.row)
            read |= national.documents
            for code in codes:
                t0 = time.perf_counter()
                gathered = self.gather(question, code, groups)
                cells.append(self.decide(question, code, gathered, national, use_llm=use_llm))
                cell_seconds += time.perf_counter() - t0
                read |= {p.doc_id for p in gathered.passages}
                done += 1
                if progress:
                    progress(done, total, f"{question.id} × {code}")
        documents = self.document_hashes(read, groups)
        elapsed = time.perf_counter() - started
        return HarmonisationMatrix(
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), user=user, mode=mode,
            groups=list(groups), territories=codes, rows=rows, cells=cells, documents=documents,
            referentiel=referentiel.source, referentiel_hash=referentiel.fingerprint(), warnings=warnings,
            timings={"total_s": round(elapsed, 3), "cells": float(len(cells)),
                     "per_cell_s": round(elapsed / len(cells), 4) if cells else 0.0,
                     "territory_cells_s": round(cell_seconds, 3)},
        )

    @staticmethod
    def queries(question: PracticeQuestion) -> tuple[str, str]:
        """The row's searches: its question and its label (fused by rank; ties go to the question)."""
        return question.question, question.label

    def _search(self, question: PracticeQuestion, search_filter: SearchFilter) -> list[Passage]:
        """Passages of the question search and of the label search, fused by reciprocal rank, plus
        ``heading_weight`` × the share (IDF-weighted) of the row's words in each passage's own heading."""
        scores: dict[str, float] = {}
        kept: dict[str, Passage] = {}
        for text in self.queries(question):
            for rank, passage in enumerate(self.retriever.run(text, search_filter, top_k=self.options.top_k).passages):
                scores[passage.point_id] = scores.get(passage.point_id, 0.0) + 1.0 / (_RRF_K + rank)
                kept.setdefault(passage.point_id, passage)
        if self.options.heading_weight:
            row_words = content_terms(question.label) | content_terms(question.question)
            for pid, passage in kept.items():
                heading = passage.section_path.split("›")[-1]
                scores[pid] += self.options.heading_weight * self._coverage(row_words, heading)
        return [kept[pid] for pid in sorted(scores, key=lambda pid: -scores[pid])]

    def _coverage(self, words: set[str], text: str) -> float:
        """IDF-weighted share of ``words`` (content terms) found in ``text``."""
        weights = self.components.term_stats.idf_weights(words)
        total = sum(weights.values())
        return sum(weights[w] for w in words & set(terms(text))) / total if total else 0.0

    def national(self, question: PracticeQuestion, groups: tuple[str, ...] = (),
                 warnings: list[str] | None = None) -> "NationalSide":
        """The row's national rule: the sentences of the référentiel's national section closest to the
        question (all national texts when it names none), and as context every figure of that document and
        of the national passages closest to the question (a local figure found there restates the law)."""
        query = question.question
        reference = question.national
        pinned_doc = self._document_passages(reference.doc_id, groups) if reference.doc_id else []
        passages = _section(pinned_doc, reference.section) if reference.section else []
        base = SearchFilter(territories=("national",), include_national=False, groups=groups)
        if pinned_doc and not passages:  # no section named, or not found: the document's passages closest to the question
            passages = self._search(question, replace(base, doc_ids=(reference.doc_id,)))
        if reference.doc_id and not pinned_doc and warnings is not None:
            warnings.append(f"{question.id} : document national « {reference.doc_id} » absent ou non visible ; "
                            "règle cherchée dans tous les textes nationaux.")
        nearest = self._search(question, base)
        pinned = bool(passages)
        passages = passages or nearest[: self.options.candidates]
        evidence = self.selector.run(query, passages) if passages else None
        where = " › ".join(x for x in (reference.doc_id, reference.section) if x)
        context = " ".join(p.text for p in [*pinned_doc, *nearest])
        documents = {p.doc_id for p in [*passages, *nearest]}
        row = MatrixRow(id=question.id, label=question.label, question=question.question,
                        national_rule=reference.rule, national_reference=where, national_quote=NATIONAL_NOT_FOUND)
        if evidence is None or not evidence.sentences:
            return NationalSide(row, "", context, documents)
        _, row.national_citations = quote_evidence(evidence, passages)
        row.national_quote = " […] ".join(s.text for s in evidence.sentences)
        # The référentiel names the rule's section: the whole section is the rule compared.
        rule = " ".join(p.text for p in passages) if pinned else " ".join(s.text for s in evidence.sentences)
        return NationalSide(row, rule, context, documents)

    def _document_passages(self, doc_id: str, groups: tuple[str, ...]) -> list[Passage]:
        """Every chunk of a document visible to ``groups``, in document order (empty when absent or hidden)."""
        visible = SearchFilter(doc_ids=(doc_id,), groups=groups)
        passages = [Passage.from_point(ScoredPoint(pid, 1.0, payload))
                    for pid, payload in self.store.scroll_payloads(True, visible)]
        return sorted(passages, key=lambda p: p.chunk_index)

    def gather(self, question: PracticeQuestion, code: str, groups: tuple[str, ...] = ()) -> "Gathered":
        """A territory's practice passages closest to the row (question and label searches fused), the cosine of
        the question with the closest of them (read from the index: no passage is embedded again) and, with
        more than one candidate, the sentences the selector keeps among the best ``candidates`` passages."""
        flt = SearchFilter(territories=(code,), include_national=False, doc_types=("pratique_territoriale",), groups=groups)
        passages = self._search(question, flt)
        if not passages:
            return Gathered([], None, 0.0)
        vector = self.retriever.embedder.embed_queries([question.question])[0]
        nearest = self.store.query_hybrid(vector, None, limit=self.options.top_k, prefetch_k=self.options.top_k,
                                          search_filter=flt)
        similarity = max((p.score for p in nearest), default=0.0)
        evidence = (self.selector.run(question.question, passages[: self.options.candidates])
                    if self.options.candidates > 1 else None)
        return Gathered(passages, evidence, similarity)

    def decide(self, question: PracticeQuestion, code: str, gathered: "Gathered", national: "NationalSide", *,
               use_llm: bool = False, options: MatrixOptions | None = None) -> MatrixCell:
        """The cell's status from the gathered practice (``options`` override the builder's thresholds)."""
        options = options or self.options
        passages = gathered.passages
        evidence = gathered.evidence
        if evidence is not None and evidence.sentences:
            evidence, section = _focus(evidence, passages)
            similarity = evidence.similarity
        elif passages:
            section = [p for p in passages if (p.doc_id, p.section_path) == (passages[0].doc_id, passages[0].section_path)]
            evidence = self._quote(question, passages, section, gathered.similarity)
            similarity = gathered.similarity
        where = " ".join(f"{p.title} {p.section_path} {p.text}" for p in section) if passages else ""
        off_topic = (bool(passages) and self._coverage(content_terms(question.label), where) == 0
                     and self._coverage(content_terms(question.question), where) < options.min_question_coverage)
        if not passages or not evidence.sentences or similarity < options.min_similarity or off_topic:
            result = self.comparator.judge(national.sentences, "", use_llm=False)
            return MatrixCell(question_id=question.id, territory=code, status="non_trouve", reason=result.reason,
                              note=result.note, quote=NOT_FOUND_QUOTE)
        _, citations = quote_evidence(evidence, passages)
        practice = (" ".join(p.text for p in section) if options.compare == "section"
                    else " ".join(s.text for s in evidence.sentences))
        if options.sections > 1:
            practice += " " + " ".join(p.text for p in _next_sections(passages, section, options.sections - 1))
        result = self.comparator.judge(national.sentences, practice, national_context=national.context, use_llm=use_llm,
                                       question=question.question, topic=question.label)
        return MatrixCell(question_id=question.id, territory=code, status=result.status, reason=result.reason,
                          note=result.note, quote=" […] ".join(s.text for s in evidence.sentences), citations=citations,
                          decided_by=result.source, llm_error=result.error)

    def _quote(self, question: PracticeQuestion, passages: list[Passage], section: list[Passage], similarity: float) -> Evidence:
        """The section's answer units (a list with its lead-in, never a title or a sub-heading question; the
        extractive answer's units) that best answer the row, in reading order: the question's words (IDF-weighted)
        they hold, a figure or a modal word ("obligatoire", "peut") counting too. A passage with no answer unit (a
        chunk that starts inside a list) is quoted line by line."""
        words = content_terms(f"{question.label} {question.question}")
        weights = self.components.term_stats.idf_weights(words)
        scored = []
        for passage in section:
            index = passages.index(passage)
            for position, sentence in enumerate(answer_units(passage.text) or split_sentences(passage.text)):
                if len(sentence) < 15:
                    continue
                present = words & content_terms(sentence)
                score = sum(weights[w] for w in present) / (sum(weights.values()) or 1.0)
                score += 0.2 * bool(_SIGNAL_RE.search(sentence))
                scored.append((score, index, position, sentence))
        best = sorted(scored, key=lambda x: -x[0])[: self.options.max_quote_sentences]
        chosen = [SelectedSentence(i, text, score, similarity, position)
                  for score, i, position, text in sorted(best, key=lambda x: (x[1], x[2])) if score > 0]
        return Evidence(similarity, chosen, similarity=similarity)

    # --- documents read ---------------------------------------------------------------------------
    def document_hashes(self, doc_ids: Iterable[str], groups: Iterable[str] = ()) -> dict[str, str]:
        """A content hash per document (its chunks' text hashes, in order): a changed text, a new hash."""
        doc_ids = tuple(sorted(set(doc_ids)))
        if not doc_ids:
            return {}
        visible = SearchFilter(doc_ids=doc_ids, groups=tuple(groups), include_abrogated=True)
        chunks: dict[str, list[tuple[int, str]]] = {}
        for _, p in self.store.scroll_payloads(["doc_id", "chunk_index", "content_hash"], visible):
            chunks.setdefault(p["doc_id"], []).append((int(p.get("chunk_index") or 0), str(p.get("content_hash") or "")))
        return {doc: hashlib.sha256("\n".join(h for _, h in sorted(parts)).encode()).hexdigest()[:16]
                for doc, parts in sorted(chunks.items())}


@dataclass
class NationalSide:
    row: MatrixRow
    sentences: str  # the national rule's sentences, compared
    context: str  # the national passages around them (figures found there restate the law)
    documents: set[str]


@dataclass
class Gathered:
    passages: list[Passage]
    evidence: Evidence | None  # the selector's sentences (candidates > 1)
    similarity: float  # cosine of the question with the territory's closest passage


def _next_sections(passages: list[Passage], chosen: list[Passage], count: int) -> list[Passage]:
    """The passages of the next ``count`` sections in rank order, other than the chosen one."""
    taken = {(p.doc_id, p.section_path) for p in chosen}
    keys = list(dict.fromkeys((p.doc_id, p.section_path) for p in passages if (p.doc_id, p.section_path) not in taken))
    wanted = set(keys[:count])
    return [p for p in passages if (p.doc_id, p.section_path) in wanted]


def _section(passages: list[Passage], section: str) -> list[Passage]:
    """The chunks under ``section`` (heading match, accents and dashes aside)."""
    wanted = _heading_key(section)
    return [p for p in passages if wanted in _heading_key(p.section_path)]


def _heading_key(text: str) -> str:
    return " ".join(fold(text).replace("—", " ").replace("-", " ").split())


def _focus(evidence: Any, passages: list[Passage]) -> tuple[Any, list[Passage]]:
    """The selected sentences of the best sentence's section (same document and section path), and that
    section's passages: the practice is read in one place, not stitched from neighbouring articles."""
    best = max(evidence.sentences, key=lambda s: s.score)
    anchor = passages[best.passage_index]
    key = (anchor.doc_id, anchor.section_path)
    kept = [s for s in evidence.sentences if (passages[s.passage_index].doc_id, passages[s.passage_index].section_path) == key]
    return replace(evidence, sentences=kept), [p for p in passages if (p.doc_id, p.section_path) == key]
