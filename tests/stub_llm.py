"""A scripted OpenAI-compatible HTTP server on loopback, for flows a tiny real model cannot drive
(tool calls, malformed JSON, timeouts, 500s). Never used on a user path."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Reply = Callable[[BaseHTTPRequestHandler], None]


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def completion(text: str | None = "", *, tool_calls: list[dict[str, Any]] | None = None, usage=(11, 7)) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    payload = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }
    return lambda handler: _send_json(handler, 200, payload)


def http_error(status: int) -> Reply:
    return lambda handler: _send_json(handler, status, {"error": {"message": "panne simulée", "type": "server_error"}})


def sleeping(seconds: float, then: Reply) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        then(handler)

    return reply


def streamed(pieces: list[str], usage: tuple[int, int] | None = None) -> Reply:
    """``usage``: (prompt, completion) tokens sent in a last chunk without choices, as servers honouring
    ``stream_options.include_usage`` do (vLLM, OpenAI)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for index, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            chunk = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "stub-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            handler.wfile.flush()
        if usage is not None:
            last = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": "stub-model", "choices": [],
                    "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}
            handler.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")

    return reply


class StubServer:
    """Each POST /v1/chat/completions gets the next scripted reply; requests are recorded."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.models_delay_s = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(stub.models_delay_s)
                if self.path == "/v1/models":
                    _send_json(self, 200, {"object": "list", "data": [{"id": "stub-model", "object": "model",
                                                                        "created": 0, "owned_by": "test"}]})
                else:
                    _send_json(self, 404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append(json.loads(self.rfile.read(length)))
                stub.replies.popleft()(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


