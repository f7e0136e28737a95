"""Deterministic question analysis (used when no capable LLM drives the tools): follow-ups,
territories, which sources to search, comparison intent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.pii import without_placeholders
from assistant.answering.schema import Turn
from assistant.answering.territories import detect_territories
from assistant.text.french import fold

_FOLLOW_UP_RE = re.compile(
    r"^(?:et|mais|alors|donc|aussi|idem|pareil)\b|\b(?:il|elle|ils|elles|ce|cet|cette|ces|celui|celle|ça|cela|y|en)\b\s*\??$"
    r"|^(?:et|pour)\s+(?:le|la|les|l'|un|une|dans|en|au|pour|si)\b",
    re.IGNORECASE,
)
_GEVA_RE = re.compile(r"\bgeva\b|\bvolets?\b|évaluation des besoins de compensation|equipe pluridisciplinaire", re.IGNORECASE)
_COMPARE_RE = re.compile(r"compar|différen|diverg|harmonis|écart|selon les départements|d'un département à l'autre|chaque département",
                         re.IGNORECASE)


@dataclass
class QuestionAnalysis:
    standalone: str
    territories: list[str]
    search_geva: bool
    compare: bool


def condense(question: str, history: list[Turn]) -> str:
    """A follow-up ("Et dans le Nord ?") becomes standalone by borrowing the previous question."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), None)
    if not previous:
        return question
    short = len(fold(question).split()) <= 6
    if short or _FOLLOW_UP_RE.search(question.strip()):
        return f"{previous.rstrip(' ?')} — {question}"
    return question


def analyse(question: str, history: list[Turn], selected_territories: list[str] | None = None) -> QuestionAnalysis:
    # The search never looks for the masking placeholders ("[n° de sécurité sociale masqué]"): their words
    # would pull in passages about social security or e-mail and dilute the question's own terms.
    standalone = without_placeholders(condense(question, history))
    own = detect_territories(question)
    territories = selected_territories or own or (detect_territories(standalone) if standalone != question else [])
    compare = bool(_COMPARE_RE.search(question)) and (len(territories) != 1)
    return QuestionAnalysis(
        standalone=standalone,
        territories=territories,
        search_geva=bool(_GEVA_RE.search(standalone)),
        compare=compare,
    )
