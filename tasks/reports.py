"""Run reports: a pure pandas core (runs, success rate, p50/p95 duration, tokens, by agent, model or day),
a loader from agent_run_logs and llm_calls, and a publisher of the report as a Prefect table artifact."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

import pandas as pd
from hopflow.models.access.run_reports import read_report_calls, read_report_runs
from hopflow.models.db import session_scope
from hopflow.models.enums import RunStatus
from sqlalchemy.orm import Session

GroupBy = Literal["agent", "model", "day"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
REPORT_COLUMNS = [
    "group",
    "runs",
    "success_rate",
    "p50_duration_ms",
    "p95_duration_ms",
    "prompt_tokens",
    "completion_tokens",
]
RUN_COLUMNS = [
    "run_id",
    "agent",
    "flow_name",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
]
CALL_COLUMNS = ["run_id", "model", "prompt_tokens", "completion_tokens"]
FINISHED = frozenset({RunStatus.SUCCESS.value, RunStatus.ERROR.value, RunStatus.CANCELLED.value})
NO_AGENT = "(no agent)"
NOT_STARTED = "(not started)"


def _empty_report() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": pd.Series(dtype="string"),
            "runs": pd.Series(dtype="int64"),
            "success_rate": pd.Series(dtype="float64"),
            "p50_duration_ms": pd.Series(dtype="float64"),
            "p95_duration_ms": pd.Series(dtype="float64"),
            "prompt_tokens": pd.Series(dtype="int64"),
            "completion_tokens": pd.Series(dtype="int64"),
        }
    )


def _summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """rows: one per (group, run) with the run's status and duration and the tokens to count there."""
    if rows.empty:
        return _empty_report()
    groups = rows.groupby("group", sort=True)
    out = pd.DataFrame(
        {
            "runs": groups["run_id"].nunique(),
            "prompt_tokens": groups["prompt_tokens"].sum(),
            "completion_tokens": groups["completion_tokens"].sum(),
        }
    )
    # Rates and durations describe finished runs only: a run still going has neither yet.
    finished = rows[rows["status"].isin(FINISHED)]
    done = finished.groupby("group", sort=True)
    out["success_rate"] = done["status"].agg(lambda s: float((s == RunStatus.SUCCESS.value).mean()))
    durations = done["duration_ms"]
    out["p50_duration_ms"] = durations.quantile(0.5, interpolation="linear")
    out["p95_duration_ms"] = durations.quantile(0.95, interpolation="linear")
    out = out.reset_index()
    out["group"] = out["group"].astype("string")
    for column in ("runs", "prompt_tokens", "completion_tokens"):
        out[column] = out[column].astype("int64")
    for column in ("success_rate", "p50_duration_ms", "p95_duration_ms"):
        out[column] = out[column].astype("float64")
    return out[REPORT_COLUMNS]


def build_run_report(runs: pd.DataFrame, by: GroupBy, calls: pd.DataFrame | None = None) -> pd.DataFrame:
    """The report, one row per group, sorted by group.

    `runs` has RUN_COLUMNS (one row per run; start_time tz-aware UTC); `calls` has CALL_COLUMNS (one
    row per LLM call) and is needed for `by="model"`. Columns of the result:

    - runs: distinct runs in the group (by model: runs with at least one call to that model);
    - success_rate: successful / finished runs (success, error, cancelled); NaN when none finished;
    - p50_duration_ms, p95_duration_ms: quantiles of finished runs' duration_ms with pandas' default
      linear interpolation (numpy's "linear", Hyndman & Fan type 7): for sorted durations d[0..n-1],
      q(p) = d[k] + (d[k+1] - d[k]) * f where p*(n-1) = k + f; NaN when none finished;
    - prompt_tokens, completion_tokens: sums over the group's runs (by model: over that model's calls).

    By agent, runs without an agent configuration are grouped as "(no agent)"; by day, the group is the
    UTC date of start_time ("(not started)" for runs that never started).
    """
    if by not in GROUP_BYS:
        raise ValueError(f"cannot group runs by {by!r}; choose one of {', '.join(GROUP_BYS)}")
    if by == "model":
        if calls is None:
            raise ValueError("a report by model needs the LLM calls frame (calls=...)")
        if calls.empty or runs.empty:
            return _empty_report()
        per_model_run = calls.groupby(["model", "run_id"], as_index=False)[
            ["prompt_tokens", "completion_tokens"]
        ].sum()
        rows = per_model_run.merge(runs[["run_id", "status", "duration_ms"]], on="run_id", how="inner")
        rows = rows.rename(columns={"model": "group"})
        return _summarise(rows)
    if runs.empty:
        return _empty_report()
    rows = runs[["run_id", "status", "duration_ms", "prompt_tokens", "completion_tokens"]].copy()
    if by == "agent":
        rows["group"] = runs["agent"].fillna(NO_AGENT).astype("string")
    else:
        start = pd.to_datetime(runs["start_time"], utc=True)
        rows["group"] = start.dt.strftime("%Y-%m-%d").fillna(NOT_STARTED).astype("string")
    return _summarise(rows)


