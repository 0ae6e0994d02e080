"""`hopflow runs list|show|report` and `hopflow directives set|show` on a real database (SQLite and
PostgreSQL); the report's numbers are checked against a hand count."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hopflow.deployments.cli import app
from hopflow.deployments.commands.runs import parse_since
from hopflow.models.access.runs import upsert_run_log
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentConfiguration, AgentDefinition, LLMCall
from typer.testing import CliRunner

runner = CliRunner()
NOW = datetime.now(UTC).replace(microsecond=0)


def seed_runs() -> dict[str, str]:
    """Two agents and a plain mission run; returns run ids by label.

    shop-a: a1 success 1.0 s (gpt-a 10/5), a2 error 3.0 s (gpt-b 20/0), a3 success 2.0 s (no calls)
    shop-b: b1 cancelled 0.5 s, b2 running
    none:   m1 success 4.0 s, started 10 days ago (outside --since 7d)
    """
    ids = {label: str(uuid.uuid4()) for label in ("a1", "a2", "a3", "b1", "b2", "m1")}
    with session_scope() as session:
        definition = AgentDefinition(id="agent_009", name="Sentinel", version="1.0")
        session.add(definition)
        a = AgentConfiguration(name="shop-a", agent_definition_id=definition.id)
        b = AgentConfiguration(name="shop-b", agent_definition_id=definition.id)
        session.add_all([a, b])
        session.flush()
        plan = [
            ("a1", a.id, "COMPLETED", 1.0, 1),
            ("a2", a.id, "FAILED", 3.0, 2),
            ("a3", a.id, "COMPLETED", 2.0, 3),
            ("b1", b.id, "CANCELLED", 0.5, 4),
            ("b2", b.id, "RUNNING", None, 5),
            ("m1", None, "COMPLETED", 4.0, 24 * 10),
        ]
        for label, config, state, seconds, hours_ago in plan:
            start = NOW - timedelta(hours=hours_ago)
            upsert_run_log(
                session,
                ids[label],
                prefect_state=state,
                start_time=start,
                end_time=start + timedelta(seconds=seconds) if seconds is not None else None,
                agent_configuration_id=config,
                flow_name="agent-run" if config else "mission",
                error_message="boom" if state == "FAILED" else None,
            )
        for label, model, prompt, completion in [
            ("a1", "gpt-a", 6, 3),
            ("a1", "gpt-a", 4, 2),
            ("a2", "gpt-b", 20, 0),
        ]:
            session.add(
                LLMCall(
                    flow_run_id=ids[label],
                    provider="offline",
                    model=model,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                )
            )
        for label, (prompt, completion) in {"a1": (10, 5), "a2": (20, 0)}.items():
            upsert_run_log(session, ids[label], prompt_tokens=prompt, completion_tokens=completion)
    return ids


def report(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["runs", "report", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_by_agent_gives_the_hand_count(hopflow_env: str) -> None:
    seed_runs()
    # shop-a: 3 finished, 2 succeeded; durations 1000, 2000, 3000 ms -> p50 2000, p95 2000 + 0.9 * 1000.
    # shop-b: 2 runs, 1 finished (cancelled): rate 0, durations [500].
    # m1 started 10 days ago: outside --since 7d.
    assert report("--since", "7d", "--by", "agent") == [
        {
            "group": "shop-a",
            "runs": 3,
            "success_rate": pytest.approx(2 / 3),
            "p50_duration_ms": 2000.0,
            "p95_duration_ms": 2900.0,
            "prompt_tokens": 30,
            "completion_tokens": 5,
        },
        {
            "group": "shop-b",
            "runs": 2,
            "success_rate": 0.0,
            "p50_duration_ms": 500.0,
            "p95_duration_ms": 500.0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        },
    ]
    everything = report("--by", "agent")
    assert [r["group"] for r in everything] == ["(no agent)", "shop-a", "shop-b"]
    assert everything[0]["runs"] == 1 and everything[0]["p50_duration_ms"] == 4000.0


def test_report_by_model_and_day(hopflow_env: str) -> None:
    seed_runs()
    assert report("--since", "7d", "--by", "model") == [
        {
            "group": "gpt-a",
            "runs": 1,
            "success_rate": 1.0,
            "p50_duration_ms": 1000.0,
            "p95_duration_ms": 1000.0,
            "prompt_tokens": 10,
            "completion_tokens": 5,
        },
        {
            "group": "gpt-b",
            "runs": 1,
            "success_rate": 0.0,
            "p50_duration_ms": 3000.0,
            "p95_duration_ms": 3000.0,
            "prompt_tokens": 20,
            "completion_tokens": 0,
        },
    ]
    by_day = report("--since", "7d", "--by", "day")
    assert sum(int(r["runs"]) for r in by_day) == 5  # type: ignore[call-overload]


def test_report_writes_csv_parquet_and_a_table(hopflow_env: str, tmp_path: Path) -> None:
    seed_runs()
    csv = runner.invoke(app, ["runs", "report", "--since", "7d", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    assert csv.stdout.splitlines()[0] == (
        "group,runs,success_rate,p50_duration_ms,p95_duration_ms,prompt_tokens,completion_tokens"
    )
    out = tmp_path / "report.parquet"
    result = runner.invoke(
        app, ["runs", "report", "--since", "7d", "--format", "parquet", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert list(frame["group"]) == ["shop-a", "shop-b"] and list(frame["runs"]) == [3, 2]
    table = runner.invoke(app, ["runs", "report", "--since", "7d"])
    assert table.exit_code == 0 and "shop-a" in table.output and "66.7%" in table.output
    missing = runner.invoke(app, ["runs", "report", "--format", "parquet"])
    assert missing.exit_code == 1 and "needs --output" in missing.output


def test_list_filters_by_agent_status_and_since(hopflow_env: str) -> None:
    ids = seed_runs()

    def listed(*args: str) -> set[str]:
        result = runner.invoke(app, ["runs", "list", "--json", *args])
        assert result.exit_code == 0, result.output
        return {item["run_id"] for item in json.loads(result.stdout)}

    assert listed() == set(ids.values())
    assert listed("--agent", "shop-a") == {ids["a1"], ids["a2"], ids["a3"]}
    assert listed("--agent", "shop-a", "--status", "success") == {ids["a1"], ids["a3"]}
    assert listed("--since", "7d") == set(ids.values()) - {ids["m1"]}
    assert listed("--since", "150m") == {ids["a1"], ids["a2"]}
    table = runner.invoke(app, ["runs", "list"])
    assert table.exit_code == 0 and "6 run(s)" in table.output
    bad = runner.invoke(app, ["runs", "list", "--since", "7x"])
    assert bad.exit_code == 2 and "duration like 30m" in bad.output
    bad = runner.invoke(app, ["runs", "list", "--status", "done"])
    assert bad.exit_code == 2 and "not a run status" in bad.output


def test_show_prints_markdown_and_json_with_token_totals(hopflow_env: str) -> None:
    ids = seed_runs()
    result = runner.invoke(app, ["runs", "show", ids["a1"][:12]])
    assert result.exit_code == 0, result.output
    assert f"# Run {ids['a1']}" in result.stdout
    assert (
        "| status | success (Prefect COMPLETED) |" in result.stdout and "| agent | shop-a |" in result.stdout
    )
    assert "| offline/gpt-a | 2 | 10 | 5 | 15 |" in result.stdout
    detail = json.loads(runner.invoke(app, ["runs", "show", ids["a2"], "--json"]).stdout)
    assert detail["status"] == "error" and detail["error_message"] == "boom"
    assert detail["tokens"] == {
        "prompt": 20,
        "completion": 0,
        "total": 20,
        "by_model": [
            {"provider": "offline", "model": "gpt-b", "calls": 1, "prompt_tokens": 20, "completion_tokens": 0}
        ],
    }
    missing = runner.invoke(app, ["runs", "show", "nope"])
    assert missing.exit_code == 1 and "no run 'nope'" in missing.output


def test_directives_set_new_versions_and_show_them(hopflow_env: str, tmp_path: Path) -> None:
    seed_runs()
    first, second = tmp_path / "d1.txt", tmp_path / "d2.txt"
    first.write_text("Watch refunds.\n")
    second.write_text("Watch refunds and chargebacks.\n")
    for path, version in ((first, 1), (second, 2)):
        result = runner.invoke(app, ["directives", "set", "shop-a", "--file", str(path)])
        assert result.exit_code == 0, result.output
        assert f"directive version {version} stored for shop-a" in result.output
    shown = runner.invoke(app, ["directives", "show", "shop-a"])
    assert shown.exit_code == 0 and "version 2" in shown.output and "chargebacks" in shown.output
    old = runner.invoke(app, ["directives", "show", "shop-a", "--version", "1"])
    assert "Watch refunds." in old.output and "chargebacks" not in old.output
    listed = runner.invoke(app, ["directives", "show", "shop-a", "--all"])
    assert listed.exit_code == 0 and "chargebacks" in listed.output
    none = runner.invoke(app, ["directives", "show", "shop-b"])
    assert none.exit_code == 1 and "no directive yet" in none.output
    unknown = runner.invoke(app, ["directives", "set", "shop-z", "--file", str(first)])
    assert unknown.exit_code == 1 and "no agent configuration named 'shop-z'" in unknown.output
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    result = runner.invoke(app, ["directives", "set", "shop-a", "--file", str(empty)])
    assert result.exit_code == 1 and "is empty" in result.output


def test_parse_since_accepts_durations_and_iso_dates() -> None:
    now = datetime(2026, 11, 8, 12, tzinfo=UTC)
    assert parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert parse_since("24h", now=now) == now - timedelta(hours=24)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("2w", now=now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00", now=now) == datetime(2026, 11, 1, 8, tzinfo=UTC)
