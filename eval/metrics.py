"""Evaluation metrics as pure functions. ``None`` means "does not apply" (never a zero)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.text.french import fold, stem


@dataclass(frozen=True)
class ChunkRef:
    """What a retrieved chunk says about where it comes from."""

    doc_id: str
    section_path: str = ""
    article: str | None = None


# --- retrieval ----------------------------------------------------------------------------------
def doc_ranks(chunk_doc_ids: Sequence[str]) -> dict[str, int]:
    """Rank of each document = 1-based position of its best (first) chunk."""
    ranks: dict[str, int] = {}
    for position, doc_id in enumerate(chunk_doc_ids, start=1):
        ranks.setdefault(doc_id, position)
    return ranks


def recall_at_k(ranks: dict[str, int], gold: Sequence[str], k: int) -> float | None:
    """Share of the gold documents ranked within the first ``k`` chunks."""
    if not gold:
        return None
    return sum(1 for d in set(gold) if ranks.get(d, k + 1) <= k) / len(set(gold))


def hit_at_k(ranks: dict[str, int], gold: Sequence[str], k: int) -> float | None:
    """1 when at least one gold document is within the first ``k`` chunks."""
    if not gold:
        return None
    return 1.0 if any(ranks.get(d, k + 1) <= k for d in gold) else 0.0


def mrr_at_k(ranks: dict[str, int], gold: Sequence[str], k: int) -> float | None:
    """Reciprocal rank of the best-ranked gold document (0 beyond ``k``)."""
    if not gold:
        return None
    best = min((ranks[d] for d in gold if d in ranks), default=k + 1)
    return 1.0 / best if best <= k else 0.0


def ndcg_at_k(ranks: dict[str, int], gold: Sequence[str], k: int) -> float | None:
    """Binary-relevance nDCG over document ranks."""
    gold_set = set(gold)
    if not gold_set:
        return None
    dcg = sum(1.0 / math.log2(ranks[d] + 1) for d in gold_set if d in ranks and ranks[d] <= k)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal


# --- sections -----------------------------------------------------------------------------------
def normalise_section(text: str) -> str:
    """Case, accents, dashes, quotes, "Art." and spacing folded: ``Article  L.232-14`` → ``article l. 232-14``."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[‐‑‒–—―]", "-", text)
    text = re.sub(r"[«»\"“”]", " ", text)
    text = fold(text)
    text = re.sub(r"\bart\.\s*", "article ", text)
    text = re.sub(r"\b([lrda])\.?\s*(\d)", r"\1. \2", text)  # "L232-1", "L. 232-1" → "l. 232-1"
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _section_pattern(section: str) -> re.Pattern[str]:
    # The gold text must end on a boundary: "Article 2.1" does not match "Article 2.1.4", nor "L. 232-3" "L. 232-3-1".
    return re.compile(r"(?<![\w.-])" + re.escape(normalise_section(section)) + r"(?![\w]|[-.]\w)")


def section_matches(section: str, chunk: ChunkRef) -> bool:
    """Whether a gold section names the chunk's heading path or article."""
    pattern = _section_pattern(section)
    haystacks = [chunk.section_path] + ([f"Article {chunk.article}", chunk.article] if chunk.article else [])
    return any(pattern.search(normalise_section(h)) for h in haystacks if h)


def section_hit(chunks: Sequence[ChunkRef], gold_sources: Iterable[tuple[str, str | None]], k: int) -> float | None:
    """Share of the gold (document, section) pairs found among the first ``k`` chunks."""
    targets = [(doc, sec) for doc, sec in gold_sources if sec]
    if not targets:
        return None
    top = chunks[:k]
    found = sum(1 for doc, sec in targets if any(c.doc_id == doc and section_matches(sec, c) for c in top))
    return found / len(targets)


# --- citations, verification, abstention --------------------------------------------------------
def citation_precision(cited_doc_ids: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the cited passages whose document is a gold document."""
    if not cited_doc_ids or not gold:
        return None
    gold_set = set(gold)
    return sum(1 for d in cited_doc_ids if d in gold_set) / len(cited_doc_ids)


def citation_recall(cited_doc_ids: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the gold documents cited at least once."""
    if not gold:
        return None
    return len(set(gold) & set(cited_doc_ids)) / len(set(gold))


def support_rate(checked: int, supported: int) -> float | None:
    """Share of the checked answer sentences that their cited passages support."""
    return supported / checked if checked else None


def abstention_scores(outcomes: Iterable[tuple[bool, bool]]) -> dict[str, float | None]:
    """From ``(answerable, abstained)`` pairs: precision and recall of abstaining on unanswerable questions.
    Both are undefined on a set without unanswerable questions (``answer_rate`` covers false abstentions)."""
    pairs = list(outcomes)
    abstained = [answerable for answerable, did in pairs if did]
    unanswerable = [did for answerable, did in pairs if not answerable]
    precision = sum(1 for a in abstained if not a) / len(abstained) if abstained and unanswerable else None
    recall = sum(unanswerable) / len(unanswerable) if unanswerable else None
    f1 = (2 * precision * recall / (precision + recall) if precision + recall else 0.0) \
        if precision is not None and recall is not None else None
    return {"abstention_precision": precision, "abstention_recall": recall, "abstention_f1": f1}


def status_accuracy(expected: dict[str, str], observed: dict[str, str]) -> float | None:
    """Share of the territories whose comparison status is the expected one."""
    if not expected:
        return None
    return sum(1 for code, status in expected.items() if observed.get(code) == status) / len(expected)


# --- answer text against the reference ------------------------------------------------------------
_WORD_RE = re.compile(r"[^\W_]+")


class FrenchTokenizer:
    """Words lower-cased, stemmed (Snowball) and folded, stop words kept, for ROUGE on French."""

    def tokenize(self, text: str) -> list[str]:
        return [fold(stem(w)) for w in _WORD_RE.findall(text.lower().replace("’", "'"))]


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=FrenchTokenizer())


