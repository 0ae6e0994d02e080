"""`hopflow run`, `hopflow demo`, `hopflow missions ...` and `hopflow assets ...`."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import hopflow.examples
import typer
from hopflow.deployments.commands.common import (
    cell,
    clear_errors,
    console,
    err_console,
    fail,
    plural,
    prefect_api_url,
    quiet_prefect_console,
    say,
    settings,
    styled_status,
    write_verbatim,
)
from hopflow.models.access.assets import read_mission_state
from hopflow.models.access.missions import find_mission, read_hops, read_mission_assets, read_steps
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import Mission
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

missions_app = typer.Typer(help="Stored missions.", no_args_is_help=True)
assets_app = typer.Typer(help="Assets of a mission.", no_args_is_help=True)

EXAMPLES = Path(hopflow.examples.__file__).resolve().parent
DEMO_SPEC = EXAMPLES / "missions" / "sales_report.yaml"


# Mission statuses and the run log's words for the same outcomes: a filter accepts either.
STATUS_ALIASES = {"success": "completed", "error": "failed", "running": "executing_hop"}
WIDE_AT = 120  # below this many columns, tables leave out what fits only on a wide terminal


def store_spec(path: Path) -> tuple[str, str]:
    """Validate and store a spec file; returns (mission id, name). Nothing is written if invalid."""
    from hopflow.models import migrations
    from hopflow.models.access.identity import ensure_user
    from hopflow.tasks.missions import create_mission_from_spec
    from hopflow.tasks.specs import load_mission_spec

    spec = load_mission_spec(path)
    migrations.upgrade(None)
    with session_scope() as session:
        user = ensure_user(session)
        mission = create_mission_from_spec(
            session, spec, user_id=user.id, base_dir=path.parent, metadata={"source": str(path)}
        )
        return mission.id, mission.name


def progress_table(mission_id: str) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False, expand=False)
    table.add_column("hop / step")
    table.add_column("status")
    table.add_column("detail", overflow="fold", max_width=80)
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        if mission is None:
            return table
        table.title = Text(f"mission/{mission.name}  ") + styled_status(mission.status.value)
        for hop in read_hops(session, mission_id):
            table.add_row(
                cell(f"hop-{hop.sequence_order}:{hop.name}", "bold"),
                styled_status(hop.status.value),
                cell(hop.error_message or ""),
            )
            for step in read_steps(session, hop.id):
                detail = step.error_message or ", ".join((step.execution_result or {}).get("outputs", {}))
                table.add_row(
                    cell(f"  step-{hop.sequence_order}.{step.sequence_order}:{step.tool_id}"),
                    styled_status(step.status.value),
                    cell(detail),
                )
    return table


def assets_table(mission_id: str, *, summaries: bool = True, wide: bool | None = None) -> Table:
    """Assets and their one-line summaries; on a narrow terminal only name, type, status and summary
    (each row stays one line: a long summary is cut with an ellipsis, see `assets show --content`)."""
    wide = console.width >= WIDE_AT if wide is None else wide
    table = Table(show_edge=False, pad_edge=False)
    columns = ("asset", "scope", "role", "type", "status", "bytes") if wide else ("asset", "type", "status")
    for col in columns:
        table.add_column(col, no_wrap=True, justify="right" if col == "bytes" else "left")
    rows: list[list[Text]] = []
    with session_scope() as session:
        for a in read_mission_assets(session, mission_id):
            values = {
                "asset": cell(a.name),
                "scope": cell(a.scope_type.value),
                "role": cell(a.role.value),
                "type": cell(a.type),
                "status": styled_status(a.status.value),
                "bytes": cell("-" if a.size_bytes is None else f"{a.size_bytes:,}"),
            }
            rows.append([values[c] for c in columns])
            if summaries:
                rows[-1].append(cell(" ".join((a.content_summary or "").split())[:160]))
    if summaries:
        # What is left of the terminal after the other columns (and " │ " between columns), so each
        # asset stays on one line; the whole summary is in `missions show` JSON and `--content`.
        used = sum(max([len(c), *(len(r[i].plain) for r in rows)]) + 3 for i, c in enumerate(columns))
        room = max(20, min(90, console.width - used))
        table.add_column("summary", no_wrap=True, overflow="ellipsis", max_width=room)
    for row in rows:
        table.add_row(*row)
    return table


def _redraw(live: Live, mission_id: str) -> None:
    # The progress table is a view: a database that fails mid-run is reported once, by the run itself.
    with contextlib.suppress(Exception):
        live.update(progress_table(mission_id))


def recorded_status(mission_id: str) -> tuple[str, str | None] | None:
    """(status, error) as hopflow's database has them, or None when it cannot be read."""
    try:
        with session_scope() as session:
            mission = session.get(Mission, mission_id)
            return (mission.status.value, mission.error_message) if mission is not None else None
    except Exception:
        return None


