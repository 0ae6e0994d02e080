"""How assets and missions read in Prefect's UI (pure, bounded): artifact keys that stay the same across
runs (so the UI shows each key's history), an asset as Markdown that renders as what it is (a table as a
Markdown table, a report as Markdown), and a mission summary that lists its assets and says what failed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

ARTIFACT_KEY_RE = re.compile(r"[^a-z0-9-]+")
MAX_TABLE_ROWS = 20
MAX_TABLE_COLUMNS = 12
CELL_CHARS = 60
SUMMARY_CHARS = 160
MARKDOWN_CHARS = 20_000
MARKDOWN_HINT = re.compile(r"^(#{1,6} |[-*] |\d+\. |\|.*\|$|> )", re.MULTILINE)


def slug(text: str) -> str:
    return re.sub("-{2,}", "-", ARTIFACT_KEY_RE.sub("-", text.lower())).strip("-")


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "-".join(p for p in (slug(part) for part in parts) if p)[:120].strip("-")


def key_prefix(mission_name: str, metadata: Mapping[str, Any] | None) -> str:
    """The configuration for an agent's mission (`<configuration>-<output>`), else the mission's name."""
    return str((metadata or {}).get("agent_configuration") or mission_name)


def clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    """One line, cut at a word with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def cell(value: Any, limit: int = CELL_CHARS) -> str:
    """A value as one Markdown table cell: one line, no pipe, no heading or list marker, bounded."""
    text = clip("" if value is None else str(value), limit).replace("|", "\\|")
    return re.sub(r"^([#>*+-]+)\s*", "", text) or text


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "| " + " | ".join(cell(c) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def table_markdown(value: Any) -> str | None:
    """A DataFrame or a list of row objects as a bounded Markdown table; None for anything else."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(value, pd.DataFrame):
        total, width = len(value), value.shape[1]
        frame = value.iloc[:MAX_TABLE_ROWS, :MAX_TABLE_COLUMNS]
        columns = [str(c) for c in frame.columns]
        rows = [list(r) for r in frame.itertuples(index=False, name=None)]
    elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value[:MAX_TABLE_ROWS]):
        total = len(value)
        columns = []
        for row in value[:MAX_TABLE_ROWS]:
            columns += [str(k) for k in row if str(k) not in columns]
        width = len(columns)
        columns = columns[:MAX_TABLE_COLUMNS]
        rows = [[row.get(c) for c in columns] for row in value[:MAX_TABLE_ROWS]]
    else:
        return None
    text = markdown_table(columns, rows)
    notes = []
    if total > MAX_TABLE_ROWS:
        notes.append(f"first {MAX_TABLE_ROWS} of {total} rows")
    if width > MAX_TABLE_COLUMNS:
        notes.append(f"first {MAX_TABLE_COLUMNS} of {width} columns")
    return text + (f"\n\n_{'; '.join(notes)}_" if notes else "")


def looks_like_markdown(text: str) -> bool:
    return bool(MARKDOWN_HINT.search(text[:4000]))


def _fence(text: str) -> str:
    return "```text\n" + text.replace("```", "'''") + "\n```"


def asset_body(asset_type: str, value: Any, summary: str) -> str:
    """The asset's content as the UI should show it: table, Markdown, or the summary in a code block."""
    if (table := table_markdown(value)) is not None:
        return table
    if isinstance(value, str) and looks_like_markdown(value):
        if len(value) <= MARKDOWN_CHARS:
            return value
        return value[:MARKDOWN_CHARS].rsplit("\n", 1)[0] + "\n\n_(cut: the full text is the asset's content)_"
    return _fence(summary)


def asset_markdown(
    *,
    name: str,
    asset_type: str,
    role: str,
    scope: str,
    status: str,
    size_bytes: int | None,
    offloaded: bool,
    summary: str,
    value: Any,
    mission: str,
    flow_run_id: str | None,
) -> str:
    size = "-" if size_bytes is None else f"{size_bytes:,} bytes"
    where = " (offloaded)" if offloaded else ""
    facts = f"**{role}** {asset_type} · scope {scope} · {status} · {size}{where} · mission `{mission}`" + (
        f" · flow run `{flow_run_id}`" if flow_run_id else ""
    )
    return (
        f"## {name}\n\n{facts}\n\n**Summary:** {clip(summary, 600)}\n\n"
        f"{asset_body(asset_type, value, summary)}\n"
    )


class StepLine(BaseModel):
    run_name: str
    status: str
    error: str | None = None


class AssetLine(BaseModel):
    name: str
    role: str
    type: str
    status: str
    summary: str


class MissionSummary(BaseModel):
    mission_id: str
    name: str
    status: str
    flow_run_id: str | None = None
    error: str | None = None
    steps: list[StepLine] = []
    assets: list[AssetLine] = []
    prompt_tokens: int = 0
    completion_tokens: int = 0


def mission_summary_markdown(summary: MissionSummary) -> str:
    """The mission at a glance: status, what failed and where, every asset with its summary."""
    lines = [f"# mission {summary.name}: {summary.status}", ""]
    lines.append(
        f"Mission `{summary.mission_id}`"
        + (f", flow run `{summary.flow_run_id}`" if summary.flow_run_id else "")
        + f"; {len(summary.steps)} steps; {summary.prompt_tokens}+{summary.completion_tokens} tokens."
    )
    failed = [s for s in summary.steps if s.status == "failed"]
    if failed or summary.error:
        lines += ["", "## What failed", ""]
        for step in failed:
            lines.append(f"- **{step.run_name}** failed: {clip(step.error or 'no message', 600)}")
        if summary.error and not failed:
            lines.append(f"- {clip(summary.error, 600)}")
    unfinished = [s for s in summary.steps if s.status not in ("completed", "failed")]
    if unfinished and failed:
        lines.append("- not run: " + ", ".join(s.run_name for s in unfinished))
    lines += ["", "## Assets", ""]
    if summary.assets:
        rows = [[a.name, a.role, a.type, a.status, clip(a.summary)] for a in summary.assets]
        lines.append(markdown_table(["asset", "role", "type", "status", "summary"], rows))
    else:
        lines.append("_none_")
    return "\n".join(lines) + "\n"


def asset_table_rows(assets: Sequence[AssetLine]) -> list[dict[str, Any]]:
    """The mission's table artifact: one row per asset, summaries one line and cut at a word."""
    return [
        {"name": a.name, "role": a.role, "type": a.type, "status": a.status, "summary": clip(a.summary)}
        for a in assets
    ]
