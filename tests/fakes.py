"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: answers what it is told, records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FakeOpenAI:
    """What the local server answers and what it saw."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Answered in order, one per request, before `body` (a model loop: tool calls, then text).
    queue: list[dict[str, Any]] = field(default_factory=list)


def _handler_for(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)})
            answer = state.queue.pop(0) if state.queue else state.body
            body = answer if isinstance(answer, str) else json.dumps(answer)
            payload = body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    state = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def completion(
    text: str, usage: dict[str, int] | None = None, model: str = "gpt-test-2024"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def tool_call_completion(
    calls: list[tuple[str, dict[str, Any] | str]],
    usage: dict[str, int] | None = None,
    model: str = "gpt-test-2024",
) -> dict[str, Any]:
    """A chat completion whose message asks for tool calls: (name, arguments) each; a str is sent as is."""
    body = completion("", usage, model)
    message = body["choices"][0]["message"]
    message["content"] = None
    message["tool_calls"] = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for i, (name, args) in enumerate(calls)
    ]
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body
