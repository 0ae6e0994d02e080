"""http.* tools send the step attempt's idempotency key as an Idempotency-Key header."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hopflow.tasks.tools import ToolContext, get_tool


@pytest.fixture
def echo_headers() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_http_get_sends_the_attempts_idempotency_key(
    tmp_path: Path, echo_headers: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = echo_headers
    ctx = ToolContext(uploads=tmp_path, data=tmp_path, idempotency_key="step-1:2")
    get_tool("http.get").run({"url": url}, ctx)
    # a header the step sets itself wins; no key, no header
    get_tool("http.get").run({"url": url, "headers": {"idempotency-key": "mine"}}, ctx)
    get_tool("http.get").run({"url": url}, ToolContext(uploads=tmp_path, data=tmp_path))
    keys = [{k.lower(): v for k, v in h.items()}.get("idempotency-key") for h in seen]
    assert keys == ["step-1:2", "mine", None]
