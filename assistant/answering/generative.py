"""LLM steps: condense a follow-up, drive the retrieval tools, write the cited answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from assistant.answering import prompts
from assistant.answering.schema import Turn
from assistant.retrieval.retriever import Passage

T = TypeVar("T")


@dataclass
class ToolRun:
    calls: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)


class GenerativeSteps:
    def __init__(self, llm, max_tool_rounds: int = 3):
        self.llm = llm
        self.max_tool_rounds = max_tool_rounds

    def is_available(self) -> bool:
        return self.llm.is_available()

    @property
    def base_url(self) -> str | None:
        return self.llm.base_url

    @property
    def model(self) -> str:
        return self.llm.model

    def condense(self, question: str, history: list[Turn]) -> str:
        result = self.llm.chat(prompts.condense_messages(question, history), max_tokens=120, temperature=0.0)
        text = (result.text or "").strip().strip('"«» ')
        return text if 5 < len(text) < 600 else question

    def run_tools(self, question: str, execute: Callable[[str, dict], list[Passage]]) -> ToolRun:
        """Let the model call the retrieval tools (OpenAI tool calling), executing each call."""
        run = ToolRun()
        messages: list[dict] = [{"role": "system", "content": prompts.AGENT_SYSTEM}, {"role": "user", "content": question}]
        for _ in range(self.max_tool_rounds):
            result = self.llm.chat(messages, tools=prompts.TOOLS, temperature=0.0, max_tokens=300)
            if not result.tool_calls:
                break
            messages.append({"role": "assistant", "content": result.text or "", "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                for c in result.tool_calls]})
            for call in result.tool_calls:
                run.calls.append(f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})")
                found = execute(call.name, call.arguments)
                run.passages.extend(p for p in found if p.point_id not in {q.point_id for q in run.passages})
                summary = "\n".join(f"- {p.location()} : {p.text[:200]}" for p in found[:5]) or "aucun résultat"
                messages.append({"role": "tool", "tool_call_id": call.id, "content": summary})
        return run

    def stream_answer(self, question: str, passages: list[Passage], usage: dict[str, int] | None = None) -> Iterator[str]:
        """``usage`` receives the answer's token counts (``in``, ``out``) when the server reports them."""
        yield from self.llm.stream_chat(prompts.answer_messages(question, passages), usage=usage)


def llm_or_default(call: Callable[[], T], default: T, warnings: list[str]) -> T:
    """``call()``, or ``default`` when the LLM fails (its French error goes to ``warnings``)."""
    from assistant.components.llm import LLMError  # imported here: the OpenAI client costs a second of start-up

    try:
        return call()
    except LLMError as exc:
        warnings.append(str(exc))
        return default
