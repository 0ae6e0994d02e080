"""http.* tools send the step attempt's idempotency key as an Idempotency-Key header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hopflow.tasks.tools import ToolContext, get_tool

from tests.httpd import recording_server


@pytest.fixture
def echo_headers() -> Iterator[tuple[str, list[dict[str, str]]]]:
    with recording_server() as served:
        yield served


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
