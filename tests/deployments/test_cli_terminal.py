"""The terminal front door as a newcomer meets it, at 80 columns, on SQLite and PostgreSQL: data printed
verbatim (markup off), content byte for byte, tables that stay one line per row, unique run id
prefixes, one-line errors for a database that is not there, and the CLI surface (--version, help)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.deployments.commands.common import console
from hopflow.models.access.runs import upsert_run_log
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import AgentConfigurationVersion, Event, Mission
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
runner = CliRunner()

# What ate the demo's summary: Rich read `[order_id: int64, ...]` as a tag, and `[/]` closes one.
BRACKETED = "cols [order_id: int64] [/] [b]x[/b]"
LONG_LINE = "x" * 100 + " [y] " + "z" * 63  # 168 characters: wrapped at 80 it became three lines
SPEC = """\
name: brackets
inputs:
  - name: article
    type: text
    content: {content}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {{text: {{asset: article}}}}
        result_mapping: {{words: {{asset: word_count, role: output}}}}
"""


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(console, "width", 80)  # a terminal of 80 columns
    return 80


def store(tmp_path: Path, content: str) -> str:
    from hopflow.deployments.commands.missions import store_spec

    spec = tmp_path / "m.yaml"
    spec.write_text(SPEC.format(content=json.dumps(content)), encoding="utf-8")
    return store_spec(spec)[0]


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args))


# --- 1, 2: data is printed as it is ---------------------------------------------------------------------
def test_bracketed_text_prints_verbatim_in_missions_show_and_assets_show(
    hopflow_env: str, tmp_path: Path, narrow: int
) -> None:
    store(tmp_path, BRACKETED)
    for args in (["missions", "show", "brackets"], ["assets", "show", "brackets"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert BRACKETED in result.output
        assert all(len(line) <= 80 for line in result.output.splitlines()), result.output


def test_asset_content_goes_to_stdout_byte_for_byte(hopflow_env: str, tmp_path: Path, narrow: int) -> None:
    content = f"# report\n{LONG_LINE}\n{BRACKETED}\nno final newline"
    store(tmp_path, content)
    result = runner.invoke(app, ["assets", "show", "brackets", "--content", "article"])
    assert result.exit_code == 0, result.output
    assert result.stdout == content  # not wrapped at 80, no markup read, nothing added


def test_assets_table_keeps_one_line_per_asset_at_80_columns(
    hopflow_env: str, tmp_path: Path, narrow: int
) -> None:
    store(tmp_path, " ".join(f"word{i}" for i in range(400)))
    result = runner.invoke(app, ["assets", "show", "brackets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    article = [line for line in lines if line.startswith("article")]
    assert len(article) == 1 and "word0 word1" in article[0]  # the summary, cut, on the asset's line


# --- 3, 4, 5, 20: runs list --------------------------------------------------------------------------
def time_ordered_ids(n: int) -> list[str]:
    """Ids like Prefect 3.9's: the first 12 hex digits are the time (ms), so runs started seconds
    apart share their first 8 characters and more."""
    return [f"01a23ad0-7f{i:02x}-7{uuid.uuid4().hex[:3]}-8{uuid.uuid4().hex[:3]}-{uuid.uuid4().hex[:12]}"
            for i in range(n)]  # fmt: skip


def seed_runs(ids: list[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope() as session:
        for i, run_id in enumerate(ids):
            upsert_run_log(
                session,
                run_id,
                prefect_state="COMPLETED" if i % 2 == 0 else "FAILED",
                start_time=now - timedelta(minutes=10 + i),
                end_time=now - timedelta(minutes=9 + i),
                flow_name="agent-run-with-a-rather-long-flow-name-that-will-not-fit",
                error_message="MissingSecretError: SHOP_TOKEN is not set " * 5 if i % 2 else None,
            )


def test_runs_list_is_readable_at_80_columns_with_unique_id_prefixes(
    hopflow_env: str, narrow: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = time_ordered_ids(3)
    seed_runs(ids)
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    rows = [line for line in lines if line.startswith("01a23ad0")]
    assert len(rows) == 3  # one line per run: no word or date split over lines
    assert all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row) for row in rows)
    prefixes = [row.split()[0] for row in rows]
    assert len(set(prefixes)) == 3 and all(len(p) < 36 for p in prefixes)
    for prefix in prefixes:  # each shown prefix is accepted by `runs show`
        shown = runner.invoke(app, ["runs", "show", prefix, "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["run_id"].startswith(prefix)
    monkeypatch.setattr(console, "width", 200)
    wide = runner.invoke(app, ["runs", "list", "--wide"])
    assert all(run_id in wide.output for run_id in ids) and "MissingSecretError" in wide.output


def test_runs_list_formats_for_scripts_and_status_words_of_both_kinds(hopflow_env: str) -> None:
    ids = time_ordered_ids(4)
    seed_runs(ids)
    as_csv = runner.invoke(app, ["runs", "list", "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    header, *body = as_csv.stdout.splitlines()
    assert header.startswith("run_id,flow_name,mission,agent,status") and len(body) == 4
    as_json = json.loads(runner.invoke(app, ["runs", "list", "--format", "json"]).stdout)
    assert {item["run_id"] for item in as_json} == set(ids)
    for word, status in (("completed", "success"), ("success", "success"), ("failed", "error")):
        listed = json.loads(runner.invoke(app, ["runs", "list", "--json", "--status", word]).stdout)
        assert len(listed) == 2 and {item["status"] for item in listed} == {status}


def test_scheduled_runs_that_never_started_are_not_runs(hopflow_env: str) -> None:
    ids = time_ordered_ids(2)
    seed_runs(ids[:1])
    with session_scope() as session:  # what an older reconciler left: a future cron run as pending
        upsert_run_log(session, ids[1], prefect_state="SCHEDULED", flow_name="agent-run")
    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)
    assert [item["run_id"] for item in listed] == ids[:1]
    pending = json.loads(runner.invoke(app, ["runs", "list", "--json", "--status", "pending"]).stdout)
    assert pending == []
    report = json.loads(runner.invoke(app, ["runs", "report", "--format", "json"]).stdout)
    assert [(row["runs"], row["success_rate"]) for row in report] == [(1, 1.0)]


def test_report_csv_rounds_durations(hopflow_env: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope() as session:
        for i, ms in enumerate((1000, 2000, 2108)):
            start = now - timedelta(minutes=5 + i)
            upsert_run_log(session, str(uuid.uuid4()), prefect_state="COMPLETED", start_time=start,
                           end_time=start + timedelta(milliseconds=ms))  # fmt: skip
    result = runner.invoke(app, ["runs", "report", "--format", "csv"])
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[1].split(",")
    assert row[3:5] == ["2000", "2097.2"]  # p50, p95: not 2097.2000000000003


# --- hostile input rows: one-line errors ------------------------------------------------------------
def test_report_since_too_far_back_and_output_a_directory_are_one_line_errors(
    hopflow_env: str, tmp_path: Path
) -> None:
    far = runner.invoke(app, ["runs", "report", "--since", "999999999d"])
    assert far.exit_code == 2 and "Traceback" not in far.output and "before year 1" in far.output
    folder = tmp_path / "out"
    folder.mkdir()
    for fmt in ("csv", "parquet", "json"):
        result = runner.invoke(app, ["runs", "report", "--format", fmt, "--output", str(folder)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output.count("\n") == 1 and "is a directory" in result.output


# --- 11, 16: the database, from a new directory ------------------------------------------------------
@pytest.mark.parametrize(
    "url, words",
    [
        ("sqlite:///{tmp}/new.db", "hopflow db upgrade"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/hopflow", "HOPFLOW_DATABASE_URL"),
    ],
)
def test_a_database_not_migrated_or_not_reachable_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    from hopflow.models.settings import reset_settings

    monkeypatch.setenv("HOPFLOW_DATABASE_URL", url.format(tmp=tmp_path))
    reset_settings()
    try:
        for args in (["missions", "list"], ["runs", "list"], ["agents", "list"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            assert len(result.output.strip().splitlines()) == 1, result.output
            assert result.output.startswith("error: ") and words in result.output
    finally:
        reset_settings()


def test_db_downgrade_takes_a_relative_revision(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from hopflow.models import migrations
    from hopflow.models.settings import reset_settings

    monkeypatch.setenv("HOPFLOW_DATABASE_URL", empty_db_url)
    reset_settings()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(app, ["db", "downgrade", "-1"])
        assert result.exit_code == 0, result.output
        head = migrations.head_revision()
        assert migrations.current_revision(empty_db_url) not in (head, None) or head == "0001"
    finally:
        reset_settings()


# --- 13, 20: missions -------------------------------------------------------------------------------
def test_resume_of_a_completed_mission_says_nothing_to_do_and_starts_nothing(
    hopflow_env: str, tmp_path: Path
) -> None:
    mission_id = store(tmp_path, "one two")
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None
        mission.status = MissionStatus.COMPLETED  # as a finished run leaves it
        events = session.scalar(sa.select(sa.func.count()).select_from(Event))
    result = runner.invoke(app, ["missions", "resume", mission_id])
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.flow_run_id is None and mission.started_at is None
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events


def test_missions_list_filters_by_either_status_word(hopflow_env: str, tmp_path: Path, narrow: int) -> None:
    done, other = store(tmp_path, "one"), store(tmp_path, "two")
    with session_scope() as session:
        mission = session.get(Mission, done)
        assert mission is not None
        mission.status = MissionStatus.COMPLETED
    for word in ("completed", "success"):
        result = runner.invoke(app, ["missions", "list", "--status", word])
        assert result.exit_code == 0, result.output
        assert done[:8] in result.output and other[:8] not in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    bad = runner.invoke(app, ["missions", "list", "--status", "finished"])
    assert bad.exit_code == 2 and "not a mission status" in bad.output


# --- 10, 14, 20: agents -----------------------------------------------------------------------------
def configure_sentinel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    monkeypatch.delenv("ACME_SHOP_WEBHOOK_SECRET", raising=False)
    assert invoke("agents", "register", str(EXAMPLES / "agents" / "sales_sentinel.yaml")).exit_code == 0
    values = str(EXAMPLES / "agents" / "sales_sentinel.values.yaml")
    return invoke("agents", "configure", "agent_003", "--name", "acme-shop", "--config", values)


def test_configure_warns_of_unset_secrets_and_names_the_namespace_cleanly(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = configure_sentinel(tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert "warning: acme-shop: ${env.SHOP_TOKEN} is referenced but SHOP_TOKEN is not set" in output
    assert "ACME_SHOP_WEBHOOK_SECRET" in output and "answers 500" in output
    namespace = re.search(r"memory namespace (\S+)", output)
    assert namespace is not None and "__" not in namespace.group(1)
    assert namespace.group(1).startswith("sentinel_")
    listed = invoke("agents", "list")
    row = [line for line in listed.output.splitlines() if line.startswith("acme-shop")]  # type: ignore[attr-defined]
    assert len(row) == 1 and "never" in row[0] and "idle" not in row[0]


def test_webhooks_start_warns_for_each_route_without_its_secret(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hopflow.deployments.commands.agents import announce_routes
    from hopflow.deployments.webhooks import create_webhook_app
    from hopflow.models.settings import get_settings

    assert configure_sentinel(tmp_path, monkeypatch).exit_code == 0  # type: ignore[attr-defined]
    announce_routes(create_webhook_app(get_settings()), "127.0.0.1", 8787)
    err = " ".join(capsys.readouterr().err.split())
    assert "ACME_SHOP_WEBHOOK_SECRET is not set" in err and "answers 500" in err
    monkeypatch.setenv("ACME_SHOP_WEBHOOK_SECRET", "s3cret")
    announce_routes(create_webhook_app(get_settings()), "127.0.0.1", 8787)
    assert "is not set" not in capsys.readouterr().err


def test_reconfigure_stores_a_new_version_and_keeps_the_old(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert configure_sentinel(tmp_path, monkeypatch).exit_code == 0  # type: ignore[attr-defined]
    values = str(EXAMPLES / "agents" / "sales_sentinel.values.yaml")
    again = invoke("agents", "configure", "agent_003", "--name", "acme-shop", "--config", values)
    assert again.exit_code == 1 and "agents reconfigure acme-shop" in again.output  # type: ignore[attr-defined]
    changed = tmp_path / "v2.yaml"
    original = Path(values).read_text()
    changed.write_text(original.replace("alert_threshold: 250", "alert_threshold: 500"))
    result = invoke("agents", "reconfigure", "acme-shop", "--config", str(changed))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "values version 2 (was 1)" in result.output  # type: ignore[attr-defined]
    bad = tmp_path / "bad.yaml"
    bad.write_text(original.replace("alert_threshold: 250", "alert_threshold: lots"))
    refused = invoke("agents", "reconfigure", "acme-shop", "--config", str(bad))
    assert refused.exit_code == 1 and "alert_threshold" in refused.output  # type: ignore[attr-defined]
    with session_scope() as session:
        versions = session.scalars(
            sa.select(AgentConfigurationVersion).order_by(AgentConfigurationVersion.version)
        ).all()
        assert [v.version for v in versions] == [1, 2]
        assert "250" in versions[0].yaml_config and "500" in versions[1].yaml_config
        assert versions[1].effective_config is not None
        assert versions[1].effective_config["alert_threshold"] == 500
    shown = invoke("agents", "show", "acme-shop")
    assert '"alert_threshold": 500' in shown.output  # type: ignore[attr-defined]
    listed = invoke("agents", "versions", "acme-shop")
    assert listed.exit_code == 0 and "alert_threshold: 250" in listed.output  # type: ignore[attr-defined]


# --- 17: the CLI surface ----------------------------------------------------------------------------
def test_version_and_help_without_typer_placeholders() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"hopflow {version('hopflow')}"
    commands = (["runs", "list"], ["agents", "configure"], ["agents", "register"], ["run"], ["runs", "sync"])
    for args in commands:
        shown = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "80"})
        assert shown.exit_code == 0, shown.output
        for placeholder in ("<bool>", "<str>", "<list[str]>", "<path>", "{"):
            assert placeholder not in shown.output, (args, placeholder, shown.output)
    usage = runner.invoke(app, ["agents", "configure", "--help"]).output
    assert "DEFINITION" in usage and "--name" in usage and "TEXT" in usage


def test_console_script_main_module_imports_nothing_until_called() -> None:
    """Prefect's runner re-runs the main module of `hopflow serve` in every served run's new interpreter."""
    from importlib.metadata import entry_points, version

    (script,) = entry_points(group="console_scripts", name="hopflow")
    assert script.value == "hopflow.deployments.__main__:main"
    heavy = ("typer", "prefect", "sqlalchemy", "hopflow.deployments.cli")
    code = f"import sys, hopflow.deployments.__main__; print([m for m in {heavy!r} if m in sys.modules])"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
    shown = subprocess.run(
        [sys.executable, "-m", "hopflow.deployments", "--version"], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == f"hopflow {version('hopflow')}"


# --- 18: Prefect's own lines stay off the terminal ---------------------------------------------------
def test_console_script_keeps_prefect_console_lines_quiet_unless_verbose() -> None:
    code = (
        "import os, sys; sys.argv = ['hopflow', *sys.argv[1:]];"
        "import hopflow.deployments.cli as c; c._quiet_prefect_by_default(sys.argv);"
        "print(os.environ.get('PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL'), os.environ.get('HOPFLOW_VERBOSE'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",
                                                             "HOPFLOW_VERBOSE")}  # fmt: skip

    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
        return out.stdout.strip()

    assert run("runs", "sync") == "WARNING None"
    assert run("--verbose", "runs", "sync") == "None 1"
    assert run("runs", "sync", "-v") == "None 1"
    assert run("serve") == "None 1"  # a long-running server's Prefect lines are its log