def rouge_l(reference: str, answer: str) -> float | None:
    """ROUGE-L F-measure (rouge-score, French tokenisation: its default one drops accented letters)."""
    if not reference.strip():
        return None
    return float(_rouge_scorer().score(reference, answer).get("rougeL").fmeasure)


def chrf(reference: str, answer: str) -> float | None:
    """chrF (0-1) through ragas' ``CHRFScore`` (sacrebleu)."""
    if not reference.strip():
        return None
    from ragas.metrics.collections import CHRFScore

    return float(CHRFScore().score(reference=reference, response=answer).value)


def _ragas_metric(name: str):
    """ragas 0.4 keeps its non-LLM context metrics in ``ragas.metrics`` (not yet in ``collections``)."""
    import warnings

    import ragas.metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ragas.metrics, name)()


def nonllm_context_recall(retrieved: Sequence[str], reference_contexts: Sequence[str]) -> float | None:
    """ragas ``NonLLMContextRecall``: share of the reference contexts matched by a retrieved one."""
    if not reference_contexts:
        return None
    if not retrieved:
        return 0.0
    from ragas.dataset_schema import SingleTurnSample

    sample = SingleTurnSample(retrieved_contexts=list(retrieved), reference_contexts=list(reference_contexts))
    return float(_ragas_metric("NonLLMContextRecall").single_turn_score(sample))


def nonllm_context_precision(retrieved: Sequence[str], reference_contexts: Sequence[str]) -> float | None:
    """ragas ``NonLLMContextPrecisionWithReference``: average precision of the retrieved contexts."""
    if not reference_contexts or not retrieved:
        return None
    from ragas.dataset_schema import SingleTurnSample

    sample = SingleTurnSample(retrieved_contexts=list(retrieved), reference_contexts=list(reference_contexts))
    value = float(_ragas_metric("NonLLMContextPrecisionWithReference").single_turn_score(sample))
    return round(value, 9)  # ragas adds 1e-10 to the denominator


# --- aggregation ---------------------------------------------------------------------------------
def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """Linear-interpolation percentile (``q`` in 0-100)."""
    kept = sorted(v for v in values if v is not None)
    if not kept:
        return None
    position = (len(kept) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return kept[low] + (kept[high] - kept[low]) * (position - low)


# --- key facts stated by an answer ----------------------------------------------------------------
# "1 000 000 €" → "1000000 €": digit groups joined across one space only, so that table cells on separate
# lines ("840\n120") stay apart, and never after a decimal comma ("0,84 840").
_DIGIT_GROUPS_RE = re.compile(r"(?<![\d,.])\d{1,3}(?: \d{3})+(?!\d)")
_UNIT_SPACE_RE = re.compile(r"(?<=\d) (?=[%€])")  # "10 %" → "10%"
_SUPERSCRIPT_SPACE_RE = re.compile(r"\s+(?=[²³])")  # "9 m ²" → "9 m²" (then "9 m2")
_ELISION_RE = re.compile(r"(?<=\w)['’](?=\w)")  # "d'un mois": text2num reads "un" only as a separate word


def normalise_for_match(text: str) -> str:
    """Text folded for key-fact matching: French number words as digits (text2num: ``soixante ans`` →
    ``60 ans``, ``d'un mois`` → ``d'1 mois``), lower case without accents, one space between words, digit
    groups joined (``1 000 €`` → ``1000€``)."""
    from text_to_num import alpha2digit

    text = unicodedata.normalize("NFKC", _SUPERSCRIPT_SPACE_RE.sub("", text))  # no-break spaces → spaces, ² → 2
    text = _DIGIT_GROUPS_RE.sub(lambda m: m.group().replace(" ", ""), text)
    text = " ".join(text.lower().split())
    text = alpha2digit(_ELISION_RE.sub("' ", text), "fr", threshold=0).replace("' ", "'")
    text = " ".join(fold(text).split())
    return _UNIT_SPACE_RE.sub("", text)


@lru_cache(maxsize=4096)
def _fact_pattern(pattern: str) -> re.Pattern[str]:
    # Whole words only: "60 ans" is not found in "160 ans", nor "1 mois" in "11 mois".
    return re.compile(r"(?<!\w)" + re.escape(normalise_for_match(pattern)) + r"(?!\w)")


def states_answer(answer: str, patterns: Sequence[str]) -> bool:
    """Whether the answer states the key fact: any pattern, normalised, occurs as whole words in the normalised answer."""
    text = normalise_for_match(answer)
    return any(_fact_pattern(p).search(text) for p in patterns if p.strip())
