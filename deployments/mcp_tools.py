"""What the MCP server's tools and resources do, as plain functions over hopflow's data (no MCP here):
each reads or writes in its own unit of work and returns JSON-ready values; bad arguments raise
`ToolInputError` with a message that says what is wrong."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from datetime import datetime
from typing import Any

from hopflow.models.access.missions import read_mission_assets, read_step_statuses
from hopflow.models.db import session_scope
from hopflow.models.enums import AssetScopeType, AssetStatus, MissionStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Mission
from hopflow.models.schemas.specs import MissionSpec
from hopflow.tasks.agents.routes import deployment_name
from sqlalchemy.orm import Session

MAX_SPEC_BYTES = 256 * 1024
MAX_SPEC_DEPTH = 32  # also a plan task's steps (mcp_knowledge)
MAX_CONTENT_BYTES = 256 * 1024
DEFAULT_CONTENT_BYTES = 64 * 1024
MAX_LIST = 200


class ToolInputError(ValueError):
    """A tool argument that cannot be used; the message names it and says why."""


# --- missions ------------------------------------------------------------------------------------
def parse_spec_text(text: str) -> MissionSpec:
    """A spec given as YAML or JSON text: bounded, no YAML aliases, no `${env.X}` (a token holder must
    not read the server's environment), no input files (nor make the server read its own files)."""
    from hopflow.tasks.outside_specs import OutsideSpecError, parse_outside_spec

    try:
        return parse_outside_spec(text, source="over MCP", max_bytes=MAX_SPEC_BYTES, max_depth=MAX_SPEC_DEPTH)
    except OutsideSpecError as exc:
        raise ToolInputError(str(exc)) from None


def _spec_error(exc: Any) -> ToolInputError:
    """A SpecError as one line per problem, each naming where (`inputs.count: ...`)."""
    from hopflow.tasks.specs import render_path

    return ToolInputError("; ".join(f"{render_path(i.path)}: {i.message}" for i in exc.issues))


def create_mission(
    spec_text: str | None, template: str | None, inputs: dict[str, Any] | None
) -> dict[str, Any]:
    """Store the mission (nothing is written when the spec or the inputs have problems); returns its id
    and name. Inputs are checked as a template deployment's run inputs are: declared names, their types,
    bounded, no ${env.X}."""
    from hopflow.models.access.identity import ensure_user
    from hopflow.models.access.templates import MissionTemplateNotFound
    from hopflow.tasks.missions import create_mission_from_spec
    from hopflow.tasks.specs import SpecError
    from hopflow.tasks.templates import check_template_inputs, create_template_mission, spec_with_inputs

    if (spec_text is None) == (template is None):
        raise ToolInputError("give either `spec` (YAML or JSON text) or `template` (a template's name)")
    if template is not None:  # the database is migrated when the server starts
        try:
            mission_id = create_template_mission(template, inputs, None, metadata={"via": "mcp"})
        except MissionTemplateNotFound as exc:
            raise ToolInputError(f"template: {exc}") from None
        except SpecError as exc:
            raise _spec_error(exc) from None
        with session_scope() as session:
            mission = find_mission(session, mission_id)
            return {"mission_id": mission.id, "name": mission.name, "template": template}
    spec = parse_spec_text(spec_text or "")
    if issues := check_template_inputs(spec, inputs):
        raise _spec_error(SpecError(issues))
    spec = spec_with_inputs(spec, inputs or {})
    with session_scope() as session:
        user = ensure_user(session)
        mission = create_mission_from_spec(session, spec, user_id=user.id, metadata={"source": "mcp:spec"})
        return {"mission_id": mission.id, "name": mission.name}


def run_mission_in_background(mission_id: str) -> threading.Thread:
    """mission_flow in a thread of this process (as `hopflow run` does); its outcome lands in the database."""
    from hopflow.flows.mission import run_mission

    def target() -> None:
        # A failure is on record: the mission row, its steps and faults, and its Prefect run.
        with contextlib.suppress(Exception):
            run_mission(mission_id)

    thread = threading.Thread(target=target, name=f"mission-{mission_id[:8]}", daemon=True)
    thread.start()
    return thread


def find_mission(session: Session, ref: str) -> Mission:
    from hopflow.models.access.missions import find_mission as find

    mission = find(session, ref, min_prefix=6)
    if mission is None:
        raise ToolInputError(f"mission: no mission with id or name {ref!r}")
    return mission


def step_progress(mission_id: str) -> tuple[int, int, str]:
    """(finished steps, all steps, status) of a mission, for progress notifications."""
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        if mission is None:
            raise ToolInputError(f"mission: no mission with id {mission_id!r}")
        statuses = read_step_statuses(session, mission_id)
        done = sum(s in (ToolExecutionStatus.COMPLETED, ToolExecutionStatus.FAILED) for s in statuses)
        return done, len(statuses), mission.status.value


def mission_status(ref: str) -> dict[str, Any]:
    from hopflow.tasks.missions import mission_result

    with session_scope() as session:
        mission = find_mission(session, ref)
        result = mission_result(session, mission)
        hops = [
            {
                "order": hop.sequence_order, "name": hop.name, "status": hop.status.value,
                "steps": [
                    {"order": s.sequence_order, "tool": s.tool_id, "status": s.status.value,
                     "error": s.error_message}
                    for s in sorted(hop.tool_steps, key=lambda s: s.sequence_order)
                ],
            }
            for hop in sorted(mission.hops, key=lambda h: h.sequence_order)
        ]  # fmt: skip
        return {
            "mission_id": mission.id,
            "name": mission.name,
            "status": mission.status.value,
            "error": mission.error_message,
            "created_at": _iso(mission.created_at),
            "completed_at": _iso(mission.completed_at),
            "outputs": result.outputs,
            "tokens": {"prompt": result.prompt_tokens, "completion": result.completion_tokens},
            "hops": hops,
        }


def list_missions(limit: int, status: str | None) -> list[dict[str, Any]]:
    from hopflow.models.access.missions import list_missions as read_missions

    try:
        wanted = MissionStatus(status) if status else None
    except ValueError:
        raise ToolInputError(
            f"status: {status!r} is not one of {', '.join(s.value for s in MissionStatus)}"
        ) from None
    with session_scope() as session:
        return [
            {"mission_id": m.id, "name": m.name, "status": m.status.value, "created_at": _iso(m.created_at),
             "completed_at": _iso(m.completed_at)}
            for m, _ in read_missions(session, status=wanted, limit=min(limit, MAX_LIST))
        ]  # fmt: skip


def list_templates() -> list[dict[str, Any]]:
    """Deployed mission templates, with the schema of the inputs `start_mission` may set."""
    from hopflow.tasks.templates import inputs_schema, read_template, read_templates

    out = []
    for view in read_templates():
        _, spec = read_template(view.name)
        out.append(
            {
                "name": view.name, "version": view.version, "description": view.description,
                "deployment": view.deployment, "cron": view.cron, "timezone": view.timezone,
                "interval_seconds": view.interval_seconds, "inputs": inputs_schema(spec)["properties"],
            }
        )  # fmt: skip
    return out


# --- assets --------------------------------------------------------------------------------------
def _asset_view(a: Asset) -> dict[str, Any]:
    return {
        "asset_id": a.id, "name": a.name, "scope": a.scope_type.value, "scope_id": a.scope_id,
        "role": a.role.value, "type": a.type, "status": a.status.value, "size_bytes": a.size_bytes,
        "summary": a.content_summary,
    }  # fmt: skip


def _content_text(value: Any) -> tuple[str, str]:
    """(text, encoding) of an asset value: text as is, bytes as base64, tables as CSV, the rest JSON."""
    if isinstance(value, str):
        return value, "text"
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii"), "base64"
    if hasattr(value, "to_csv"):
        return value.to_csv(index=False), "csv"
    return json.dumps(value, default=str, indent=2), "json"


def get_asset(mission_ref: str, name: str, content: bool, max_bytes: int) -> dict[str, Any]:
    from hopflow.tasks.assets import load_value

    with session_scope() as session:
        mission = find_mission(session, mission_ref)
        assets = read_mission_assets(session, mission.id)
        matches = [a for a in assets if a.name == name]
        if not matches:
            names = sorted({a.name for a in assets})
            raise ToolInputError(
                f"name: mission {mission.name!r} has no asset {name!r} (it has: {', '.join(names) or 'none'})"
            )
        asset = next((a for a in matches if a.scope_type == AssetScopeType.MISSION), matches[0])
        view = _asset_view(asset)
        if not content:
            return view
        if asset.status != AssetStatus.READY:
            raise ToolInputError(f"content: asset {name!r} is {asset.status.value}, not ready: no content")
        if asset.size_bytes is not None and asset.size_bytes > max_bytes:
            raise ToolInputError(
                f"content: asset {name!r} is {asset.size_bytes} bytes, over max_bytes={max_bytes} "
                f"(at most {MAX_CONTENT_BYTES}); read its summary instead"
            )
        value = load_value(asset)
    text, encoding = _content_text(value)
    raw = text.encode("utf-8")
    view.update(content=raw[:max_bytes].decode("utf-8", errors="ignore"), encoding=encoding,
                truncated=len(raw) > max_bytes)  # fmt: skip
    return view


def read_asset(asset_id: str) -> dict[str, Any]:
    with session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise ToolInputError(f"asset: no asset with id {asset_id!r}")
        return _asset_view(asset)


# --- runs and agents -----------------------------------------------------------------------------
def list_runs(agent: str | None, status: str | None, since: str | None, limit: int) -> list[dict[str, Any]]:
    from hopflow.deployments.commands.runs import parse_since
    from hopflow.models.access.runs import list_run_logs
    from hopflow.models.enums import RunStatus

    try:
        wanted = RunStatus(status) if status else None
    except ValueError:
        raise ToolInputError(
            f"status: {status!r} is not one of {', '.join(s.value for s in RunStatus)}"
        ) from None
    try:
        start = parse_since(since) if since else None
    except Exception as exc:
        raise ToolInputError(f"since: {exc}") from None
    with session_scope() as session:
        rows = list_run_logs(session, agent=agent, status=wanted, since=start, limit=min(limit, MAX_LIST))
        return [
            {"run_id": r.run_id, "flow_name": r.flow_name, "agent": name, "status": r.status.value,
             "trigger_type": r.trigger_type.value, "start_time": _iso(r.start_time),
             "duration_ms": r.duration_ms,
             "tokens": {"prompt": r.prompt_tokens, "completion": r.completion_tokens},
             "error_message": r.error_message}
            for r, name in rows
        ]  # fmt: skip


def run_detail(run: str) -> tuple[dict[str, Any], str]:
    """Seed 002's run detail: (JSON, Markdown); JSON carries the token totals."""
    from hopflow.models.access.runs import read_run_detail, read_run_log
    from hopflow.tasks.reports import run_detail_markdown

    with session_scope() as session:
        row = read_run_log(session, run)
        if row is None:
            raise ToolInputError(f"run: no run {run!r} in the run log")
        detail = read_run_detail(session, row)
    return detail, run_detail_markdown(detail)


def list_agents() -> list[dict[str, Any]]:
    from hopflow.tasks.agents import read_configurations

    return [_agent_view(v) for v in read_configurations()]


def _agent_view(view: Any) -> dict[str, Any]:
    c, d = view.configuration, view.definition
    return {
        "name": c.name, "configuration_id": c.id, "status": c.status.value,
        "definition": {"id": d.id, "name": d.name, "version": d.version},
        "inputs": [{k: i.get(k) for k in ("key", "type", "required")} for i in d.inputs_schema],
        "last_run": {"status": c.last_run_status.value if c.last_run_status else None,
                     "at": _iso(c.last_run_at), "run_id": c.last_run_id},
        "deployment": deployment_name(c.name),
    }  # fmt: skip


def read_agent(name: str) -> dict[str, Any]:
    from hopflow.tasks.agents import read_agent as read

    try:
        return _agent_view(read(name))
    except LookupError as exc:
        raise ToolInputError(f"agent: {exc}") from None


def prepare_trigger(
    configuration: str, payload: dict[str, Any] | None, directive_text: str | None, playbook: str | None
) -> tuple[str, dict[str, Any]]:
    """Check everything before any run starts; returns (configuration name, flow parameters)."""
    from hopflow.models.enums import AgentConfigurationStatus
    from hopflow.tasks.agents import check_payload, input_schema
    from hopflow.tasks.agents import read_agent as read
    from hopflow.tasks.agents.directives import DirectiveTextError, check_directive_text
    from hopflow.tasks.specs import render_path

    try:
        view = read(configuration)
    except LookupError as exc:
        raise ToolInputError(f"configuration: {exc}") from None
    if view.configuration.status != AgentConfigurationStatus.ACTIVE:
        raise ToolInputError(
            f"configuration: {view.configuration.name!r} is {view.configuration.status.value}, not active"
        )
    payload = payload or {}
    if issues := check_payload(input_schema(view.definition.inputs_schema), payload):
        raise ToolInputError("; ".join(f"payload.{render_path(i.path)}: {i.message}" for i in issues))
    parameters: dict[str, Any] = {"configuration_id": view.configuration.id, "payload": payload}
    if playbook:
        parameters["playbook"] = playbook
    if directive_text is not None:
        try:
            parameters["directive_text"] = check_directive_text(directive_text, "directive_text")
        except DirectiveTextError as exc:
            raise ToolInputError(str(exc)) from None
    return view.configuration.name, parameters


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
