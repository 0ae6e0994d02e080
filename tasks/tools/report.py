"""Report tools: render a table as Markdown and assemble a Markdown report from parts."""

from __future__ import annotations

import pandas as pd
from hopflow.tasks.tools.registry import tool
from pydantic import BaseModel, ConfigDict, Field


class ToMarkdownInput(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    table: pd.DataFrame
    max_rows: int = Field(default=50, ge=1, le=10_000)
    float_digits: int = Field(default=2, ge=0, le=10)


class TextOutput(BaseModel):
    text: str


def frame_to_markdown(frame: pd.DataFrame, max_rows: int = 50, float_digits: int = 2) -> str:
    """A GitHub-style Markdown table (no `tabulate` needed); long frames are cut with a note."""
    shown = frame.head(max_rows)
    cols = [str(c) for c in shown.columns]

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.{float_digits}f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    if len(frame) > max_rows:
        lines.append(f"\n_{len(frame) - max_rows} more rows not shown_")
    return "\n".join(lines)


@tool("table.to_markdown", description="Render a table as a Markdown table.")
def table_to_markdown(params: ToMarkdownInput) -> TextOutput:
    return TextOutput(text=frame_to_markdown(params.table, params.max_rows, params.float_digits))


class BuildReportInput(BaseModel):
    title: str
    body: str
    summary: str | None = None
    footer: str | None = None


@tool("report.build", description="Assemble a Markdown report: title, summary, body, footer.")
def build_report(params: BuildReportInput) -> TextOutput:
    parts = [f"# {params.title}"]
    if params.summary:
        parts.append(f"## Summary\n\n{params.summary.strip()}")
    parts.append(params.body.strip())
    if params.footer:
        parts.append(f"---\n{params.footer.strip()}")
    return TextOutput(text="\n\n".join(parts) + "\n")
