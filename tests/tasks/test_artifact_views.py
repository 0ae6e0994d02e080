"""How assets and missions read in Prefect's UI (pure): stable keys, tables as bounded Markdown tables,
Markdown as Markdown, summaries cut at a word, cells that cannot break a table, a summary that says what
failed."""

from __future__ import annotations

import pandas as pd
from hopflow.tasks.artifact_views import (
    MAX_TABLE_ROWS,
    AssetLine,
    MissionSummary,
    StepLine,
    artifact_key,
    asset_body,
    cell,
    clip,
    key_prefix,
    mission_summary_markdown,
)


def test_keys_are_stable_slugs_of_mission_or_configuration_and_asset() -> None:
    assert artifact_key("sales-report", "revenue_by_region") == "sales-report-revenue-by-region"
    assert artifact_key(key_prefix("acme:order_brief", {"agent_configuration": "Acme Shop"}), "brief") == (
        "acme-shop-brief"
    )
    assert key_prefix("words", None) == "words"


def test_summaries_are_cut_at_a_word_with_an_ellipsis() -> None:
    text = "alpha beta gamma delta " * 20
    cut = clip(text, 50)
    assert (
        len(cut) <= 50 and cut.endswith("…") and cut[:-1].split()[-1] in {"alpha", "beta", "gamma", "delta"}
    )
    assert clip("one\n\ntwo") == "one two"


def test_a_frame_is_a_bounded_markdown_table() -> None:
    frame = pd.DataFrame({"region": [f"r{i}" for i in range(50)], "revenue": range(50)})
    body = asset_body("table", frame, "summary")
    lines = body.splitlines()
    assert lines[0] == "| region | revenue |" and lines[1] == "|---|---|"
    rows = [line for line in lines[2:] if line.startswith("| r")]
    assert rows[0] == "| r0 | 0 |" and len(rows) == MAX_TABLE_ROWS
    assert f"first {MAX_TABLE_ROWS} of 50 rows" in body


def test_rows_of_objects_are_a_table_and_cells_cannot_break_it() -> None:
    body = asset_body("json", [{"title": "# Big | heading\nsecond line", "n": 1}], "summary")
    assert body.splitlines()[2] == "| Big \\| heading second line | 1 |"
    assert cell("x" * 500).endswith("…") and len(cell("x" * 500)) <= 60


def test_markdown_renders_as_markdown_and_other_values_as_their_summary() -> None:
    report = "# Sales\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert asset_body("text", report, "Text (40 chars)") == report
    assert asset_body("number", 42, "42") == "```text\n42\n```"


def test_mission_summary_says_what_failed_and_lists_assets() -> None:
    summary = MissionSummary(
        mission_id="m1",
        name="fetch",
        status="failed",
        flow_run_id="f1",
        error="ToolStepError: boom",
        steps=[
            StepLine(run_name="step-1.1:text.count in hop-1:get", status="completed"),
            StepLine(
                run_name="step-1.2:http.get in hop-1:get", status="failed", error="ConnectError (url=u)"
            ),
            StepLine(run_name="step-2.1:report.build in hop-2:report", status="ready_to_execute"),
        ],
        assets=[AssetLine(name="status", role="output", type="number", status="error", summary="")],
    )
    text = mission_summary_markdown(summary)
    assert text.startswith("# mission fetch: failed")
    assert "- **step-1.2:http.get in hop-1:get** failed: ConnectError (url=u)" in text
    assert "- not run: step-2.1:report.build in hop-2:report" in text
    assert "| status | output | number | error |  |" in text
