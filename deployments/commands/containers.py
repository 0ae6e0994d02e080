"""`hopflow containers allow|deny|list|inventory|diff` and `hopflow agents allow-tool|deny-tool`:
the tool allowlist of agent configurations and the Docker Engine's container inventory (seed 002)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer
from hopflow.deployments.commands.common import clear_errors, console, fail, settings
from hopflow.models.db import session_scope
from rich.markup import escape
from rich.table import Table

containers_app = typer.Typer(help="Container allowlist and inventory (Docker Engine).", no_args_is_help=True)

_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
CONTAINER_TOOLS = ["containers.logs", "containers.restart"]


def _configuration_id(ref: str) -> tuple[str, str]:
    from hopflow.tasks.agents import read_agent

    view = read_agent(ref)
    return view.configuration.id, view.configuration.name


def _container_id(ref: str) -> str:
    """A full container id: given as one, or resolved on the engine (which must then answer)."""
    if _FULL_ID.match(ref):
        return ref
    from hopflow.tasks.containers import EngineError, resolve_container

    try:
        return resolve_container(ref)[0]
    except EngineError as exc:
        raise fail(f"{escape(str(exc))}; give the container's full 64-character id instead") from None


def _check_tools(tools: list[str]) -> None:
    from hopflow.tasks.tools import get_tool, load_builtin_tools

    load_builtin_tools()
    for tool_id in tools:
        get_tool(tool_id)  # UnknownToolError names close matches


def _allow(configuration: str, tools: list[str], container: str | None) -> None:
    from hopflow.models.access.containers import allow_tool

    settings()
    with clear_errors():
        _check_tools(tools)
        config_id, name = _configuration_id(configuration)
        container_id = _container_id(container) if container else None
        with session_scope() as session:
            changed = [allow_tool(session, config_id, t, container_id)[1] for t in tools]
    where = f" on container {container_id[:12]}" if container_id else ""
    for tool_id, did in zip(tools, changed, strict=True):
        verb = "allowed" if did else "already allowed"
        console.print(f"{name}: {tool_id}{where} {verb}", markup=False, highlight=False)


def _deny(configuration: str, tools: list[str], container: str | None) -> None:
    from hopflow.models.access.containers import deny_tool

    settings()
    with clear_errors():
        config_id, name = _configuration_id(configuration)
        container_id = _container_id(container) if container else None
        with session_scope() as session:
            removed = sum(deny_tool(session, config_id, t, container_id) for t in tools)
    if not removed:
        raise fail(f"{escape(name)}: no allowlist entry for {escape(', '.join(tools))} to remove")
    console.print(f"{name}: removed {removed} allowlist entr{'y' if removed == 1 else 'ies'}", markup=False)


@containers_app.command("allow")
def allow(
    configuration: Annotated[str, typer.Argument(help="agent configuration name or id")],
    container: Annotated[str, typer.Argument(help="container id or name (stored as its full id)")],
    tool: Annotated[
        list[str] | None, typer.Option("--tool", help="container tool to allow (default: logs and restart)")
    ] = None,
) -> None:
    """Let an agent's runs use container tools on one container."""
    _allow(configuration, tool or CONTAINER_TOOLS, container)


@containers_app.command("deny")
def deny(
    configuration: Annotated[str, typer.Argument(help="agent configuration name or id")],
    container: Annotated[str, typer.Argument(help="container id or name")],
    tool: Annotated[
        list[str] | None, typer.Option("--tool", help="container tool to deny (default: logs and restart)")
    ] = None,
) -> None:
    """Take a container off an agent's allowlist."""
    _deny(configuration, tool or CONTAINER_TOOLS, container)


