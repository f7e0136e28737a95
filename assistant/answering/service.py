"""The assistant's public face: ``ask``, ``stream``, ``compare``, ``health``.

Every question, a comparison included, runs through :class:`~assistant.answering.workflow.AnswerWorkflow`, a
llama-index Workflow (mask personal data → choose the mode → analyse/condense → retrieve (tools) → judge
evidence → answer → verify citations, or compare the territories); see that module for the events and
:mod:`assistant.answering.steps` for what each step does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assistant.answering.components import AnswerComponents
from assistant.answering.schema import AssistantResponse, Turn
from assistant.answering.workflow import AnswerDelta, AnswerStart, AnswerWorkflow, stream_sync
from assistant.components.vector_store import SearchFilter
from assistant.settings import AnswerSettings, LLMSettings


class AssistantService:
    def __init__(self, settings: AnswerSettings, llm_settings: LLMSettings, retriever: Any, embedder: Any,
                 generative: Any = None):
        self.components = AnswerComponents(settings, llm_settings, retriever, embedder, generative)

    def ask(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
            search_filter: SearchFilter | None = None) -> AssistantResponse:
        return self._run(AnswerStart(question=question, history=history or [], mode=mode, search_filter=search_filter))

    def stream(self, question: str, *, history: list[Turn] | None = None, mode: str | None = None,
               search_filter: SearchFilter | None = None) -> Iterator[str | AssistantResponse]:
        """Text deltas of the answer, then the final response object."""
        start = AnswerStart(question=question, history=history or [], mode=mode, search_filter=search_filter)
        for item in stream_sync(AnswerWorkflow(self.components), start):
            if isinstance(item, AnswerDelta):
                yield item.delta
            elif isinstance(item, AssistantResponse):
                yield item

    def compare(self, question: str, territories: list[str], *, groups: tuple[str, ...] = (),
                mode: str | None = None) -> AssistantResponse:
        """Per-territory practice next to the national rule; the LLM judges the statuses in generative mode."""
        return self._run(AnswerStart(question=question, mode=mode, search_filter=SearchFilter(groups=groups),
                                     compare_territories=territories))

    def _run(self, start: AnswerStart) -> AssistantResponse:
        results = [item for item in stream_sync(AnswerWorkflow(self.components), start) if isinstance(item, AssistantResponse)]
        return results[-1]

    def health(self) -> dict[str, Any]:
        llm = self.components.generative
        llm_available = bool(llm) and llm.is_available()
        return {"llm": {"configured": bool(llm and llm.base_url), "available": llm_available,
                        "base_url": llm.base_url if llm else None,
                        "model": llm.model if llm else None}}