# --- the shell: load from the database, publish to Prefect ---------------------------------------------
@dataclass(frozen=True)
class RunFrames:
    runs: pd.DataFrame
    calls: pd.DataFrame


def load_run_frames_from(session: Session, since: datetime | None = None) -> RunFrames:
    """Top-level runs started (or, if never started, created) since `since`, and their LLM calls
    (a subflow's calls count as its parent run's)."""
    runs = pd.DataFrame.from_records(read_report_runs(session, since), columns=RUN_COLUMNS)
    for column in ("start_time", "end_time"):
        runs[column] = pd.to_datetime(runs[column], utc=True)
    calls = pd.DataFrame.from_records(read_report_calls(session, since), columns=CALL_COLUMNS)
    return RunFrames(runs=runs, calls=calls)


def load_run_frames(since: datetime | None = None) -> RunFrames:
    with session_scope() as session:
        return load_run_frames_from(session, since)


def read_run_report(*, since: datetime | None, by: str) -> pd.DataFrame:
    """The report for the configured database: what `hopflow runs report` prints."""
    if by not in GROUP_BYS:
        raise ValueError(f"cannot group runs by {by!r}; choose one of {', '.join(GROUP_BYS)}")
    frames = load_run_frames(since)
    return build_run_report(frames.runs, by, calls=frames.calls)  # type: ignore[arg-type]


def report_records(report: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values (NaN becomes None)."""
    records = []
    for row in report.to_dict(orient="records"):
        records.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()
            }
        )
    return records


def publish_run_report(report: pd.DataFrame, *, by: str, since: datetime | None) -> UUID:
    """The report as a Prefect table artifact (key runs-report-<by>), in or outside a flow run."""
    from prefect.artifacts import create_table_artifact

    window = f"since {since.isoformat()}" if since else "all runs"
    return create_table_artifact(  # type: ignore[return-value]  # sync outside an event loop
        report_records(report),
        key=f"runs-report-{by}",
        description=f"hopflow run report by {by}, {window}",
    )


# --- one run in detail (seed 002: Markdown + JSON + token totals) --------------------------------------
def _cell(value: Any) -> str:
    return "-" if value in (None, "") else str(value).replace("|", "\\|").replace("\n", " ")


def run_detail_markdown(detail: dict[str, Any]) -> str:
    """The run detail JSON (models.access.runs.read_run_detail) as Markdown."""
    agent = detail.get("agent") or {}
    mission = detail.get("mission") or {}
    tokens = detail["tokens"]
    window = detail.get("window") or {}
    duration = detail.get("duration_ms")
    seconds = f"{duration / 1000:.3f} s" if duration is not None else None
    mission_text = f"{mission['name']} ({mission['status']})" if mission else None
    lines = [
        f"# Run {detail['run_id']}",
        "",
        "| field | value |",
        "|---|---|",
        f"| status | {_cell(detail['status'])} (Prefect {_cell(detail.get('prefect_state'))}) |",
        f"| flow | {_cell(detail.get('flow_name'))} |",
        f"| trigger | {_cell(detail['trigger_type'])} |",
        f"| started | {_cell(detail.get('start_time'))} |",
        f"| ended | {_cell(detail.get('end_time'))} |",
        f"| duration | {_cell(seconds)} |",
        f"| agent | {_cell(agent.get('name'))} |",
        f"| mission | {_cell(mission_text)} |",
        f"| window | {_cell(window.get('start'))} -> {_cell(window.get('end'))} |",
        f"| steps | {_cell(detail.get('step_count'))} |",
        f"| logs | {_cell(detail.get('logs_ref'))} |",
        f"| full output | {_cell(detail.get('full_output_ref'))} |",
        "",
        "## Tokens",
        "",
        "| model | calls | prompt | completion | total |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in tokens.get("by_model", []):
        total = m["prompt_tokens"] + m["completion_tokens"]
        lines.append(
            f"| {_cell(m['provider'])}/{_cell(m['model'])} | {m['calls']} | {m['prompt_tokens']} "
            f"| {m['completion_tokens']} | {total} |"
        )
    lines.append(f"| **total** | | {tokens['prompt']} | {tokens['completion']} | {tokens['total']} |")
    directive = detail.get("directive")
    if directive:
        lines += ["", f"## Directive (version {_cell(directive.get('version'))})", "", "```text"]
        lines += [str(directive.get("text", "")), "```"]
    if detail.get("error_message"):
        lines += ["", "## Error", "", "```text", str(detail["error_message"]), "```"]
    if detail.get("output_preview"):
        lines += ["", "## Output preview", "", "```text", str(detail["output_preview"]), "```"]
    return "\n".join(lines) + "\n"
