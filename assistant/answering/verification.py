"""Mechanical citation checks: every cited passage exists and supports its sentence."""

from __future__ import annotations

import re

from assistant.answering.schema import Citation, SentenceCheck, Verification
from assistant.answering.sentences import content_terms, normalise_space, numbers, split_sentences

_MARKER_RE = re.compile(r"\[(\d+)\]")
_QUOTE_RE = re.compile(r"«\s*([^»]{8,}?)\s*»")


class CitationVerifier:
    """A sentence is supported when its cited passages contain its quotes verbatim, all its numbers,
    and at least ``min_support`` of its content words."""

    def __init__(self, min_support: float = 0.6):
        if not 0 < min_support <= 1:
            raise ValueError("min_support doit être dans ]0, 1].")
        self.min_support = min_support

    def run(self, answer: str, citations: list[Citation]) -> tuple[str, Verification]:
        """Returns the answer without its unsupported sentences, and the verification record."""
        by_marker = {c.marker: c for c in citations}
        verification = Verification()
        kept: list[str] = []
        for sentence in claims(answer):
            markers = [int(m) for m in _MARKER_RE.findall(sentence)]
            body = _MARKER_RE.sub("", sentence).strip()
            if not markers and (len(content_terms(body)) < 3 or body.endswith(":")):
                kept.append(sentence)  # connective or lead-in ("Sources :", "D'après les documents :")
                continue
            check = self._check(body, markers, by_marker)
            verification.checked += 1
            verification.sentences.append(check)
            verification.unknown_markers.extend(m for m in markers if m not in by_marker)
            if check.supported:
                verification.supported += 1
                kept.append(sentence)
            else:
                verification.removed.append(sentence)
        verification.unknown_markers = sorted(set(verification.unknown_markers))
        return "\n".join(_join(kept)), verification

    def _check(self, body: str, markers: list[int], by_marker: dict[int, Citation]) -> SentenceCheck:
        known = [by_marker[m] for m in markers if m in by_marker]
        if not markers:
            return SentenceCheck(sentence=body, markers=[], supported=False, support=0.0, reason="aucune citation")
        if not known:
            return SentenceCheck(sentence=body, markers=markers, supported=False, support=0.0, reason="citation inexistante")
        evidence = " ".join(c.text for c in known)
        evidence_norm = normalise_space(evidence)
        for quote in _QUOTE_RE.findall(body):
            if normalise_space(quote) not in evidence_norm:
                return SentenceCheck(sentence=body, markers=markers, supported=False, support=0.0,
                                     reason="citation entre guillemets absente du passage")
        missing_numbers = numbers(body) - numbers(evidence) - {str(m) for m in markers}
        words = content_terms(body)
        support = len(words & content_terms(evidence)) / len(words) if words else 1.0
        if missing_numbers:
            return SentenceCheck(sentence=body, markers=markers, supported=False, support=support,
                                 reason="chiffres absents du passage : " + ", ".join(sorted(missing_numbers)))
        supported = support >= self.min_support
        return SentenceCheck(sentence=body, markers=markers, supported=supported, support=round(support, 3),
                             reason="" if supported else "trop peu de mots du passage")


def claims(answer: str) -> list[str]:
    """The answer's sentences, a quotation that runs over several lines (a list quoted with its lead-in, its
    citation after the closing guillemet) kept as one claim; a quotation never closed is read line by line."""
    out: list[str] = []
    open_quote: list[str] = []
    for sentence in split_sentences(answer):
        if open_quote:
            open_quote.append(sentence)
            if "»" in sentence:
                out.append("\n".join(open_quote))
                open_quote = []
        elif sentence.count("«") > sentence.count("»"):
            open_quote = [sentence]
        else:
            out.append(sentence)
    return out + open_quote


def _join(sentences: list[str]) -> list[str]:
    """Re-join sentences as paragraphs: list items stay on their own line."""
    out: list[str] = []
    for s in sentences:
        if out and not s.startswith(("-", "•")) and not out[-1].startswith(("-", "•")) and not out[-1].endswith(":"):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return out
