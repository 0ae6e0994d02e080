"""A loopback HTTP server for tests: it answers GET with a body made from the request's headers and
records every request's headers, so a test can check what a tool really sent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[dict[str, str]], tuple[bytes, str]]


def _ok(headers: dict[str, str]) -> tuple[bytes, str]:
    return b"ok", "text/plain"


@contextmanager
def recording_server(reply: Reply = _ok) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """(base URL, the headers of each request so far); `reply` gives (body, content type)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = dict(self.headers.items())
            seen.append(headers)
            body, content_type = reply(headers)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
