"""The OpenAI chat-completions format: requests in, completions and SSE chunks out.

Answers carry their citations twice: as a « Sources » block appended to the text (any client shows
it) and as an extra top-level ``citations`` field (clients that want structure read it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.answering.schema import AssistantResponse, Turn
from ui.render import sources_text

MODEL_ID = "assistant-autonomie"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling parameters are accepted and ignored (the assistant sets its own).
    Extensions (``extra_body``): ``mode``, ``territoires``, ``types``."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    mode: Literal["auto", "generatif", "extractif"] | None = None
    territoires: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)

    def question_and_history(self) -> tuple[str, list[Turn]]:
        """The last user message is the question; earlier user/assistant messages are the history."""
        if self.messages[-1].role != "user":
            raise ValueError("Le dernier message doit être celui de l'utilisateur (role « user »).")
        history = [Turn(role=m.role, content=m.text()) for m in self.messages[:-1] if m.role in ("user", "assistant")]
        return self.messages[-1].text(), history


def _citations(response: AssistantResponse) -> list[dict[str, Any]]:
    return [c.model_dump() for c in response.citations]


def _extras(response: AssistantResponse) -> dict[str, Any]:
    return {"citations": _citations(response),
            "autonomie": {"mode": response.mode, "abstained": response.abstained, "warnings": response.warnings,
                          "territories": response.territories}}


def annotations(content: str, response: AssistantResponse) -> list[dict[str, Any]]:
    """OpenAI's ``url_citation`` annotations: each citation's viewer link (relative URL), spanning its first
    ``[n]`` marker in ``content`` (its line of the « Sources » block when the answer has none)."""
    items = []
    for c in response.citations:
        marker = f"[{c.marker}]"
        start = content.find(marker)
        items.append({"type": "url_citation", "url_citation": {
            "url": c.url, "title": c.title, "start_index": max(start, 0), "end_index": max(start, 0) + len(marker)}})
    return items


def completion(response: AssistantResponse, model: str) -> dict[str, Any]:
    content = response.answer + _notes(response) + sources_text(response.citations)
    message = {"role": "assistant", "content": content, "annotations": annotations(content, response)}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        **({"usage": {"prompt_tokens": response.tokens["in"], "completion_tokens": response.tokens["out"],
                      "total_tokens": response.tokens["in"] + response.tokens["out"]}} if response.tokens else {}),
        **_extras(response),
    }


def closing_text(streamed: str, response: AssistantResponse) -> str:
    """What the stream still owes once the verified response is known: the answer itself if nothing
    was streamed (abstention), the verdict when the checks changed the streamed draft, then the sources."""
    if not streamed.strip():
        body = response.answer
    elif response.answer.strip() == streamed.strip():
        body = ""
    elif response.abstained:
        body = "\n\n" + response.answer
    else:
        removed = " ; ".join(f"« {s} »" for s in response.verification.removed)
        body = f"\n\n⚠ Phrases retirées car non étayées par les sources citées : {removed}" if removed else ""
    return body + _notes(response) + sources_text(response.citations)


def _notes(response: AssistantResponse) -> str:
    return "".join(f"\n\n⚠ {w}" for w in response.warnings)


def sse_chunks(items: Iterator[str | AssistantResponse], model: str) -> Iterator[str]:
    """Server-sent events in OpenAI's ``chat.completion.chunk`` format, then ``data: [DONE]``."""
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    streamed: list[str] = []
    for item in items:
        if isinstance(item, AssistantResponse):
            closing = closing_text("".join(streamed), item)
            yield event({"content": closing, "annotations": annotations("".join(streamed) + closing, item)}, "stop",
                        **_extras(item))
        elif item:
            streamed.append(item)
            yield event({"content": item})
    yield "data: [DONE]\n\n"
