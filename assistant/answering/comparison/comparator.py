"""The practice comparator: the LLM judge when a model is configured and asked for, the rules otherwise
and on any error of the model path (server down, HTTP error, malformed or invalid JSON twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from assistant.answering.comparison.llm_judge import ask_verdict
from assistant.answering.comparison.rules import assess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PracticeResult:
    status: str
    note: str
    source: str  # "llm" or "regles": which path decided
    error: str | None = None  # why the LLM was not used, when it was asked
    reason: str = ""  # one line: the values or words compared (the rules'; the LLM's justification otherwise)


class PracticeComparator:
    """``run(national, practice) -> (status, note)``: the LLM's classification when a model is configured and
    ``use_llm``, else (and on any LLM error) the rules (:func:`~assistant.answering.comparison.rules.assess`).

    ``llm`` is an :class:`~assistant.components.llm.LLMClient` (None: rules only). :meth:`judge` also says which path decided
    and why the LLM was not used. Stateless between calls: one instance serves concurrent requests.
    """

    def __init__(self, llm: Any = None, *, hint_rules: bool = True, max_chars: int = 3000, max_tokens: int = 200):
        self.llm = llm
        self.hint_rules = hint_rules
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def _client(self) -> Any:
        return self.llm if self.llm is not None and self.llm.base_url else None

    def run(self, national: str, practice: str, *, national_context: str = "", use_llm: bool = True,
            question: str = "", topic: str = "") -> tuple[str, str]:
        """``national``: the national rule's sentences; ``practice``: the territory's; ``national_context``: the
        national passages they come from (rules only); ``use_llm``: False keeps to the rules; ``question``: the
        point compared (LLM prompt); ``topic``: its short label (rules)."""
        result = self.judge(national, practice, national_context=national_context, use_llm=use_llm, question=question,
                            topic=topic)
        return result.status, result.note

    def judge(self, national: str, practice: str, *, national_context: str = "", use_llm: bool = True,
              question: str = "", topic: str = "") -> PracticeResult:
        rules = assess(national, practice, national_context, topic)
        result = PracticeResult(rules.status, rules.note, "regles", reason=rules.reason)
        client = self._client() if use_llm and rules.status != "non_trouve" else None
        if client is not None:
            try:
                hint = (rules.status, rules.note) if self.hint_rules else None
                verdict = ask_verdict(client, national, practice, hint, question=question, max_chars=self.max_chars,
                                      max_tokens=self.max_tokens)
            except Exception as exc:  # noqa: BLE001 — any failure of the model path falls back to the rules
                error = f"{type(exc).__name__}: {exc}"
                log.warning("Comparaison par le LLM impossible, règles utilisées : %s", error)
                result = PracticeResult(rules.status, rules.note, "regles", error, rules.reason)
            else:
                text = " ".join(verdict.justification.split())
                text = text if text.endswith((".", "!", "?", "»")) else text + "."
                result = PracticeResult(verdict.statut, text, "llm", reason=text)
        return result

