"""Container tools on the Docker Engine (seed 002): inventory (a snapshot, stored), logs (a bounded
tail) and restart. Logs and restart act only on containers allowlisted for the agent running the step."""

from __future__ import annotations

from typing import Any

from hopflow.tasks import containers as docker_engine
from hopflow.tasks.tools.allowlist import ToolNotAllowed, container_refusal
from hopflow.tasks.tools.registry import ToolContext, tool
from pydantic import BaseModel, ConfigDict, Field


class InventoryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InventoryOutput(BaseModel):
    snapshot_at: str
    count: int
    containers: list[dict[str, Any]]


@tool("containers.inventory")
def inventory(params: InventoryInput) -> InventoryOutput:
    """Snapshot every container the Docker Engine reports into container_inventory."""
    snapshot_at, records = docker_engine.take_inventory()
    rows = [
        {
            "id": r.container_id[:12], "name": r.name, "image": r.image, "state": r.state,
            "created": r.created.isoformat() if r.created else None, "ports": dict(r.ports),
        }
        for r in records
    ]  # fmt: skip
    return InventoryOutput(snapshot_at=snapshot_at.isoformat(), count=len(rows), containers=rows)


class ContainerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container: str = Field(min_length=1, max_length=256, description="container id, id prefix or name")


class LogsInput(ContainerRef):
    tail: int = Field(default=100, ge=1, le=docker_engine.MAX_TAIL_LINES, description="last N lines")


class LogsOutput(BaseModel):
    container_id: str
    logs: str
    truncated: bool


def _allowed(tool_id: str, ref: str, ctx: ToolContext) -> str:
    """The container's full id once the allowlist permits it; else ToolNotAllowed and nothing done."""
    container_id, name = docker_engine.resolve_container(ref)
    if problem := container_refusal(ctx.allowlist, tool_id, container_id, name or ref):
        raise ToolNotAllowed(problem)
    return container_id


@tool("containers.logs")
def logs(params: LogsInput, ctx: ToolContext) -> LogsOutput:
    """The last lines of a container's log (bounded), if the container is allowlisted for this agent."""
    container_id = _allowed("containers.logs", params.container, ctx)
    text, truncated = docker_engine.container_logs(container_id, params.tail)
    return LogsOutput(container_id=container_id, logs=text, truncated=truncated)


class RestartInput(ContainerRef):
    timeout_seconds: int = Field(default=10, ge=0, le=300, description="grace period before a kill")


class RestartOutput(BaseModel):
    container_id: str
    state: str


@tool("containers.restart")
def restart(params: RestartInput, ctx: ToolContext) -> RestartOutput:
    """Restart a container, if it is allowlisted for this agent."""
    container_id = _allowed("containers.restart", params.container, ctx)
    state = docker_engine.restart_container(container_id, params.timeout_seconds)
    return RestartOutput(container_id=container_id, state=state)
