"""A living agent's MCP tools via the official `mcp` client over streamable HTTP: only the tools a server's
`allowedTools` names are listed and called. `${env.X}` in a server's headers is resolved per connection."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from hopflow.models.schemas.living import MCPServerConfig
from hopflow.models.secrets import resolve_env_refs, scrub, secret_values

T = TypeVar("T")
SEPARATOR = "__"
CONNECT_TIMEOUT_SECONDS = 30.0


def mcp_tool_name(server: str, tool: str) -> str:
    return f"{server}{SEPARATOR}{tool}"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # A fresh loop in its own thread: callers are sync (Prefect tasks), and may already be inside a loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _client(server: MCPServerConfig) -> Any:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = resolve_env_refs(server.headers, where=f"mcp.servers.{server.name}.headers")
    http = create_mcp_http_client(headers=headers)
    return Client(
        streamable_http_client(server.url, http_client=http), read_timeout_seconds=CONNECT_TIMEOUT_SECONDS
    )


def list_mcp_tools(server: MCPServerConfig) -> list[dict[str, Any]]:
    """The server's tools that `allowedTools` names: {name, description, parameters} each, as offered."""

    async def fetch() -> list[dict[str, Any]]:
        async with _client(server) as client:
            listed = await client.list_tools()
        return [
            {
                "name": mcp_tool_name(server.name, t.name),
                "description": t.description or t.name,
                "parameters": t.input_schema or {"type": "object"},
                "tool": t.name,
            }
            for t in listed.tools
            if t.name in server.allowed_tools
        ]

    return _run(fetch())


def call_mcp_tool(server: MCPServerConfig, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call one allowed tool; the answer is its structured content or its text parts (secrets scrubbed)."""
    if tool not in server.allowed_tools:
        return {"error": f"MCP tool {tool!r} of {server.name!r} is not in allowedTools"}
    secrets = secret_values(server.headers)

    async def call() -> dict[str, Any]:
        async with _client(server) as client:
            result = await client.call_tool(tool, arguments)
        texts = [getattr(part, "text", None) for part in result.content or []]
        answer: dict[str, Any] = {"content": [t for t in texts if t is not None]}
        if result.structured_content is not None:
            answer["structured"] = result.structured_content
        if result.is_error:
            answer["error"] = "; ".join(t for t in texts if t) or "the MCP tool reported an error"
        return answer

    try:
        return _run(call())
    except Exception as exc:
        return {"error": scrub(f"MCP {server.name}/{tool}: {type(exc).__name__}: {exc}", secrets)[:2000]}
