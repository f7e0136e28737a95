"""The assistant's public face: ``ask``, ``stream``, ``compare``, ``health``.

A question runs through :class:`~assistant.answering.workflow.AnswerWorkflow`, a llama-index Workflow
(mask personal data → choose the mode → analyse/condense → retrieve (tools) → judge evidence → answer →
verify citations); see that module for the steps, the events and the two answer modes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from assistant.answering.analysis import analyse
from assistant.answering.pii import KIND_LABELS
from assistant.answering.schema import AssistantResponse, Turn
from assistant.answering.territories import normalise_code
from assistant.answering.workflow import AnswerDelta, AnswerStages, AnswerStart, AnswerWorkflow, stream_sync
from assistant.components.vector_store import SearchFilter
from assistant.settings import AnswerSettings, LLMSettings


class AssistantService:
    def __init__(self, settings: AnswerSettings, llm_settings: LLMSettings, retriever: Any, embedder: Any,
                 generative: Any = None):
        self.stages = AnswerStages(settings, llm_settings, retriever, embedder, generative)

    def ask(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
            search_filter: SearchFilter | None = None) -> AssistantResponse:
        response: AssistantResponse | None = None
        for item in self.stream(question, history=history, mode=mode, search_filter=search_filter):
            if isinstance(item, AssistantResponse):
                response = item
        assert response is not None
        return response

    def stream(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
               search_filter: SearchFilter | None = None) -> Iterator[str | AssistantResponse]:
        """Text deltas of the answer, then the final response object."""
        start = AnswerStart(question=question, history=history or [], mode=mode, search_filter=search_filter)
        for item in stream_sync(AnswerWorkflow(self.stages), start):
            if isinstance(item, AnswerDelta):
                yield item.delta
            elif isinstance(item, AssistantResponse):
                yield item

    def compare(self, question: str, territories: list[str], *, groups: tuple[str, ...] = (),
                mode: str | None = None) -> AssistantResponse:
        """Per-territory practice next to the national rule; the LLM judges the statuses in generative mode."""
        started = time.perf_counter()
        masked = self.stages.mask(question)
        codes = [c for c in (normalise_code(t) for t in territories) if c]
        if not codes:
            raise ValueError("Indiquez au moins un département (code, ex. 59).")
        analysis = analyse(masked.text, [], codes)
        response = self.stages.comparison(masked.text, analysis, SearchFilter(groups=groups), self.stages.choose_mode(mode)[0])
        response.pii_masked = [KIND_LABELS[k] for k in masked.kinds]
        response.timings["total"] = time.perf_counter() - started
        return response

    def health(self) -> dict[str, Any]:
        llm = self.stages.generative
        llm_available = bool(llm) and llm.is_available()
        return {"llm": {"configured": bool(llm and llm.base_url), "available": llm_available,
                        "base_url": llm.base_url if llm else None,
                        "model": llm.model if llm else None}}
