"""MCP tools through the official client over streamable HTTP against a real loopback MCP server: only the
allowedTools are offered and called, the server's headers carry `${env.X}` resolved per connection."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hopflow.models.schemas.living import LivingAgentConfigSpec
from hopflow.tasks.chat import ToolCall
from hopflow.tasks.living.tools import run_tool_call, tool_catalog

SEEN_AUTH: list[str] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from starlette.types import Receive, Scope, Send

    server = MCPServer("loopback")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def wipe_disk() -> str:
        """Never offered: not in allowedTools."""
        return "wiped"

    inner = server.streamable_http_app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            SEEN_AUTH.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await inner(scope, receive, send)

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    SEEN_AUTH.clear()  # the readiness probe above
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def _config(url: str) -> LivingAgentConfigSpec:
    return LivingAgentConfigSpec.model_validate(
        {
            "version": "3.0",
            "agent": {"name": "a"},
            "model": {"provider": "offline", "name": "m"},
            "mcp": {
                "servers": [
                    {
                        "name": "calc",
                        "url": url,
                        "transport": "http",
                        "headers": {"Authorization": "Bearer ${env.MCP_TEST_TOKEN}"},
                        "allowedTools": ["add"],
                    }
                ]
            },
        }
    )


def test_only_allowed_mcp_tools_are_offered_and_called(mcp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_TEST_TOKEN", "mcp-s3cr3t-1")
    config = _config(mcp_url)
    catalog = tool_catalog(config, include_hopflow=False)
    assert sorted(catalog) == ["calc__add"]
    tool = catalog["calc__add"]
    assert (tool.kind, tool.target, tool.remote) == ("mcp", "calc", "add")
    assert set(tool.parameters["properties"]) == {"a", "b"}
    result = run_tool_call(
        ToolCall(id="c", name="calc__add", arguments={"a": 2, "b": 40}), catalog, config, agent="a", cycle=1
    )
    answer: dict[str, Any] = result["result"]
    assert "error" not in answer and (
        "42" in answer["content"] or answer.get("structured", {}).get("result") == 42
    )
    bad = run_tool_call(
        ToolCall(id="c", name="calc__add", arguments={"a": "x"}), catalog, config, agent="a", cycle=1
    )
    assert "inputSchema" in bad["error"]
    assert SEEN_AUTH and set(SEEN_AUTH) == {"Bearer mcp-s3cr3t-1"}


def test_an_mcp_server_without_its_secret_is_left_out_not_fatal(
    mcp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MCP_TEST_TOKEN", raising=False)
    assert tool_catalog(_config(mcp_url), include_hopflow=False) == {}
