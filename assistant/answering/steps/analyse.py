"""Step 1, analyse: mask the personal data of the question, choose the answer mode, analyse the question.

The analysis is deterministic (follow-ups, territories, which sources to search, comparison intent); in
generative mode the LLM condenses a follow-up into a standalone question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answering.generative import llm_or_default
from assistant.answering.pii import MaskedText, mask_personal_data, without_placeholders
from assistant.answering.schema import Turn
from assistant.answering.territories import detect_territories, lists_territories, normalise_code, territory_label
from assistant.components.vector_store import SearchFilter
from assistant.text.french import fold

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents

_FOLLOW_UP_RE = re.compile(
    r"^(?:et|mais|alors|donc|aussi|idem|pareil)\b|\b(?:il|elle|ils|elles|ce|cet|cette|ces|celui|celle|ça|cela|y|en)\b\s*\??$"
    r"|^(?:et|pour)\s+(?:le|la|les|l'|un|une|dans|en|au|pour|si)\b",
    re.IGNORECASE,
)
_GEVA_RE = re.compile(r"\bgeva\b|\bvolets?\b|évaluation des besoins de compensation|equipe pluridisciplinaire", re.IGNORECASE)
_COMPARE_RE = re.compile(r"compar|différen|diverg|harmonis|écart|selon les départements|d'un département à l'autre|chaque département",
                         re.IGNORECASE)
# « … en Gironde par rapport au national ? »: one territory against the national rule.
_AGAINST_NATIONAL_RE = re.compile(r"par rapport (?:au|à la|aux) (?:national|niveau national|règles? nationales?|textes? nationaux|loi)",
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
    # A question that lists départements asks how each applies the rule: the comparison answers it.
    compare = ((bool(_COMPARE_RE.search(question)) and len(territories) != 1) or lists_territories(question)
               or (bool(_AGAINST_NATIONAL_RE.search(question)) and bool(territories)))
    return QuestionAnalysis(
        standalone=standalone,
        territories=territories,
        search_geva=bool(_GEVA_RE.search(standalone)),
        compare=compare,
    )


def mask_question(components: AnswerComponents, question: str) -> MaskedText:
    """The question checked by the retriever (a clear French error when it cannot be searched), then masked."""
    return mask_personal_data(components.retriever.validate(question))


def choose_mode(components: AnswerComponents, requested: str | None) -> tuple[str, list[str]]:
    """The mode that answers (``generatif`` or ``extractif``) and the warning when the LLM is unavailable."""
    mode = requested or components.llm_settings.mode
    if mode == "extractif":
        return "extractif", []
    generative = components.generative
    if bool(generative) and generative.is_available():
        return "generatif", []
    note = "Serveur LLM indisponible : réponse en mode extractif (citations exactes des documents)."
    return "extractif", [note] if mode == "generatif" or components.llm_settings.base_url else []


def analyse_question(components: AnswerComponents, question: str, history: list[Turn], base: SearchFilter, mode: str,
                     warnings: list[str]) -> QuestionAnalysis:
    """:func:`analyse`, the LLM's standalone question for a follow-up in generative mode, and a warning for
    the territories the corpus has no document of."""
    analysis = analyse(question, history, list(base.territories) or None)
    if mode == "generatif" and history and analysis.standalone != question:
        analysis.standalone = llm_or_default(lambda: components.generative.condense(question, history),
                                             analysis.standalone, warnings)
    if uncovered := [code for code in analysis.territories if code not in components.term_stats.territories()]:
        names = ", ".join(f"{territory_label(code)}" for code in uncovered)
        warnings.append(f"Le corpus ne contient aucun document propre à : {names}. "
                        "La réponse ne peut s'appuyer que sur les textes nationaux et les autres territoires.")
    return analysis


def comparison_analysis(question: str, territories: list[str]) -> QuestionAnalysis:
    """The analysis of an explicit comparison of ``territories`` (département codes): a French error when none
    is a département."""
    codes = [c for c in (normalise_code(t) for t in territories) if c]
    if not codes:
        raise ValueError("Indiquez au moins un département (code, ex. 59).")
    return analyse(question, [], codes)