@containers_app.command("list")
def list_allowlist(
    configuration: Annotated[str | None, typer.Argument(help="only this configuration")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The allowlist: which tools each configuration may call, on which containers."""
    from hopflow.models.access.containers import latest_snapshot, read_allowlist
    from hopflow.models.orm import AgentConfiguration

    settings()
    with clear_errors():
        config_id = _configuration_id(configuration)[0] if configuration else None
        with session_scope() as session:
            _, inventory = latest_snapshot(session)
            names = {row.container_id: row.name for row in inventory}
            items = []
            for entry in read_allowlist(session, config_id):
                owner = session.get(AgentConfiguration, entry.agent_configuration_id)
                items.append(
                    {
                        "configuration": owner.name if owner else entry.agent_configuration_id,
                        "tool": entry.tool_id,
                        "container_id": entry.container_id,
                        "container_name": names.get(entry.container_id or ""),
                    }
                )
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("configuration", "tool", "container", "name (last inventory)"):
        table.add_column(col)
    for i in items:
        cid = i["container_id"]
        table.add_row(*(escape(str(v)) for v in (
            i["configuration"], i["tool"], cid[:12] if cid else "-", i["container_name"] or "-"
        )))  # fmt: skip
    console.print(table)
    console.print(f"{len(items)} entr{'y' if len(items) == 1 else 'ies'}; configurations not listed are "
                  "unrestricted, but container logs/restart need an entry naming the container")  # fmt: skip


def _inventory_rows(records: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.container_id, "name": r.name, "image": r.image, "state": r.state,
            "labels": dict(r.labels), "created": r.created.isoformat() if r.created else None,
            "ports": dict(r.ports),
        }
        for r in records
    ]  # fmt: skip


@containers_app.command("inventory")
def inventory(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Snapshot every container the Docker Engine reports into container_inventory."""
    from hopflow.tasks.containers import EngineError, take_inventory

    settings()
    with clear_errors():
        try:
            snapshot_at, records = take_inventory()
        except EngineError as exc:
            raise fail(escape(str(exc))) from None
    rows = _inventory_rows(records)
    if as_json:
        typer.echo(json.dumps({"snapshot_at": snapshot_at.isoformat(), "containers": rows}, indent=2))
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("id", "name", "image", "state", "created (UTC)", "ports", "labels"):
        table.add_column(col, overflow="fold")
    for r in rows:
        ports = ", ".join(f"{k}->{','.join(v) or '-'}" for k, v in r["ports"].items())
        labels = ", ".join(f"{k}={v}" for k, v in r["labels"].items())
        created = (r["created"] or "-")[:19].replace("T", " ")
        table.add_row(*(escape(str(v or "-")) for v in (
            r["id"][:12], r["name"], r["image"], r["state"], created, ports, labels
        )))  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} container(s), snapshot at {snapshot_at.isoformat()}")


@containers_app.command("diff")
def diff(
    since: Annotated[str, typer.Option(help="compare with the snapshot then: 30m, 1h, 7d, ISO")] = "1h",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """What appeared, disappeared or changed state between a past snapshot and the newest one."""
    from hopflow.deployments.commands.runs import parse_since
    from hopflow.models.access.containers import inventory_diff

    settings()
    with clear_errors():
        start = parse_since(since)
        with session_scope() as session:
            d = inventory_diff(session, start)
            result: dict[str, Any] = {
                "baseline_at": d.baseline_at.isoformat() if d.baseline_at else None,
                "current_at": d.current_at.isoformat() if d.current_at else None,
                "appeared": [{"id": r.container_id, "name": r.name, "state": r.state} for r in d.appeared],
                "disappeared": [
                    {"id": r.container_id, "name": r.name, "state": r.state} for r in d.disappeared
                ],
                "changed": [
                    {"id": new.container_id, "name": new.name,
                     "changes": {f: [getattr(old, f), getattr(new, f)] for f in fields}}
                    for old, new, fields in d.changed
                ],
            }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    if result["current_at"] is None:
        raise fail("no inventory snapshot yet: run `hopflow containers inventory`")
    console.print(f"from {result['baseline_at']} to {result['current_at']}", markup=False)
    for kind, sign in (("appeared", "+"), ("disappeared", "-")):
        for r in result[kind]:
            console.print(f"{sign} {r['id'][:12]} {r['name']} ({r['state']})", markup=False, highlight=False)
    for r in result["changed"]:
        changes = "; ".join(f"{f}: {a} -> {b}" for f, (a, b) in r["changes"].items())
        console.print(f"~ {r['id'][:12]} {r['name']}: {changes}", markup=False, highlight=False)
    if not (result["appeared"] or result["disappeared"] or result["changed"]):
        console.print("no change")


def allow_tool(
    configuration: Annotated[str, typer.Argument(help="agent configuration name or id")],
    tool: Annotated[str, typer.Argument(help="tool id, e.g. text.count")],
    container: Annotated[str | None, typer.Option(help="only on this container (id or name)")] = None,
) -> None:
    """Put a tool on an agent's allowlist: once it has entries, its runs may call only those tools."""
    _allow(configuration, [tool], container)


def deny_tool(
    configuration: Annotated[str, typer.Argument(help="agent configuration name or id")],
    tool: Annotated[str, typer.Argument(help="tool id")],
    container: Annotated[str | None, typer.Option(help="only the entry for this container")] = None,
) -> None:
    """Take a tool (every entry of it, or one container's) off an agent's allowlist."""
    _deny(configuration, [tool], container)


def register(app: typer.Typer, agents_app: typer.Typer) -> None:
    app.add_typer(containers_app, name="containers")
    agents_app.command("allow-tool")(allow_tool)
    agents_app.command("deny-tool")(deny_tool)
