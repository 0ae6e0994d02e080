"""`hopflow runs ...` and `hopflow directives ...`: the mirrored run log."""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from hopflow.deployments.commands.common import (
    cell,
    clear_errors,
    console,
    fail,
    quiet_prefect_console,
    settings,
    styled_status,
    write_verbatim,
)
from hopflow.models.db import session_scope
from hopflow.models.enums import RunStatus
from hopflow.models.orm import AgentConfiguration
from rich.table import Table
from rich.text import Text

runs_app = typer.Typer(help="The run log mirrored from Prefect.", no_args_is_help=True)
directives_app = typer.Typer(help="Versioned directives of agent configurations.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class GroupByOption(StrEnum):
    AGENT = "agent"
    MODEL = "model"
    DAY = "day"


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


# The missions' words for the same outcomes: a --status filter accepts either.
STATUS_ALIASES = {"completed": "success", "failed": "error", "crashed": "error", "cancelled": "cancelled"}


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    PARQUET = "parquet"
    JSON = "json"


def parse_since(value: str, *, now: datetime | None = None, option: str = "--since") -> datetime:
    """`30m`, `24h`, `7d`, `2w` (ago) or an ISO 8601 date/time (UTC when it names no offset)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except (OverflowError, ValueError):
            raise typer.BadParameter(
                f"{value!r} reaches back before year 1; give a shorter duration or an ISO date",
                param_hint=option,
            ) from None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a duration like 30m, 24h, 7d or 2w nor an ISO date such as 2026-11-01",
            param_hint=option,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _since(value: str | None) -> datetime | None:
    return parse_since(value) if value is not None else None


def _status(value: str | None) -> RunStatus | None:
    if value is None:
        return None
    word = value.strip().lower()
    try:
        return RunStatus(STATUS_ALIASES.get(word, word))
    except ValueError:
        known = ", ".join(s.value for s in RunStatus) + " (or completed, failed)"
        raise typer.BadParameter(
            f"{value!r} is not a run status; use one of {known}", param_hint="--status"
        ) from None


def _ago(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


LIST_FIELDS = [
    "run_id", "flow_name", "mission", "agent", "status", "trigger_type", "start_time", "duration_ms",
    "prompt_tokens", "completion_tokens", "error_message",
]  # fmt: skip


@runs_app.command("list")
def list_runs(
    agent: Annotated[str | None, typer.Option(help="only runs of this agent configuration (name)")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="pending, running, success (or completed), error (or failed), cancelled"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="started within, e.g. 30m, 24h, 7d, or an ISO date")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table, json or csv (for scripts)")] = (
        ListFormat.TABLE
    ),
    as_json: Annotated[bool, typer.Option("--json", help="same as --format json")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="also tokens and errors, full run ids (needs a wide terminal)")
    ] = False,
) -> None:
    """The newest runs in the run log, filtered. Scheduled runs that have not started are not listed."""
    from hopflow.models.access.runs import list_run_logs, read_mission_names, shortest_unique_prefixes

    settings()
    wanted_status, start = _status(status), _since(since)
    with clear_errors(), session_scope() as session:
        rows = list_run_logs(session, agent=agent, status=wanted_status, since=start, limit=limit)
        mission_ids = sorted({row.mission_id for row, _ in rows if row.mission_id})
        missions = read_mission_names(session, mission_ids)
        prefixes = shortest_unique_prefixes(session, [row.run_id for row, _ in rows])
        items: list[dict[str, Any]] = [
            {
                "run_id": row.run_id,
                "flow_name": row.flow_name,
                "mission": missions.get(row.mission_id or ""),
                "agent": name,
                "status": row.status.value,
                "trigger_type": row.trigger_type.value,
                "start_time": row.start_time.isoformat() if row.start_time else None,
                "duration_ms": row.duration_ms,
                "prompt_tokens": row.prompt_tokens,
                "completion_tokens": row.completion_tokens,
                "error_message": row.error_message,
            }
            for row, name in rows
        ]
    if as_json or fmt == ListFormat.JSON:
        typer.echo(json.dumps(items, indent=2))
        return
    if fmt == ListFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LIST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
        write_verbatim(buffer.getvalue())
        return
    console.print(runs_table(items, prefixes, wide=wide))
    console.print(f"{len(items)} run(s)", highlight=False)


def _flow_label(item: dict[str, Any]) -> str:
    # A mission's flow run is named for its mission: "mission" alone says nothing.
    if item.get("mission") and item.get("flow_name") in (None, "mission"):
        return f"mission/{item['mission']}"
    return item.get("flow_name") or "-"


def runs_table(items: list[dict[str, Any]], prefixes: dict[str, str], *, wide: bool = False) -> Table:
    """One line per run, readable at 80 columns: no cell wraps; ids, statuses and times are never cut
    (only the agent/flow name is shortened, with an ellipsis). --wide: full ids, both names, tokens
    and errors."""
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    rows: list[list[Text]] = []
    for item in items:
        started = item["start_time"][:16].replace("T", " ") if item["start_time"] else "-"
        what = [cell(item["agent"] or "-"), cell(_flow_label(item))] if wide else [
            cell(item["agent"] or _flow_label(item))
        ]  # fmt: skip
        row = [
            cell(item["run_id"] if wide else prefixes.get(item["run_id"], item["run_id"][:8])),
            *what,
            styled_status(item["status"]),
            cell(item["trigger_type"]),
            cell(started),
            cell(f"{item['duration_ms'] / 1000:.1f} s"),
        ]
        if wide:
            row += [
                cell(f"{item['prompt_tokens']}/{item['completion_tokens']}"),
                cell(" ".join((item["error_message"] or "").split())[:120]),
            ]
        rows.append(row)
    names = ["agent", "flow"] if wide else ["agent / flow"]
    columns = ["run", *names, "status", "trigger", "started (UTC)", "duration"]
    if wide:
        columns += ["tokens in/out", "error"]
    flexible = [c in ("agent", "flow", "agent / flow", "error") for c in columns]
    longest = [max([len(c), *(len(r[i].plain) for r in rows)]) for i, c in enumerate(columns)]
    # What the fixed columns leave of the terminal (two spaces between columns) goes to the names.
    fixed = sum(w for w, flex in zip(longest, flexible, strict=True) if not flex) + 2 * (len(columns) - 1)
    room = max(8, (console.width - fixed) // max(1, sum(flexible)))
    for i, column in enumerate(columns):
        table.add_column(
            column,
            justify="right" if column in ("duration", "tokens in/out") else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=None if flexible[i] else longest[i],
            max_width=min(room, 60 if column == "error" else 28) if flexible[i] else None,
        )
    for row in rows:
        table.add_row(*row)
    return table


@runs_app.command("show")
def show_run(
    run: Annotated[str, typer.Argument(help="flow run id (or a unique prefix of one)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the run detail as JSON")] = False,
) -> None:
    """One run in detail: status, trigger, times, agent, mission, directive, window, tokens, output."""
    from hopflow.models.access.runs import read_run_detail, read_run_log
    from hopflow.tasks.reports import run_detail_markdown

    settings()
    with clear_errors(), session_scope() as session:
        row = read_run_log(session, run)
        if row is None:
            raise fail(f"no run {run!r} in the run log (try `hopflow runs sync`)")
        detail = read_run_detail(session, row)
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
    else:
        typer.echo(run_detail_markdown(detail), nl=False)


@runs_app.command("sync")
def sync_runs(
    since: Annotated[
        str | None,
        typer.Option(help="re-read runs changed since (30m, 7d, ISO date) instead of the watermark"),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="re-read every run Prefect has")] = False,
    stale_after: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="mark runs Prefect still shows RUNNING with no heartbeat or state change for this many "
            "seconds CRASHED first (off by default: the crash automation of `hopflow serve` does it)",
        ),
    ] = None,
    logs: Annotated[bool, typer.Option("--logs/--no-logs", help="export finished runs' logs")] = True,
    flow: Annotated[list[str] | None, typer.Option(help="mirror runs of these flows (repeatable)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also print Prefect's log lines")] = False,
) -> None:
    """Reconcile the run log with Prefect: mirror every run changed since the last sync."""
    from hopflow.flows.reconciler import sync_run_logs
    from hopflow.models import migrations

    settings()
    if full and since is not None:
        raise fail("give --since or --full, not both")
    start = datetime(1970, 1, 1, tzinfo=UTC) if full else _since(since)
    with clear_errors(), quiet_prefect_console(verbose):
        migrations.upgrade(None)
        report = sync_run_logs(
            since=start, stale_after=stale_after, export_logs=logs, flow_names=flow or None
        )
    console.print(
        f"synced {report.runs} run(s) in {report.pages} page(s); logs exported: {report.log_exports}; "
        f"crashed: {len(report.crashed)}; watermark: "
        f"{report.watermark.isoformat() if report.watermark else 'unchanged'}",
        highlight=False,
    )


def rounded(report: Any) -> Any:
    """Durations as a person reads them (in every format): to 0.1 ms, not `2107.7999999999997`."""
    report = report.copy()
    for column in ("p50_duration_ms", "p95_duration_ms"):
        report[column] = report[column].round(1)
    return report


def _report_table(report: Any, by: str) -> Table:
    table = Table(title=f"runs by {by}", show_edge=False, pad_edge=False)
    for column in ["group", "runs", "success", "p50 s", "p95 s", "tokens in", "tokens out"]:
        table.add_column(column, justify="left" if column == "group" else "right")

    def number(value: float, fmt: str, suffix: str = "") -> str:
        return "-" if math.isnan(value) else format(value, fmt) + suffix  # NaN: nothing finished

    for row in report.itertuples(index=False):
        table.add_row(
            cell(row.group),
            str(row.runs),
            number(row.success_rate * 100, ".1f", "%"),
            number(row.p50_duration_ms / 1000, ".3f"),
            number(row.p95_duration_ms / 1000, ".3f"),
            str(row.prompt_tokens),
            str(row.completion_tokens),
        )
    return table


@runs_app.command("report")
def report_runs(
    since: Annotated[
        str | None, typer.Option(help="runs started within, e.g. 7d (default: all runs)")
    ] = None,
    by: Annotated[GroupByOption, typer.Option(help="group by agent, model or day")] = GroupByOption.AGENT,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, csv, parquet or json")] = (
        ReportFormat.TABLE
    ),
    output: Annotated[
        Path | None,
        typer.Option(help="write to this file (required for parquet; csv/json default to stdout)"),
    ] = None,
    artifact: Annotated[
        bool, typer.Option("--artifact", help="also publish it as a Prefect table artifact")
    ] = False,
) -> None:
    """Runs, success rate, p50/p95 duration and tokens in/out, by agent, model or day."""
    from hopflow.tasks.reports import read_run_report, report_records

    settings()
    start = _since(since)
    if fmt == ReportFormat.PARQUET and output is None:
        raise fail("--format parquet needs --output FILE")
    if output is not None and output.is_dir():
        raise fail(f"--output {str(output)!r} is a directory; give a file name, e.g. {output / 'runs.csv'}")
    with clear_errors():
        report = rounded(read_run_report(since=start, by=by.value))
    try:
        if fmt == ReportFormat.TABLE:
            console.print(_report_table(report, by.value))
        elif fmt == ReportFormat.PARQUET and output is not None:  # checked above: parquet needs --output
            report.to_parquet(output, index=False)
        else:
            text = (
                report.to_csv(index=False, float_format="%.10g")
                if fmt == ReportFormat.CSV
                else json.dumps(report_records(report), indent=2) + "\n"
            )
            if output is not None:
                output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
    except OSError as exc:
        raise fail(f"--output {str(output)!r}: cannot write it ({exc.strerror or exc})") from None
    if output is not None:
        console.print(cell(f"wrote {len(report)} row(s) to {output}"), highlight=False)
    if artifact:
        from hopflow.flows.runs_report import runs_report

        # Through the runs-report flow: Prefect keeps artifacts of flow runs (free-standing ones are
        # deprecated), and the run shows in the UI next to the reconciler's.
        with clear_errors(), quiet_prefect_console():
            artifact_id = runs_report(since=start, by=by.value)
        console.print(
            f"published Prefect table artifact runs-report-{by.value} ({artifact_id})", highlight=False
        )


# --- directives ----------------------------------------------------------------------------------------
def _configuration(session: Any, name_or_id: str) -> AgentConfiguration:
    from hopflow.models.access.agents import read_configuration

    config = read_configuration(session, name_or_id)
    if config is None:
        raise LookupError(f"no agent configuration named {name_or_id!r} (see `hopflow agents list`)")
    return config


@directives_app.command("set")
def set_directive(
    configuration: Annotated[str, typer.Argument(help="agent configuration name (or id)")],
    file: Annotated[Path, typer.Option("--file", "-f", help="text file with the directive", exists=False)],
    name: Annotated[str | None, typer.Option(help="a short name for this version")] = None,
) -> None:
    """Store a new version of the configuration's directive; every later run snapshots it."""
    from hopflow.models.access.directives import create_directive

    settings()
    with clear_errors():
        if not file.is_file():
            raise FileNotFoundError(f"--file: no such file {str(file)!r}")
        text = file.read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError(f"--file: {str(file)!r} is empty; a directive needs text")
        with session_scope() as session:
            config = _configuration(session, configuration)
            directive = create_directive(session, config.id, text, name=name)
            version, config_name = directive.version, config.name
    console.print(cell(f"directive version {version} stored for {config_name}"), highlight=False)


@directives_app.command("show")
def show_directive(
    configuration: Annotated[str, typer.Argument(help="agent configuration name (or id)")],
    version: Annotated[int | None, typer.Option(help="this version instead of the current one")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="list every version")] = False,
) -> None:
    """The configuration's current directive (or a given version, or all of them)."""
    from hopflow.models.access.directives import list_directives

    settings()
    with clear_errors(), session_scope() as session:
        config = _configuration(session, configuration)
        directives = list_directives(session, config.id, version)
        if not directives:
            which = f"version {version}" if version is not None else "no directive yet"
            raise fail(f"{config.name}: {which} (set one with `hopflow directives set`)")
        if all_versions:
            table = Table(show_edge=False, pad_edge=False)
            for column in ("version", "name", "created (UTC)", "text"):
                table.add_column(column, overflow="fold", max_width=80 if column == "text" else None)
            for d in directives:
                table.add_row(cell(d.version), cell(d.name or "-"), cell(_ago(d.created_at)),
                              cell(d.text.strip()[:200]))  # fmt: skip
            console.print(table)
            return
        current = directives[0]
        console.print(
            cell(config.name, "bold")
            + Text(
                f" directive version {current.version}"
                + (f" ({current.name})" if current.name else "")
                + f", {_ago(current.created_at)} UTC"
            ),
            highlight=False,
        )
        typer.echo(current.text.rstrip("\n"))
