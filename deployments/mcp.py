"""The MCP server (official `mcp` SDK, v2 `MCPServer`): hopflow's missions, assets, runs and agents as
MCP tools and resources, over streamable HTTP at /mcp (bearer token HOPFLOW_MCP_TOKEN) or stdio."""

# No `from __future__ import annotations`: the SDK reads the tools' annotations (Context, Field) at runtime.

import contextlib
import hmac
import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from hopflow.deployments import mcp_knowledge
from hopflow.deployments import mcp_tools as t
from hopflow.tasks.agents.routes import deployment_name
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError

logger = logging.getLogger("hopflow.mcp")

TOKEN_ENV = "HOPFLOW_MCP_TOKEN"
MCP_PATH = "/mcp"
PROGRESS_EVERY_SECONDS = 0.5
R = TypeVar("R")

INSTRUCTIONS = """hopflow runs AI-agent missions as Prefect flows and keeps every step, asset and run in a
database. Start a mission from a spec (YAML or JSON text) or a deployed template (with its inputs) with
start_mission, follow it with mission_status, read its outputs with get_asset; agents (configured blueprints)
run with trigger_agent; the run log is in list_runs and run_detail. Knowledge: remember and search_memories,
create_plan and add_plan_task, list_faults."""


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(  # a model's own rule has no field: its message alone
            ": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, "))))
            for e in exc.errors()
        )
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


async def _call(fn: Callable[..., R], *args: Any) -> R:
    """Run a data function in a worker thread; known errors become a tool error that says what is wrong,
    anything else a short one (the traceback stays in the server's log)."""
    from hopflow.models.enums import InvalidTransition
    from hopflow.models.secrets import MissingSecretError

    try:
        return await anyio.to_thread.run_sync(lambda: fn(*args))
    except (ValueError, LookupError, ValidationError, InvalidTransition, MissingSecretError) as exc:
        raise ToolError(_message(exc)) from None
    except Exception as exc:
        logger.exception("MCP tool call failed")
        raise ToolError(f"internal error ({type(exc).__name__}); the server's log has the details") from None


def build_server() -> MCPServer:
    server = MCPServer("hopflow", instructions=INSTRUCTIONS)

    @server.tool()
    async def start_mission(
        ctx: Context,
        spec: Annotated[str | None, Field(description="a mission spec as YAML or JSON text")] = None,
        template: Annotated[str | None, Field(description="a deployed mission template's name")] = None,
        inputs: Annotated[
            dict[str, Any] | None, Field(description="content for the mission's inputs, by input name")
        ] = None,
        wait: Annotated[bool, Field(description="return when the mission ends, reporting progress")] = False,
        timeout_seconds: Annotated[float, Field(gt=0, le=3600, description="how long to wait")] = 600,
    ) -> dict[str, Any]:
        """Store a mission, from `spec` or from a deployed template (`inputs` checked against its declared
        inputs), and start it (a Prefect flow run in the server's process). With `wait`, return when it
        ends, with its status and output summaries; else at once, with its id."""
        created = await _call(t.create_mission, spec, template, inputs)
        mission_id = created["mission_id"]
        thread = t.run_mission_in_background(mission_id)
        if wait:
            deadline = time.monotonic() + timeout_seconds
            while thread.is_alive() and time.monotonic() < deadline:
                done, total, status = await _call(t.step_progress, mission_id)
                await ctx.report_progress(done, total or None, f"{status}: {done}/{total} steps")
                await anyio.sleep(PROGRESS_EVERY_SECONDS)
            done, total, status = await _call(t.step_progress, mission_id)
            await ctx.report_progress(done, total or None, f"{status}: {done}/{total} steps")
        result = await _call(t.mission_status, mission_id)
        result["waited"] = wait
        return result

    @server.tool()
    async def mission_status(
        mission: Annotated[str, Field(min_length=1, max_length=255, description="mission id or name")],
    ) -> dict[str, Any]:
        """A mission's status, hops and steps, and the summaries of its outputs."""
        return await _call(t.mission_status, mission)

    @server.tool()
    async def list_missions(
        limit: Annotated[int, Field(ge=1, le=t.MAX_LIST)] = 20,
        status: Annotated[str | None, Field(description="only missions in this status")] = None,
    ) -> dict[str, Any]:
        """The newest missions."""
        return {"missions": await _call(t.list_missions, limit, status)}

    @server.tool()
    async def get_asset(
        mission: Annotated[str, Field(min_length=1, max_length=255, description="mission id or name")],
        name: Annotated[str, Field(min_length=1, max_length=255, description="the asset's name")],
        content: Annotated[bool, Field(description="also return the content (bounded by max_bytes)")] = False,
        max_bytes: Annotated[int, Field(ge=1, le=t.MAX_CONTENT_BYTES)] = t.DEFAULT_CONTENT_BYTES,
    ) -> dict[str, Any]:
        """An asset of a mission: its summary, or with `content` its value (text, CSV, JSON or base64)."""
        return await _call(t.get_asset, mission, name, content, max_bytes)

    @server.tool()
    async def list_runs(
        agent: Annotated[str | None, Field(description="only runs of this agent configuration")] = None,
        status: Annotated[
            str | None, Field(description="pending, running, success, error, cancelled")
        ] = None,
        since: Annotated[str | None, Field(description="started within: 30m, 24h, 7d or an ISO date")] = None,
        limit: Annotated[int, Field(ge=1, le=t.MAX_LIST)] = 50,
    ) -> dict[str, Any]:
        """The newest runs in the run log (every Prefect flow run hopflow mirrors)."""
        return {"runs": await _call(t.list_runs, agent, status, since, limit)}

    @server.tool()
    async def run_detail(
        run: Annotated[str, Field(min_length=4, max_length=64, description="flow run id or a unique prefix")],
    ) -> dict[str, Any]:
        """One run in detail (seed 002): Markdown, the JSON detail, and its token totals."""
        detail, markdown = await _call(t.run_detail, run)
        return {"markdown": markdown, "detail": detail, "tokens": detail["tokens"]}

    @server.tool()
    async def trigger_agent(
        configuration: Annotated[str, Field(min_length=1, max_length=255, description="configuration name")],
        payload: Annotated[dict[str, Any] | None, Field(description="input values for this run")] = None,
        directive_text: Annotated[
            str | None, Field(description="a one-off directive for this run (the stored one stays)")
        ] = None,
        playbook: Annotated[str | None, Field(description="run this playbook instead of the default")] = None,
        local: Annotated[
            bool, Field(description="run in the server's process instead of through the agent's deployment")
        ] = False,
    ) -> dict[str, Any]:
        """Start a run of an agent: through its Prefect deployment (`hopflow serve` must be running), or
        with `local` in this server's process. Returns the flow run id once it is scheduled."""
        name, parameters = await _call(t.prepare_trigger, configuration, payload, directive_text, playbook)
        if local:
            run_id = await _call(_start_local_agent_run, parameters)
        else:
            run_id = await _call(_start_deployment_run, name, parameters)
        return {"flow_run_id": run_id, "configuration": name, "local": local}

    @server.tool()
    async def list_templates() -> dict[str, Any]:
        """Deployed mission templates (`hopflow missions deploy`): name, version, schedule and the
        inputs `start_mission` with `template` may set, with their types and defaults."""
        return {"templates": await _call(t.list_templates)}

    @server.tool()
    async def list_agents() -> dict[str, Any]:
        """Configured agents: status, definition, inputs, last run and deployment name."""
        return {"agents": await _call(t.list_agents)}

    @server.resource("hopflow://missions/{mission_id}", mime_type="application/json")
    async def mission_resource(mission_id: str) -> str:
        """A mission's status, hops, steps and output summaries."""
        return json.dumps(await _call(t.mission_status, mission_id), indent=2)

    @server.resource("hopflow://runs/{run_id}", mime_type="application/json")
    async def run_resource(run_id: str) -> str:
        """A run's detail, as `run_detail` returns it."""
        return json.dumps((await _call(t.run_detail, run_id))[0], indent=2)

    @server.resource("hopflow://assets/{asset_id}", mime_type="application/json")
    async def asset_resource(asset_id: str) -> str:
        """An asset's metadata and summary (its content: the get_asset tool)."""
        return json.dumps(await _call(t.read_asset, asset_id), indent=2)

    @server.resource("hopflow://agents/{name}", mime_type="application/json")
    async def agent_resource(name: str) -> str:
        """A configured agent."""
        return json.dumps(await _call(t.read_agent, name), indent=2)

    mcp_knowledge.register(server, _call)
    return server


