"""Harmonisation: each territory's practice next to the national rule, with a status and its reason.

- :mod:`.rules` — the rules (no LLM): figures with their unit, role and subject, obligation and negation
  polarity, local additions; :func:`assess` gives the status, note and one-line reason (statuses and rules
  in that module's docstring; the agents' version in ``docs/comparaison.md``).
- :mod:`.llm_judge` — the LLM's verdict on a pair (prompt, schema, ``LLMClient.chat_json``).
- :mod:`.comparator` — :class:`PracticeComparator`: the LLM judge when asked for, the rules otherwise and on
  any error of the model path.

Used by the answer workflow's comparison step (:mod:`assistant.answering.steps.compare`) and by the
harmonisation matrix.
"""

from assistant.answering.comparison.comparator import PracticeComparator, PracticeResult
from assistant.answering.comparison.rules import assess

__all__ = ["PracticeComparator", "PracticeResult", "assess"]
