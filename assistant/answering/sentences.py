"""Sentence units of passages and answers, and the lexical evidence measures built on them."""

from __future__ import annotations

import re

from assistant.text.french import NOT_AFTER_ABBREVIATION, fold, terms

_SPLIT_RE = re.compile(rf"(?<=[.!?]){NOT_AFTER_ABBREVIATION}\s+(?=[«A-ZÀ-ÖØ-Ý0-9(])|\n+")
SENTENCE_END = (".", "!", "?", ":", ";", "»", ")")  # what a finished line ends with
_NUMBER_RE = re.compile(r"\d+(?:[  .]\d{3})*(?:,\d+)?")
GENERIC_TERMS = frozenset(terms(
    "quel quelle quels quelles comment combien pourquoi faut-il peut-on est-ce doit-on faire "
    "qui quoi où existe prévoit prévu prévue dire sais savoir cas situation question questions réponse"
))


def split_sentences(text: str) -> list[str]:
    """Verbatim sentence units (list items and table rows are units of their own)."""
    return [s.strip() for s in _SPLIT_RE.split(text) if s and s.strip()]


def numbers(text: str) -> set[str]:
    return {re.sub(r"[  .]", "", n) for n in _NUMBER_RE.findall(text)}


def content_terms(text: str) -> set[str]:
    return {t for t in terms(text) if t not in GENERIC_TERMS and not t.startswith("§")}


def coverage(query_terms: set[str], text: str) -> float:
    """Share of ``query_terms`` present in ``text``."""
    if not query_terms:
        return 0.0
    return len(query_terms & set(terms(text))) / len(query_terms)


def normalise_space(text: str) -> str:
    return " ".join(fold(text).replace("«", " ").replace("»", " ").split())
