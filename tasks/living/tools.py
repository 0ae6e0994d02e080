"""The tools a living agent's model may call: its config's gateway (HTTP) and space (UI event) tools, its MCP
servers' allowed tools, hopflow's registered tools, and `start_mission` (tasks/living/missions.py).
Arguments are checked before anything runs.

A tool's failure is an answer to the model (`{"error": ...}`), not a crash of the cycle: the model sees what
went wrong and may try otherwise. `${env.X}` in a gateway tool's URL and headers is resolved per call, and
the resolved values are scrubbed from everything the call returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Literal

import httpx
from hopflow.models.schemas.living import LivingAgentConfigSpec, ToolConfig
from hopflow.models.secrets import MissingSecretError, resolve_env_refs, scrub, secret_values
from hopflow.tasks.chat import ToolCall
from hopflow.tasks.living.missions import (
    DESCRIPTION,
    START_MISSION,
    START_MISSION_SCHEMA,
    start_requested_mission,
)
from hopflow.tasks.tools import ToolContext, get_tool, list_tools
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, ValidationError

logger = logging.getLogger("hopflow.living")

MAX_RESULT_CHARS = 16 * 1024
SPACE_TOOL_EVENT = "hopflow.living.space-tool"
HOPFLOW_TOOL_SEPARATOR = "__"


class CycleTool(BaseModel):
    """One tool as the model is offered it, and how to run it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    parameters: dict[str, Any]
    kind: Literal["gateway", "space", "mcp", "hopflow", "mission"]
    target: str | None = None  # hopflow tool id, or MCP server name
    remote: str | None = None  # the MCP tool's own name

    def offer(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


def hopflow_tool_name(tool_id: str) -> str:
    return tool_id.replace(".", HOPFLOW_TOOL_SEPARATOR)


def tool_catalog(
    config: LivingAgentConfigSpec, *, include_hopflow: bool = True, include_mcp: bool = True
) -> dict[str, CycleTool]:
    """Every tool this agent may call, by the name the model uses. Config tools win a name clash.

    MCP servers are asked for their tools (the allowed ones only); a server that does not answer is
    left out of this cycle, with a warning, rather than failing it."""
    catalog: dict[str, CycleTool] = {}
    if include_mcp and config.mcp is not None:
        from hopflow.tasks.living.mcp_tools import list_mcp_tools

        for server in config.mcp.servers:
            try:
                listed = list_mcp_tools(server)
            except Exception as exc:
                logger.warning("MCP server %s: tools not listed: %s", server.name, type(exc).__name__)
                continue
            for t in listed:
                catalog[t["name"]] = CycleTool(
                    name=t["name"],
                    description=t["description"],
                    parameters=t["parameters"],
                    kind="mcp",
                    target=server.name,
                    remote=t["tool"],
                )
    if include_hopflow:
        catalog[START_MISSION] = CycleTool(
            name=START_MISSION, description=DESCRIPTION, parameters=START_MISSION_SCHEMA, kind="mission"
        )
        for spec in list_tools():
            try:
                schema = spec.input_model.model_json_schema()
            except Exception:  # a tool whose input has no JSON Schema cannot be offered to a model
                continue
            name = hopflow_tool_name(spec.id)
            catalog[name] = CycleTool(
                name=name,
                description=spec.description or spec.id,
                parameters=schema,
                kind="hopflow",
                target=spec.id,
            )
    for tool in config.tools:
        catalog[tool.name] = CycleTool(
            name=tool.name,
            description=tool.description,
            parameters=tool.input_schema,
            kind=tool.execution_type,
        )
    return catalog


def bounded(value: Any, secrets: list[str] | None = None) -> Any:
    """A tool result as the consciousness stores it: JSON, at most MAX_RESULT_CHARS, secrets scrubbed."""
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = json.dumps(str(value))
    if secrets:
        text = scrub(text, secrets)
    if len(text) > MAX_RESULT_CHARS:
        return {"truncated": True, "chars": len(text), "preview": text[: MAX_RESULT_CHARS - 200]}
    return json.loads(text)


def check_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not fit the tool's inputSchema (every problem with its path), or None."""
    problems = sorted(
        Draft202012Validator(schema).iter_errors(arguments), key=lambda e: list(e.absolute_path)
    )
    if not problems:
        return None
    return "; ".join(
        f"{'/'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}" for e in problems[:10]
    )


def run_tool_call(
    call: ToolCall,
    catalog: dict[str, CycleTool],
    config: LivingAgentConfigSpec,
    *,
    agent: str,
    cycle: int,
    run_id: str = "",
    mission_runner: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Run one model tool call; returns what the model is told (a result, or an error it can read).
    `mission_runner` runs a stored mission (the flow layer's mission_flow): without one, no mission starts."""
    tool = catalog.get(call.name)
    if tool is None:
        return {"error": f"unknown tool {call.name!r}; available: {', '.join(sorted(catalog)) or 'none'}"}
    if call.arguments_error:
        return {"error": call.arguments_error}
    if tool.kind != "hopflow":
        problem = check_arguments(tool.parameters, call.arguments)
        if problem:
            return {"error": f"arguments do not match {tool.name}'s inputSchema: {problem}"}
    try:
        if tool.kind == "gateway":
            return run_gateway_tool(_config_tool(config, tool.name), call.arguments)
        if tool.kind == "space":
            return request_space_tool(_config_tool(config, tool.name), call, agent=agent, cycle=cycle)
        if tool.kind == "hopflow":
            return run_hopflow_tool(tool.target or "", call.arguments)
        if tool.kind == "mission":
            if mission_runner is None:
                return {"error": f"{call.name}: missions cannot be started from here"}
            return start_requested_mission(call, mission_runner, agent=agent, cycle=cycle, run_id=run_id)
        return run_mcp_tool(config, tool, call.arguments)
    except Exception as exc:  # the model hears about it; the cycle goes on
        logger.warning("living tool %s failed: %s", call.name, type(exc).__name__)
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def _config_tool(config: LivingAgentConfigSpec, name: str) -> ToolConfig:
    return next(t for t in config.tools if t.name == name)


def run_gateway_tool(tool: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
    """An HTTP call with the tool's method, URL, headers and timeout; GET sends the arguments as query."""
    execution = tool.execution
    assert execution is not None
    raw = {"url": execution.url, "headers": execution.headers}
    secrets = secret_values(raw)
    try:
        resolved = resolve_env_refs(raw, where=f"tools.{tool.name}.execution")
    except MissingSecretError as exc:
        return {"error": str(exc)}
    url, headers = resolved["url"], resolved["headers"]
    request: dict[str, Any] = {"params": arguments} if execution.method == "GET" else {"json": arguments}
    try:
        with httpx.Client(timeout=execution.timeout / 1000) as client:
            response = client.request(execution.method, url, headers=headers, **request)
    except httpx.HTTPError as exc:
        return {"error": scrub(f"{execution.method} {url} failed: {type(exc).__name__}: {exc}", secrets)}
    text = response.text
    try:
        body: Any = response.json()
    except ValueError:
        body = text[:MAX_RESULT_CHARS]
    result: dict[str, Any] = {"status": response.status_code, "body": bounded(body, secrets)}
    if not response.is_success:
        result["error"] = f"HTTP {response.status_code}"
    return result


def request_space_tool(tool: ToolConfig, call: ToolCall, *, agent: str, cycle: int) -> dict[str, Any]:
    """Ask the UI side: a Prefect event it can act on. The model is told the request was made."""
    from prefect.events import emit_event

    payload = {
        "agent": agent,
        "cycle": cycle,
        "tool": tool.name,
        "call_id": call.id,
        "arguments": bounded(call.arguments),
        "custom_ui": tool.display.custom_ui if tool.display else None,
    }
    event = emit_event(
        event=SPACE_TOOL_EVENT,
        resource={"prefect.resource.id": f"hopflow.living.{agent}", "hopflow.tool": tool.name},
        payload=payload,
    )
    return {"status": "requested", "tool": tool.name, "event_id": str(event.id) if event else None}


def run_mcp_tool(config: LivingAgentConfigSpec, tool: CycleTool, arguments: dict[str, Any]) -> dict[str, Any]:
    from hopflow.tasks.living.mcp_tools import call_mcp_tool

    servers = {s.name: s for s in (config.mcp.servers if config.mcp else [])}
    server = servers.get(tool.target or "")
    if server is None:
        return {"error": f"MCP server {tool.target!r} is not in the config"}
    return {
        "result": bounded(call_mcp_tool(server, tool.remote or "", arguments), secret_values(server.headers))
    }


def run_hopflow_tool(tool_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
    spec = get_tool(tool_id)
    try:
        output = spec.run(arguments, ToolContext.from_settings())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
        )
        return {"error": f"arguments do not match {tool_id}'s input: {problems}"}
    return {"result": bounded(output.model_dump(mode="json"))}
