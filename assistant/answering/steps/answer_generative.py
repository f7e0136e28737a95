"""Step 4, generative answer: the LLM writes the answer from the most relevant passages, streamed as it
arrives; if the LLM fails mid-answer, the response switches to the extractive mode and says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.answering.extractive import Evidence
from assistant.answering.schema import AssistantResponse, Citation
from assistant.retrieval.retriever import Passage

if TYPE_CHECKING:
    from assistant.answering.components import AnswerComponents


async def generate_answer(components: AnswerComponents, response: AssistantResponse, passages: list[Passage],
                          evidence: Evidence, emit: Callable[[str], None]) -> tuple[str, list[Citation], bool]:
    """The LLM's draft and one citation per passage it was given (markers in the order given), and whether
    some text went to ``emit``. On an LLM failure ``response.mode`` becomes ``extractif``."""
    ranked = [passages[i] for i in evidence.order] or passages  # most relevant first
    context = ranked[: components.settings.max_passages]
    parts: list[str] = []
    streamed = False
    try:
        deltas = components.generative.stream_answer(response.standalone_question, context, usage=response.tokens)
        while (delta := await asyncio.to_thread(next, deltas, None)) is not None:
            parts.append(delta)
            streamed = True
            emit(delta)
    except Exception as exc:  # LLM died mid-answer: fall back, say so
        response.warnings.append(f"Le serveur LLM a échoué ({exc}) : réponse en mode extractif.")
        response.mode = "extractif"
    citations = [Citation.of(i, p) for i, p in enumerate(context, start=1)]
    return "".join(parts).strip(), citations, streamed
