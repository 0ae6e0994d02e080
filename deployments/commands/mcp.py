"""`hopflow mcp`: serve hopflow over MCP, streamable HTTP at /mcp (loopback by default) or stdio."""

from __future__ import annotations

from typing import Annotated

import typer
from hopflow.deployments.commands.common import err_console, fail, settings


def mcp(
    host: Annotated[
        str, typer.Option(help="interface to listen on (non-loopback needs HOPFLOW_MCP_TOKEN)")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    stdio: Annotated[
        bool, typer.Option("--stdio", help="talk MCP over stdin/stdout (desktop clients)")
    ] = False,
) -> None:
    """Serve hopflow's missions, assets, runs and agents as MCP tools and resources."""
    from hopflow.deployments.mcp import (
        MCP_PATH,
        TOKEN_ENV,
        is_loopback,
        serve_http,
        serve_stdio,
        token_from_env,
    )
    from hopflow.models import migrations

    settings()
    migrations.upgrade(None)
    if stdio:
        serve_stdio()
        return
    token = token_from_env()
    if token is None and not is_loopback(host):
        raise fail(f"refusing to listen on {host} without a token: set {TOKEN_ENV}, or keep --host 127.0.0.1")
    auth = (
        f"bearer token from ${TOKEN_ENV}"
        if token
        else f"no token (loopback only; set ${TOKEN_ENV} to require one)"
    )
    err_console.print(f"MCP over streamable HTTP at http://{host}:{port}{MCP_PATH}, {auth}", markup=False)
    serve_http(host, port, token)