def run_with_progress(mission_id: str, verbose: bool = False) -> Any:
    """Run mission_flow in this process while a thread redraws hop/step progress from the database."""
    from hopflow.flows.mission import run_mission

    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run_mission(mission_id)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    with quiet_prefect_console(verbose):
        worker = threading.Thread(target=target, name="hopflow-mission", daemon=True)
        worker.start()
        if console.is_terminal:
            with Live(progress_table(mission_id), console=console, refresh_per_second=4) as live:
                while not done.wait(0.4):
                    _redraw(live, mission_id)
                _redraw(live, mission_id)
        else:
            # Piped or redirected: no redraws, the final table once (on lines of its own).
            while not done.wait(0.4):
                pass
            console.print(progress_table(mission_id))
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def interrupted(mission_id: str, name: str) -> typer.Exit:
    """Ctrl-C: mark the mission failed (resumable, and visible in `missions list`), say how to resume."""
    from hopflow.tasks.leases import let_go
    from hopflow.tasks.missions import fail_mission

    reason = "interrupted (Ctrl-C) in `hopflow`: resume it with `hopflow missions resume`"
    with contextlib.suppress(Exception):  # the database went away too: the message still helps
        let_go(mission_id)
        fail_mission(mission_id, reason)
    console.print(cell(
        f"\ninterrupted: mission {name} ({mission_id}) stopped and marked failed; "
        f"resume it with: hopflow missions resume {mission_id}"
    ), style="yellow", soft_wrap=True)  # fmt: skip
    return typer.Exit(130)


def run_spec(path: Path, verbose: bool = False) -> str:
    """Store and run a spec with live progress; the stored mission's id."""
    with clear_errors():
        mission_id, name = store_spec(path)
    say(cell(f"stored mission {name} ({mission_id}); starting its flow ..."))
    started = time.perf_counter()
    try:
        result = run_with_progress(mission_id, verbose)
    except KeyboardInterrupt:
        raise interrupted(mission_id, name) from None
    except Exception as exc:
        recorded = recorded_status(mission_id)
        if recorded is not None and recorded[0] == "completed":
            # The run's work is done and recorded; only telling Prefect failed (e.g. its API died).
            console.print(assets_table(mission_id))
            err_console.print(
                f"warning: the mission completed (hopflow's database says so) but the flow run could not "
                f"report it to Prefect: {escape(str(exc))}\n  `hopflow runs sync` sets the flow run's state "
                "and its run row from hopflow's database once Prefect's API answers again.",
                highlight=False,
            )
            console.print(f"\nmission [bold]{escape(name)}[/] {styled_status('completed')}")
            return mission_id
        said = f"; hopflow's database says it is {recorded[0]}" if recorded is not None else ""
        with contextlib.suppress(Exception):
            console.print(assets_table(mission_id))
        raise fail(
            f"mission {escape(name)} ({mission_id}) failed: {escape(str(exc))}{said}\n"
            f"  resume it with: hopflow missions resume {mission_id}"
        ) from exc
    refuse_if_held(result, name, mission_id)
    console.print(
        Text(f"\nmission {name} ")
        + styled_status(result.status.value)
        + Text(
            f" in {time.perf_counter() - started:.1f} s ({plural(result.hop_count, 'hop')}, "
            f"{plural(result.step_count, 'step')}, "
            f"{result.prompt_tokens}+{result.completion_tokens} tokens)\n"
        ),
        soft_wrap=True,
    )
    console.print(assets_table(mission_id))
    return mission_id


def refuse_if_held(result: Any, name: str, mission_id: str) -> None:
    """Another runner holds the mission: say which, and that this run did nothing (exit 1)."""
    if result.held_by is None:
        return
    raise fail(
        f"mission {escape(name)} ({mission_id}) is being run by flow run {result.held_by}; "
        "this run did nothing. Wait for that run, or resume once it has stopped "
        "(a dead runner's lease expires after HOPFLOW_MISSION_LEASE_SECONDS)."
    )


VERBOSE = typer.Option(False, "--verbose", "-v", help="Also print Prefect's own log lines.")


def run(
    spec: Path = typer.Argument(..., exists=False, help="Mission spec (YAML or JSON)."),
    verbose: bool = VERBOSE,
) -> None:
    """Validate SPEC, store it, run it as a Prefect flow with live progress, then show its assets."""
    settings()
    run_spec(spec, verbose)


def demo(verbose: bool = VERBOSE) -> None:
    """Run the bundled demo mission (a CSV through pandas tools and the LLM tool to a report)."""
    cfg = settings()
    say(cell(
        f"hopflow demo: database {cfg.database_url}, Prefect API "
        f"{prefect_api_url() or 'ephemeral (started in this process)'}"
    ))  # fmt: skip
    mission_id = run_spec(DEMO_SPEC, verbose)
    with session_scope() as session:
        report = read_mission_state(session, mission_id).get("report")
        if report is not None:
            from hopflow.tasks.assets import load_value

            console.print("\n[bold]report[/]\n")
            text = str(load_value(report))
            write_verbatim(text if text.endswith("\n") else text + "\n")