def _start_local_agent_run(parameters: dict[str, Any]) -> str:
    """agent_run_flow in a thread of this process, under a flow run id known before it starts."""
    import threading
    import uuid

    from hopflow.flows.agent_run import agent_run_flow
    from hopflow.models.enums import TriggerType
    from prefect import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.flow_engine import run_flow

    params = {**parameters, "trigger_type": TriggerType.API.value}
    with get_client(sync_client=True) as client:
        flow_run: FlowRun = client.create_flow_run(agent_run_flow, parameters=params, tags=["hopflow", "mcp"])

    def target() -> None:
        with contextlib.suppress(Exception):  # on record: the run log (mirror hooks) and Prefect
            run_flow(agent_run_flow, flow_run=flow_run, parameters=params)

    threading.Thread(target=target, name=f"agent-run-{uuid.uuid4().hex[:6]}", daemon=True).start()
    return str(flow_run.id)


def _start_deployment_run(name: str, parameters: dict[str, Any]) -> str:
    from hopflow.models.enums import TriggerType
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    deployment = deployment_name(name)
    try:
        flow_run = run_deployment(  # sync here: returns once scheduled
            deployment, parameters={**parameters, "trigger_type": TriggerType.API.value}, timeout=0,
            as_subflow=False, tags=["hopflow", "mcp"],
        )  # fmt: skip
    except ObjectNotFound:
        raise LookupError(
            f"configuration: deployment {deployment} is not registered: start `hopflow serve`, or pass local"
        ) from None
    return str(flow_run.id)  # type: ignore[union-attr]


# --- HTTP: bearer token, loopback by default -------------------------------------------------------
class BearerTokenMiddleware:
    """ASGI: every HTTP request needs `Authorization: Bearer <token>` (constant-time compare), else 401."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": f"missing or wrong token (Authorization: Bearer ${TOKEN_ENV})"})
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="hopflow"'),
                ]})  # fmt: skip
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_from_env() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def create_http_app(
    host: str = "127.0.0.1", token: str | None = None, server: MCPServer | None = None
) -> Any:
    """The streamable HTTP app at /mcp, behind the bearer token when one is given. Without a token only a
    loopback address is allowed."""
    if token is None and not is_loopback(host):
        raise ValueError(f"refusing to listen on {host} without a token: set {TOKEN_ENV}, or bind 127.0.0.1")
    app = (server or build_server()).streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerTokenMiddleware(app, token) if token is not None else app


def serve_http(host: str, port: int, token: str | None) -> None:
    import uvicorn

    app = create_http_app(host, token)
    uvicorn.run(app, host=host, port=port, log_level="info")


def serve_stdio() -> None:
    build_server().run("stdio")
