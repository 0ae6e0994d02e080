"""The run report's maths on in-memory frames, checked against counts made by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from hopflow.tasks.reports import (
    CALL_COLUMNS,
    REPORT_COLUMNS,
    RUN_COLUMNS,
    build_run_report,
    run_detail_markdown,
)


def t(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


RUNS = pd.DataFrame.from_records(
    [
        # run, agent, flow, status, start, end, duration_ms, prompt, completion
        ("r1", "shop-a", "agent-run", "success", t(1, 10), t(1, 10), 1000, 10, 5),
        ("r2", "shop-a", "agent-run", "error", t(1, 11), t(1, 11), 3000, 20, 0),
        ("r3", "shop-a", "agent-run", "success", t(2, 9), t(2, 9), 2000, 0, 0),
        ("r4", "shop-b", "agent-run", "cancelled", t(2, 10), t(2, 10), 500, 0, 0),
        ("r5", None, "mission", "running", t(2, 12), None, 0, 7, 3),
        ("r6", "shop-b", "agent-run", "success", t(3, 8), t(3, 8), 4000, 1, 1),
    ],
    columns=RUN_COLUMNS,
)
CALLS = pd.DataFrame.from_records(
    [
        ("r1", "gpt-a", 6, 3),
        ("r1", "gpt-a", 4, 2),
        ("r2", "gpt-b", 20, 0),
        ("r5", "gpt-a", 7, 3),
        ("r6", "gpt-b", 1, 1),
    ],
    columns=CALL_COLUMNS,
)
NaN = float("nan")


def rows(report: pd.DataFrame) -> list[tuple[Any, ...]]:
    assert list(report.columns) == REPORT_COLUMNS
    return [tuple(r) for r in report.itertuples(index=False)]


def same(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for g, w in zip(got, want, strict=True):
            if isinstance(w, float) and math.isnan(w):
                assert isinstance(g, float) and math.isnan(g), (got, want)
            elif isinstance(w, float):
                assert g == pytest.approx(w), (got, want)
            else:
                assert g == w, (got, want)


def test_report_by_agent_matches_a_hand_count() -> None:
    # shop-a: 3 finished, 2 succeeded; durations 1000, 2000, 3000: p50 2000, p95 2000 + 0.9 * 1000.
    # shop-b: durations 500, 4000: p50 500 + 0.5 * 3500, p95 500 + 0.95 * 3500.
    # r5 has no agent and has not finished: counted as a run, no rate or duration yet.
    same(
        rows(build_run_report(RUNS, "agent")),
        [
            ("(no agent)", 1, NaN, NaN, NaN, 7, 3),
            ("shop-a", 3, 2 / 3, 2000.0, 2900.0, 30, 5),
            ("shop-b", 2, 0.5, 2250.0, 3825.0, 1, 1),
        ],
    )


def test_report_by_day_groups_by_utc_start_date() -> None:
    same(
        rows(build_run_report(RUNS, "day")),
        [
            ("2026-11-01", 2, 0.5, 2000.0, 2900.0, 30, 5),
            ("2026-11-02", 3, 0.5, 1250.0, 1925.0, 7, 3),
            ("2026-11-03", 1, 1.0, 4000.0, 4000.0, 1, 1),
        ],
    )


def test_report_by_model_counts_distinct_runs_and_that_models_tokens() -> None:
    # gpt-a: runs r1 (two calls) and r5 (running); gpt-b: r2 and r6.
    same(
        rows(build_run_report(RUNS, "model", calls=CALLS)),
        [
            ("gpt-a", 2, 1.0, 1000.0, 1000.0, 17, 8),
            ("gpt-b", 2, 0.5, 3500.0, 3950.0, 21, 1),
        ],
    )


def test_p95_is_pandas_linear_quantile() -> None:
    durations = list(range(100, 2100, 100))  # 20 finished runs
    runs = pd.DataFrame.from_records(
        [(f"r{i}", "a", "f", "success", t(1, 1), t(1, 1), d, 0, 0) for i, d in enumerate(durations)],
        columns=RUN_COLUMNS,
    )
    report = build_run_report(runs, "agent")
    # 0.95 * 19 = 18.05: d[18] + 0.05 * (d[19] - d[18]) = 1900 + 5
    assert report.loc[0, "p95_duration_ms"] == pytest.approx(1905.0)
    assert report.loc[0, "p50_duration_ms"] == pytest.approx(1050.0)


def test_empty_inputs_give_an_empty_report_with_the_columns() -> None:
    empty_runs = pd.DataFrame(columns=RUN_COLUMNS)
    for by in ("agent", "day"):
        assert list(build_run_report(empty_runs, by).columns) == REPORT_COLUMNS  # type: ignore[arg-type]
    assert build_run_report(RUNS, "model", calls=pd.DataFrame(columns=CALL_COLUMNS)).empty


def test_bad_grouping_and_missing_calls_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="cannot group runs by 'week'"):
        build_run_report(RUNS, "week")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the LLM calls frame"):
        build_run_report(RUNS, "model")


def test_run_detail_markdown_has_status_tokens_directive_and_error() -> None:
    detail = {
        "run_id": "abc",
        "flow_name": "agent-run",
        "status": "error",
        "prefect_state": "FAILED",
        "trigger_type": "webhook",
        "start_time": "2026-11-01T10:00:00+00:00",
        "end_time": "2026-11-01T10:00:02+00:00",
        "duration_ms": 2000,
        "agent": {"id": "c1", "name": "shop-a"},
        "mission": {"id": "m1", "name": "orders", "status": "failed"},
        "directive": {"version": 2, "text": "Be brief."},
        "window": {"start": "2026-10-31T10:00:00+00:00", "end": "2026-11-01T10:00:00+00:00"},
        "tokens": {
            "prompt": 12,
            "completion": 3,
            "total": 15,
            "by_model": [
                {"provider": "offline", "model": "m", "calls": 2, "prompt_tokens": 12, "completion_tokens": 3}
            ],
        },
        "step_count": 4,
        "logs_ref": "/logs/abc.log",
        "full_output_ref": "hopflow://missions/m1",
        "error_message": "boom | bang",
        "output_preview": "n: 5",
    }
    text = run_detail_markdown(detail)
    assert "| status | error (Prefect FAILED) |" in text
    assert "| duration | 2.000 s |" in text
    assert "| agent | shop-a |" in text and "| mission | orders (failed) |" in text
    assert "| offline/m | 2 | 12 | 3 | 15 |" in text
    assert "| **total** | | 12 | 3 | 15 |" in text
    assert "## Directive (version 2)" in text and "Be brief." in text
    assert "boom | bang" in text  # verbatim in a code block, not a table cell