def mission_status(value: str | None) -> MissionStatus | None:
    """A --status value: a mission status, or the run log's word for it (success, error)."""
    if value is None:
        return None
    word = STATUS_ALIASES.get(value.strip().lower(), value.strip().lower())
    try:
        return MissionStatus(word)
    except ValueError:
        known = ", ".join([*(s.value for s in MissionStatus), "success", "error"])
        raise typer.BadParameter(f"{value!r} is not a mission status; use one of {known}",
                                 param_hint="--status") from None  # fmt: skip


@missions_app.command("list")
def list_missions(
    limit: int = typer.Option(20, help="How many, newest first."),
    status: str | None = typer.Option(
        None, help="Only missions in this status (completed or success, failed or error, ...)."
    ),
    wide: bool = typer.Option(False, "--wide", help="Full ids and the Prefect flow run id."),
    tag: list[str] | None = typer.Option(
        None, "--tag", help="Only missions with this tag (repeat: all must match)."
    ),
) -> None:
    """Stored missions, newest first."""
    from hopflow.models.access.missions import list_missions as read_missions

    wanted = mission_status(status)
    table = Table(show_edge=False, pad_edge=False)
    columns = ("id", "name", "status", "hops", "created (UTC)") + (("flow run",) if wide else ())
    for col in columns:
        table.add_column(col, no_wrap=col != "name", overflow="fold")
    with clear_errors(), session_scope() as session:
        rows = read_missions(session, status=wanted, tags=tag, limit=limit)
        for mission, hops in rows:
            row = [
                cell(mission.id if wide else mission.id[:8]),
                cell(mission.name),
                styled_status(mission.status.value),
                cell(hops),
                cell(mission.created_at.strftime("%Y-%m-%d %H:%M")),
            ]
            if wide:
                row.append(cell(mission.flow_run_id or "-"))
            table.add_row(*row)
    console.print(table)


def _find_mission(session: Session, ref: str) -> Mission:
    mission = find_mission(session, ref)
    if mission is None:
        raise fail(f"no mission with id or name {ref!r} (an id prefix needs 4+ characters and one match)")
    return mission


@missions_app.command("show")
def show_mission(mission: str = typer.Argument(..., help="Mission id, id prefix or name (newest).")) -> None:
    """A mission's hops, steps and assets."""
    with clear_errors(), session_scope() as session:
        found = _find_mission(session, mission)
        mission_id, error = found.id, found.error_message
    console.print(progress_table(mission_id))
    if error:
        say(Text("error: ", style="red") + cell(error))
    console.print(assets_table(mission_id))


@missions_app.command("resume")
def resume_mission(
    mission: str = typer.Argument(..., help="Mission id, id prefix or name."), verbose: bool = VERBOSE
) -> None:
    """Run a failed or crashed mission again: completed steps are skipped, nothing is duplicated."""
    with clear_errors(), session_scope() as session:
        found = _find_mission(session, mission)
        mission_id, name, status = found.id, found.name, found.status
    if status in (MissionStatus.COMPLETED, MissionStatus.CANCELLED):
        # Nothing to resume: no Prefect, no new flow run.
        console.print(Text(f"mission {name} ({mission_id}) is ") + styled_status(status.value)
                      + Text(": nothing to do"), soft_wrap=True)  # fmt: skip
        return
    try:
        result = run_with_progress(mission_id, verbose)
    except KeyboardInterrupt:
        raise interrupted(mission_id, name) from None
    except Exception as exc:
        raise fail(f"mission {name} ({mission_id}) failed again: {exc}") from exc
    refuse_if_held(result, name, mission_id)
    say(Text(f"mission {name} ") + styled_status(result.status.value))
    console.print(assets_table(mission_id))


def _default_index(frame: Any) -> bool:
    import pandas as pd

    index = getattr(frame, "index", None)
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


@assets_app.command("show")
def show_assets(
    mission: str = typer.Argument(..., help="Mission id, id prefix or name (newest)."),
    content: str | None = typer.Option(None, "--content", help="Print this asset's full content."),
) -> None:
    """The mission's assets with their summaries, or one asset's full content."""
    from hopflow.tasks.assets import load_value

    with clear_errors(), session_scope() as session:
        found = _find_mission(session, mission)
        if content is None:
            mission_id = found.id
        else:
            asset = next((a for a in read_mission_assets(session, found.id) if a.name == content), None)
            if asset is None:
                raise fail(f"mission {found.name!r} has no asset named {content!r}")
            value = load_value(asset)
            # The content as stored, to stdout as is: `> file` saves the asset, never wrapped or styled.
            if hasattr(value, "to_csv"):
                text = value.to_csv(index=not _default_index(value))
            elif isinstance(value, bytes):
                sys.stdout.flush()
                sys.stdout.buffer.write(value)
                sys.stdout.flush()
                return
            elif isinstance(value, str):
                text = value
            else:
                text = json.dumps(value, default=str, indent=2, ensure_ascii=False) + "\n"
            write_verbatim(text)
            return
    console.print(assets_table(mission_id))
