"""LLMClient against a scripted OpenAI-compatible HTTP server, for flows a tiny real model cannot drive.

The real llama.cpp server path is covered by tests/assistant/test_llm_server.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from assistant.components.llm import (
    LLMClient,
    LLMError,
    LLMResponseError,
    LLMUnavailableError,
    resolve_llm_settings,
)
from assistant.settings import LLMSettings
from tests.stub_llm import StubServer, completion, http_error, sleeping, streamed, stub  # noqa: F401

def client_for(stub: StubServer, tmp_path: Path, **overrides: Any) -> LLMClient:
    fields: dict[str, Any] = {"base_url": stub.base_url, "model": "stub-model", "max_retries": 0,
                              "endpoint_file": tmp_path / "absent.yaml"}
    return LLMClient(LLMSettings(**(fields | overrides)))


class Verdict(BaseModel):
    eligible: bool
    reason: str


def test_chat_returns_text_usage_and_sends_settings(stub: StubServer, tmp_path: Path) -> None:
    stub.script(completion("L'APA est versée par le département.", usage=(42, 9)))
    client = client_for(stub, tmp_path, temperature=0.3, max_tokens=64)

    result = client.chat([{"role": "user", "content": "Qui verse l'APA ?"}])

    assert result.text == "L'APA est versée par le département."
    assert (result.prompt_tokens, result.completion_tokens) == (42, 9)
    assert result.model == "stub-model" and result.finish_reason == "stop" and result.latency_s > 0
    assert result.tool_calls == []
    sent = stub.requests[0]
    assert sent["model"] == "stub-model" and sent["max_tokens"] == 64 and sent["temperature"] == 0.3
    assert sent["messages"] == [{"role": "user", "content": "Qui verse l'APA ?"}]


def test_chat_returns_tool_calls(stub: StubServer, tmp_path: Path) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "rechercher", "arguments": json.dumps({"requete": "PCH aide humaine"})}}
    stub.script(completion(None, tool_calls=[call]))
    tools = [{"type": "function", "function": {"name": "rechercher", "parameters": {"type": "object"}}}]

    result = client_for(stub, tmp_path).chat([{"role": "user", "content": "PCH ?"}], tools=tools)

    assert result.text == "" and result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_1", "rechercher", {"requete": "PCH aide humaine"})
    ]
    assert stub.requests[0]["tools"] == tools


def test_tool_call_with_invalid_arguments_is_a_response_error(stub: StubServer, tmp_path: Path) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "rechercher", "arguments": "{requete:"}}
    stub.script(completion(None, tool_calls=[call]))

    with pytest.raises(LLMResponseError, match="Arguments JSON invalides.*rechercher"):
        client_for(stub, tmp_path).chat([{"role": "user", "content": "?"}], tools=[])


def test_chat_json_retries_once_after_malformed_json(stub: StubServer, tmp_path: Path) -> None:
    fenced = '```json\n{"eligible": true, "reason": "GIR 3"}\n```'
    stub.script(completion('{"eligible": true, "reason": '), completion(fenced))

    verdict = client_for(stub, tmp_path).chat_json([{"role": "user", "content": "Éligible à l'APA ?"}], Verdict)

    assert verdict == Verdict(eligible=True, reason="GIR 3")
    first, second = stub.requests
    assert "response_format" not in first
    assert first["messages"][0]["role"] == "system" and '"eligible"' in first["messages"][0]["content"]
    assert second["messages"][-2] == {"role": "assistant", "content": '{"eligible": true, "reason": '}
    assert "JSON" in second["messages"][-1]["content"]


def test_chat_json_uses_response_format_when_supported(stub: StubServer, tmp_path: Path) -> None:
    stub.script(completion('{"eligible": false, "reason": "GIR 5"}'))
    client = client_for(stub, tmp_path, supports_json_schema=True)

    verdict = client.chat_json([{"role": "user", "content": "?"}], Verdict)

    assert verdict.reason == "GIR 5"
    sent = stub.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == Verdict.model_json_schema()
    assert [m["role"] for m in sent["messages"]] == ["user"]


def test_chat_json_gives_up_after_two_invalid_answers(stub: StubServer, tmp_path: Path) -> None:
    stub.script(completion("Je pense que oui."), completion('{"eligible": "peut-être"}'))

    with pytest.raises(LLMResponseError, match="Verdict.*après 2 tentatives"):
        client_for(stub, tmp_path).chat_json([{"role": "user", "content": "?"}], Verdict)
    assert len(stub.requests) == 2


def test_http_500_is_retried_then_succeeds(stub: StubServer, tmp_path: Path) -> None:
    stub.script(http_error(500), completion("réponse après reprise"))

    result = client_for(stub, tmp_path, max_retries=1).chat([{"role": "user", "content": "?"}])

    assert result.text == "réponse après reprise"
    assert len(stub.requests) == 2


def test_http_500_without_retry_is_a_response_error(stub: StubServer, tmp_path: Path) -> None:
    stub.script(http_error(500))

    with pytest.raises(LLMResponseError, match="HTTP 500"):
        client_for(stub, tmp_path).chat([{"role": "user", "content": "?"}])


def test_server_slower_than_timeout_raises_unavailable_quickly(stub: StubServer, tmp_path: Path) -> None:
    stub.script(sleeping(5.0, completion("trop tard")))
    client = client_for(stub, tmp_path, timeout_s=0.4)

    started = time.perf_counter()
    with pytest.raises(LLMUnavailableError, match="ne répond pas.*délai"):
        client.chat([{"role": "user", "content": "?"}])
    assert time.perf_counter() - started < 2.0


def test_closed_port_is_unavailable_fast(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", endpoint_file=tmp_path / "x.yaml"))

    started = time.perf_counter()
    assert client.is_available() is False
    assert time.perf_counter() - started < 2.0
    with pytest.raises(LLMUnavailableError, match="make llm"):
        LLMClient(client.settings.model_copy(update={"max_retries": 0})).chat([{"role": "user", "content": "?"}])


def test_is_available_and_list_models(stub: StubServer, tmp_path: Path) -> None:
    client = client_for(stub, tmp_path)

    assert client.is_available() is True
    assert client.list_models() == ["stub-model"]


def test_is_available_is_bounded_by_the_connect_timeout(stub: StubServer, tmp_path: Path) -> None:
    stub.models_delay_s = 5.0
    client = client_for(stub, tmp_path, connect_timeout_s=0.3, timeout_s=30.0, max_retries=2)

    started = time.perf_counter()
    assert client.is_available() is False
    assert time.perf_counter() - started < 1.5
    with pytest.raises(LLMUnavailableError, match="délai de 0.3 s"):
        client.list_models()


def test_stream_chat_reassembles_chunks(stub: StubServer, tmp_path: Path) -> None:
    stub.script(streamed(["La grille ", "AGGIR ", "compte 6 GIR."]))

    pieces = list(client_for(stub, tmp_path).stream_chat([{"role": "user", "content": "AGGIR ?"}]))

    assert pieces == ["La grille ", "AGGIR ", "compte 6 GIR."]
    assert stub.requests[0]["stream"] is True


@pytest.mark.parametrize("reported", [(120, 8), None])
def test_stream_chat_reports_the_servers_token_usage_or_nothing(stub: StubServer, tmp_path: Path, reported) -> None:
    stub.script(streamed(["La grille ", "AGGIR."], usage=reported))
    usage: dict[str, int] = {}

    pieces = list(client_for(stub, tmp_path).stream_chat([{"role": "user", "content": "AGGIR ?"}], usage=usage))

    assert pieces == ["La grille ", "AGGIR."] and stub.requests[0]["stream_options"] == {"include_usage": True}
    assert usage == ({"in": 120, "out": 8} if reported else {})  # never a made-up 0


def test_no_endpoint_configured(tmp_path: Path) -> None:
    client = LLMClient(LLMSettings(endpoint_file=tmp_path / "absent.yaml"))

    assert client.base_url is None and client.is_available() is False
    with pytest.raises(LLMUnavailableError, match="Aucun serveur LLM"):
        client.chat([{"role": "user", "content": "?"}])


def test_resolve_reads_endpoint_file_only_when_base_url_unset(tmp_path: Path) -> None:
    endpoint = tmp_path / "llm-endpoint.yaml"
    endpoint.write_text(yaml.safe_dump({"base_url": "http://127.0.0.1:9999/v1", "model": "smollm2",
                                        "supports_tools": True, "supports_json_schema": True}))

    resolved = resolve_llm_settings(LLMSettings(endpoint_file=endpoint, temperature=0.5))
    explicit = resolve_llm_settings(LLMSettings(base_url="http://vllm:8000/v1", model="m", endpoint_file=endpoint))

    assert (resolved.base_url, resolved.model) == ("http://127.0.0.1:9999/v1", "smollm2")
    assert resolved.supports_tools and resolved.supports_json_schema and resolved.temperature == 0.5
    assert (explicit.base_url, explicit.model, explicit.supports_tools) == ("http://vllm:8000/v1", "m", False)
    assert resolve_llm_settings(LLMSettings(endpoint_file=tmp_path / "absent.yaml")).base_url is None


def test_resolve_rejects_an_endpoint_file_without_base_url(tmp_path: Path) -> None:
    endpoint = tmp_path / "llm-endpoint.yaml"
    endpoint.write_text("model: smollm2\n")

    with pytest.raises(LLMError, match="base_url manquant"):
        resolve_llm_settings(LLMSettings(endpoint_file=endpoint))
