"""`hopflow living` (create, configure, list, show, enable, disable, think, drain), `hopflow inbox push`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from hopflow.deployments.commands.common import clear_errors, console, quiet_prefect_console, settings
from hopflow.models.enums import EntityStatus
from rich.table import Table

if TYPE_CHECKING:
    from hopflow.tasks.living.cycles import CycleOutcome

living_app = typer.Typer(help="Living agents (seed 003): think cycles over a persistent consciousness.")
inbox_app = typer.Typer(help="Living agents' inboxes.", no_args_is_help=True)


def _migrated() -> None:
    from hopflow.models import migrations

    with clear_errors():
        migrations.upgrade(None)


def _print_view(name: str) -> None:
    from hopflow.tasks.living import read_living_agent

    with clear_errors():
        view = read_living_agent(name)
    config = view.config
    rows = [
        ("name", view.name),
        ("status", view.status),
        ("entity", view.entity_id),
        ("workspace", view.workspace or "-"),
        ("config version", str(view.config_version)),
        ("model", f"{config.model.provider}/{config.model.name}"),
        ("tools", ", ".join(t.name for t in config.tools) or "-"),
        ("cron", view.cron or "-"),
        ("cycles", str(view.cycle_count)),
        ("messages", str(view.message_count)),
        ("token estimate", f"{view.token_estimate} / {config.consciousness.max_tokens}"),
        ("unprocessed events", str(view.unprocessed_events)),
    ]
    for key, value in rows:
        console.print(f"{key:<20}{value}", markup=False, highlight=False)


@living_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The agent's name (its deployment is think/<name>).")],
    config: Annotated[Path, typer.Option("--config", help="Seed 003 agent config JSON (version 3.0).")],
    workspace: Annotated[str | None, typer.Option(help="Workspace id or name (created if new).")] = None,
    cron: Annotated[str | None, typer.Option(help="A cron (UTC) for a periodic cycle.")] = None,
) -> None:
    """Create the agent entity, its config (version 1) and an empty consciousness."""
    from hopflow.tasks.living import create_living_agent, load_living_config

    settings()
    _migrated()
    with clear_errors():
        create_living_agent(name, load_living_config(config), workspace=workspace, cron=cron)
    console.print(f"created living agent {name} (config version 1)", markup=False)
    _print_view(name)


@living_app.command("configure")
def configure(
    name: Annotated[str, typer.Argument()],
    config: Annotated[Path, typer.Option("--config", help="The new config JSON.")],
) -> None:
    """Store a new config version; the next cycle runs with it."""
    from hopflow.tasks.living import configure_living_agent, load_living_config

    settings()
    with clear_errors():
        view = configure_living_agent(name, load_living_config(config))
    console.print(f"{name}: config version {view.config_version}", markup=False)


@living_app.command("list")
def list_agents() -> None:
    """Every living agent with its status, cycles, consciousness size and inbox backlog."""
    from hopflow.tasks.living import list_living_agents

    settings()
    with clear_errors():
        views = list_living_agents()
    table = Table(show_edge=False, pad_edge=False)
    for col in ("name", "status", "version", "model", "cycles", "messages", "tokens", "unprocessed"):
        table.add_column(col)
    for v in views:
        table.add_row(
            v.name, v.status, str(v.config_version), v.config.model.name, str(v.cycle_count),
            str(v.message_count), str(v.token_estimate), str(v.unprocessed_events),
        )  # fmt: skip
    console.print(table)


@living_app.command("show")
def show(name: Annotated[str, typer.Argument()]) -> None:
    """One living agent: config, consciousness, inbox."""
    settings()
    _print_view(name)


@living_app.command("disable")
def disable(name: Annotated[str, typer.Argument()]) -> None:
    """Stop thinking: no cycle runs and `hopflow serve` leaves it out. Its inbox still accepts events."""
    from hopflow.tasks.living import set_living_agent_status

    settings()
    with clear_errors():
        set_living_agent_status(name, EntityStatus.INACTIVE)
    console.print(f"{name}: disabled", markup=False)


@living_app.command("enable")
def enable(name: Annotated[str, typer.Argument()]) -> None:
    from hopflow.tasks.living import set_living_agent_status

    settings()
    with clear_errors():
        set_living_agent_status(name, EntityStatus.ACTIVE)
    console.print(f"{name}: enabled", markup=False)


def _outcome_line(o: CycleOutcome) -> str:
    return (
        f"think/{o.agent}/{o.cycle}: {o.status.value} ({o.stop_reason.value}); "
        f"{o.events} event(s), {o.steps} model call(s), {o.tool_calls} tool call(s), "
        f"tokens {o.prompt_tokens}+{o.completion_tokens}, model {o.model} ({o.model_tier})"
    )


@living_app.command("think")
def think(
    name: Annotated[str, typer.Argument()],
    batch_size: Annotated[int, typer.Option(help="Most inbox events one cycle claims.")] = 50,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's own log lines.")] = False,
) -> None:
    """Run one think cycle now, in this process, and print its outcome."""
    from hopflow.flows.think_cycle import think_cycle_flow

    settings()
    _migrated()
    with quiet_prefect_console(verbose), clear_errors():
        outcome = think_cycle_flow(name, trigger_type="manual", batch_size=batch_size)
    console.print(_outcome_line(outcome), markup=False, highlight=False, soft_wrap=True)


@living_app.command("drain")
def drain(
    name: Annotated[str, typer.Argument()],
    batch_size: Annotated[int, typer.Option(help="Most inbox events one cycle claims.")] = 50,
    watch: Annotated[bool, typer.Option(help="Keep waiting for new events instead of exiting.")] = False,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's own log lines.")] = False,
) -> None:
    """Run cycles in this process, one at a time, until the inbox is empty (or for ever with --watch)."""
    from hopflow.flows.think_cycle import think_cycle_flow
    from hopflow.tasks.living import read_living_agent

    settings()
    _migrated()
    with quiet_prefect_console(verbose), clear_errors():
        while True:
            if read_living_agent(name).unprocessed_events == 0:
                if not watch:
                    break
                time.sleep(0.2)
                continue
            outcome = think_cycle_flow(name, trigger_type="manual", batch_size=batch_size)
            console.print(_outcome_line(outcome), markup=False, highlight=False, soft_wrap=True)


@inbox_app.command("push")
def push(
    agent: Annotated[str, typer.Argument(help="The living agent.")],
    event_id: Annotated[str, typer.Option("--event-id", help="Unique per agent: a repeat changes nothing.")],
    event_type: Annotated[str, typer.Option("--type", help="space_message | plan | service")],
    data: Annotated[str, typer.Option("--data", help="The event's data, a JSON object.")] = "{}",
    wake: Annotated[bool, typer.Option(help="Emit the Prefect event that wakes think/<agent>.")] = True,
) -> None:
    """Push one event into an agent's inbox (idempotent per event id)."""
    from hopflow.tasks.living import push_event
    from hopflow.tasks.living.inbox import parse_event_data

    settings()
    with clear_errors():
        result = push_event(agent, event_id, event_type, parse_event_data(data, agent, event_id), wake=wake)
    said = "stored" if result.new else "duplicate (already in the inbox; nothing changed)"
    console.print(
        json.dumps({"agent": agent, "event_id": event_id, "result": said}), markup=False, soft_wrap=True
    )


def register(app: typer.Typer) -> None:
    app.add_typer(living_app, name="living")
    app.add_typer(inbox_app, name="inbox")


__all__ = ["inbox_app", "living_app", "register"]
