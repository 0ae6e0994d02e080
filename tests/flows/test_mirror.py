"""The run-log mirror on a real Prefect API, on SQLite and PostgreSQL: state hooks write the row before
the flow call returns, the reconciler repairs what hooks missed (SIGKILL, a database that was down, a
run cancelled through the API), exports logs, pages, and changes nothing when run twice."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.automations import (
    CRASH_AUTOMATION_NAME,
    crash_automation_within,
    ensure_crash_automation,
)
from hopflow.deployments.cli import app
from hopflow.flows.mirror import mirror_hooks, mirror_on_cancellation
from hopflow.flows.mission import mission_flow, run_mission
from hopflow.flows.reconciler import reconciler_deployment, sync_run_logs
from hopflow.models.access.directives import create_directive
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.enums import RunArtifactKind, RunStatus, TriggerType
from hopflow.models.orm import AgentConfiguration, AgentRunLog, Event, Mission, RunArtifact
from hopflow.models.settings import reset_settings
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from prefect import flow, get_client, tags
from prefect.states import Cancelled, Cancelling, Completed, Failed, Running
from typer.testing import CliRunner

from tests.crashes import run_and_sigkill_mid_step

pytestmark = pytest.mark.flows

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def store(spec: dict[str, Any]) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        return create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id


def step(tool: str, params: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    return {"tool": tool, "parameter_mapping": params, "result_mapping": results}


def llm_spec(name: str = "brief") -> dict[str, Any]:
    return {
        "name": name,
        "inputs": [{"name": "article", "type": "text", "content": "one two three. four five."}],
        "hops": [
            {
                "name": "write",
                "steps": [
                    step(
                        "text.count",
                        {"text": {"asset": "article"}},
                        {"words": {"asset": "n", "role": "output"}},
                    ),
                    step(
                        "llm.complete",
                        {"prompt": {"literal": "Write a short brief. Use five words."}},
                        {"text": {"asset": "brief", "role": "output"}},
                    ),
                ],
            }
        ],
    }


def failing_spec() -> dict[str, Any]:
    return {
        "name": "broken",
        "hops": [
            {
                "name": "fail",
                "steps": [
                    step("noop.fail", {"message": {"literal": "disk on fire"}}, {}),
                ],
            }
        ],
    }


def row_of(run_id: str) -> AgentRunLog:
    with session_scope() as session:
        rows = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).all()
        assert len(rows) == 1, f"{len(rows)} rows for run {run_id}"
        return rows[0]


def flow_run_of(mission_id: str) -> str:
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.flow_run_id is not None
        return mission.flow_run_id


def columns(row: AgentRunLog) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in AgentRunLog.__table__.columns}


def test_terminal_state_is_in_the_run_log_before_the_flow_call_returns(hopflow_env: str) -> None:
    mission_id = store(llm_spec())
    result = run_mission(mission_id)
    # No sync, no wait: the hooks ran inside the flow call.
    row = row_of(flow_run_of(mission_id))
    assert (row.status, row.prefect_state, row.flow_name) == (RunStatus.SUCCESS, "COMPLETED", "mission")
    assert row.trigger_type == TriggerType.MANUAL
    assert row.mission_id == mission_id and row.full_output_ref == f"hopflow://missions/{mission_id}"
    assert row.start_time is not None and row.end_time is not None and row.end_time > row.start_time
    assert row.duration_ms == int((row.end_time - row.start_time).total_seconds() * 1000)
    assert row.step_count == 2
    assert (row.prompt_tokens, row.completion_tokens) == (result.prompt_tokens, result.completion_tokens)
    assert row.prompt_tokens > 0 and row.completion_tokens > 0
    assert row.input_params_snapshot == {"mission_id": mission_id}
    assert row.output_preview is not None and row.output_preview.startswith(
        "n: 5\nbrief: Summary: Write a short brief."
    )
    assert row.error_message is None
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(uuid.UUID(row.run_id))
    assert flow_run.state is not None and row.end_time == flow_run.state.timestamp
    with session_scope() as session:
        moves = [
            e.after["status"]  # type: ignore[index]
            for e in session.scalars(
                sa.select(Event).where(Event.subject_id == row.run_id).order_by(Event.created_at)
            )
        ]
    assert moves == ["running", "success"]


def test_failing_run_is_mirrored_as_an_error_with_its_message(hopflow_env: str) -> None:
    mission_id = store(failing_spec())
    with pytest.raises(Exception, match="disk on fire"):
        run_mission(mission_id)
    row = row_of(flow_run_of(mission_id))
    assert (row.status, row.prefect_state) == (RunStatus.ERROR, "FAILED")
    assert row.error_message is not None and "disk on fire" in row.error_message
    assert row.end_time is not None and row.step_count == 1


@flow(name="mirror-probe", **mirror_hooks())
def probe(x: int) -> int:
    return x + 1


def test_hook_that_cannot_reach_the_database_never_fails_the_flow(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    marker = uuid.uuid4().int % 1_000_000_000  # tells this test's run from others of the probe flow
    monkeypatch.setenv(
        "HOPFLOW_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/down?connect_timeout=2"
    )
    reset_settings()
    # tagged as hopflow's own: a run with no mission or configuration parameter needs the tag to be
    # mirrored (a shared Prefect server holds other projects' runs)
    with caplog.at_level(logging.ERROR, logger="hopflow.mirror"), tags("hopflow"):
        assert probe(marker) == marker + 1
    assert "run log mirror: write the run log (RUNNING) failed" in caplog.text
    assert "run log mirror: write the run log (COMPLETED) failed" in caplog.text

    monkeypatch.setenv("HOPFLOW_DATABASE_URL", hopflow_env)
    reset_settings()
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AgentRunLog)) == 0
    report = sync_run_logs(since=started, flow_names=["mirror-probe"])
    assert report.runs >= 1
    with session_scope() as session:
        rows = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.flow_name == "mirror-probe")).all()
        ours = [r for r in rows if r.input_params_snapshot == {"x": marker}]
    assert len(ours) == 1 and ours[0].status == RunStatus.SUCCESS and ours[0].end_time is not None


def test_cancellation_hook_records_the_cancellation_and_sync_takes_prefects_end(hopflow_env: str) -> None:
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(probe, parameters={"x": 7})
        client.set_flow_run_state(flow_run.id, Running(), force=True)
        client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
        flow_run = client.read_flow_run(flow_run.id)
    assert flow_run.state is not None and flow_run.state.is_cancelling()
    # What Prefect calls in the serving process when a run is cancelled from the UI (with CANCELLING).
    mirror_on_cancellation(probe, flow_run, flow_run.state)
    row = row_of(str(flow_run.id))
    assert (row.status, row.prefect_state) == (RunStatus.CANCELLED, "CANCELLED")
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Cancelled(), force=True)
        ended = client.read_flow_run(flow_run.id).end_time
    sync_run_logs(since=datetime.now(UTC) - timedelta(minutes=5), flow_names=["mirror-probe"])
    row = row_of(str(flow_run.id))
    assert row.status == RunStatus.CANCELLED and row.end_time == ended


def test_sync_pages_through_runs_and_a_second_sync_changes_nothing(hopflow_env: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    # A flow of its own: the Prefect server outlives this test, and the other backend's run of it.
    name = f"mirror-paging-{uuid.uuid4().hex[:8]}"
    paging_flow = flow(name=name)(lambda: None)
    with get_client(sync_client=True) as client:
        ids = []
        for i in range(5):
            fr = client.create_flow_run(paging_flow, parameters={}, tags=["hopflow"])
            client.set_flow_run_state(fr.id, Running(), force=True)
            final = Completed() if i % 2 == 0 else Failed(message=f"failure {i}")
            client.set_flow_run_state(fr.id, final, force=True)
            ids.append(str(fr.id))
    report = sync_run_logs(since=since, flow_names=[name], page_size=2, export_logs=False)
    assert report.pages == 3 and report.runs == 5
    with session_scope() as session:
        rows = {
            r.run_id: r for r in session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id.in_(ids)))
        }
        before = {k: columns(r) for k, r in rows.items()}
        events = session.scalar(sa.select(sa.func.count()).select_from(Event))
    assert [rows[i].status for i in ids] == [RunStatus.SUCCESS, RunStatus.ERROR] * 2 + [RunStatus.SUCCESS]
    assert rows[ids[1]].error_message == "failure 1" and rows[ids[1]].trigger_type == TriggerType.MANUAL
    sync_run_logs(since=since, flow_names=[name], page_size=2, export_logs=False)
    with session_scope() as session:
        after = {
            r.run_id: columns(r)
            for r in session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id.in_(ids)))
        }
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events
    assert after == before


def test_the_reconciler_watermark_moves_and_bounds_the_next_read(hopflow_env: str) -> None:
    mission_id = store(llm_spec())
    run_mission(mission_id)
    first = sync_run_logs(flow_names=["mission"])
    assert first.watermark is not None
    assert first.watermark <= datetime.now(UTC) - timedelta(seconds=59)
    second = sync_run_logs(flow_names=["mission"])
    assert second.since == first.watermark
    # only runs that started or ended after the watermark (or are still open) are read again
    assert second.runs <= first.runs


def test_reconciler_deployment_is_an_interval_schedule_with_one_run_at_a_time() -> None:
    deployment = reconciler_deployment(interval_seconds=30)
    assert deployment.name == "sync-run-logs" and deployment.flow_name == "sync-run-logs"
    assert deployment.schedules and deployment.schedules[0].schedule.interval == timedelta(seconds=30)
    assert deployment.concurrency_limit == 1
    assert deployment.entrypoint == "hopflow.flows.reconciler.sync_run_logs"  # a worker imports it by module


def test_crash_automation_is_created_once_and_kept_up_to_date(prefect_api: str) -> None:
    with get_client(sync_client=True) as client:
        for old in client.read_automations_by_name(CRASH_AUTOMATION_NAME):
            client.delete_automation(old.id)
    try:
        ensure_crash_automation()
        ensure_crash_automation()
        with get_client(sync_client=True) as client:
            found = client.read_automations_by_name(CRASH_AUTOMATION_NAME)
            assert len(found) == 1
            trigger = found[0].trigger
            assert trigger.posture == "Proactive" and trigger.within == crash_automation_within()
            assert trigger.after == {"prefect.flow-run.heartbeat"}
            assert "prefect.flow-run.Completed" in trigger.expect and trigger.for_each == {
                "prefect.resource.id"
            }
            assert found[0].actions[0].type == "change-flow-run-state"
            assert found[0].actions[0].state.value == "CRASHED"
            # someone disabled it: ensure turns it back on, still one automation
            client.pause_automation(found[0].id)
        ensure_crash_automation()
        with get_client(sync_client=True) as client:
            found = client.read_automations_by_name(CRASH_AUTOMATION_NAME)
            assert len(found) == 1 and found[0].enabled
    finally:
        with get_client(sync_client=True) as client:
            for old in client.read_automations_by_name(CRASH_AUTOMATION_NAME):
                client.delete_automation(old.id)


# --- the "done when" ------------------------------------------------------------------------------
def agent_configuration() -> str:
    from hopflow.tasks.agents import configure_agent, register_blueprints

    register_blueprints([ROOT / "examples" / "agents" / "sales_sentinel.yaml"])
    config = configure_agent(
        "agent_003", "acme-shop", values_path=ROOT / "examples" / "agents" / "sales_sentinel.values.yaml"
    )
    return config.id


def sleeping_spec() -> dict[str, Any]:
    return {
        "name": "killable",
        "inputs": [{"name": "seed", "type": "text", "content": "x"}],
        "hops": [
            {
                "name": "slow",
                "steps": [
                    step("noop.echo", {"value": {"asset": "seed"}}, {"value": {"asset": "a"}}),
                    step(
                        "noop.sleep",
                        {"seconds": {"literal": "${env.HOPFLOW_TEST_SLEEP}"}},
                        {"slept_seconds": {"asset": "slept"}},
                    ),
                ],
            }
        ],
    }


def start_and_sigkill(
    tmp_path: Path, prefect_api: str, before_kill: Callable[[str], None] | None = None
) -> str:
    """Run a mission in another process, SIGKILL it mid-step (after `before_kill(flow run id)`, if
    given); returns its flow run id."""

    def with_run_id() -> None:
        if before_kill is not None:
            with session_scope() as session:
                run_id = session.scalars(
                    sa.select(Mission.flow_run_id).where(Mission.name == "killable")
                ).one()
            assert run_id is not None
            before_kill(run_id)

    env = {"PREFECT_API_URL": prefect_api, "HOPFLOW_TEST_SLEEP": "120"}
    run_and_sigkill_mid_step(sleeping_spec(), tmp_path, env, with_run_id)
    with session_scope() as session:
        mission = session.scalars(sa.select(Mission).where(Mission.name == "killable")).one()
        assert mission.flow_run_id is not None
        return mission.flow_run_id


@pytest.mark.slow
def test_sync_leaves_one_correct_row_for_mission_agent_failing_cancelled_and_sigkilled_runs(
    hopflow_env: str, tmp_path: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    monkeypatch.setenv("SHOP_TOKEN", "tok-" + uuid.uuid4().hex)
    # 1. a mission
    ok_mission = store(llm_spec())
    run_mission(ok_mission)
    ok_run = flow_run_of(ok_mission)
    # 2. an agent run, with a directive whose snapshot must land on the run
    from hopflow.flows.agent_run import agent_run_flow

    config_id = agent_configuration()
    with session_scope() as session:
        create_directive(session, config_id, "Watch refunds closely.")
    outcome = agent_run_flow(config_id, "api", {"order": {"id": 1, "total": 300}})
    agent_run = outcome.run_id
    # 3. a failing run
    bad_mission = store(failing_spec())
    with pytest.raises(Exception, match="disk on fire"):
        run_mission(bad_mission)
    bad_run = flow_run_of(bad_mission)
    # 4. a run cancelled through the API before any process picked it up
    never_mission = store(llm_spec("never"))
    with get_client(sync_client=True) as client:
        cancelled = client.create_flow_run(mission_flow, parameters={"mission_id": never_mission})
        client.set_flow_run_state(cancelled.id, Cancelled(message="cancelled from the UI"), force=True)
    cancelled_run = str(cancelled.id)
    # 5. a SIGKILLed run: its hook wrote RUNNING, and nothing else will
    killed_run = start_and_sigkill(tmp_path, prefect_api)
    assert row_of(killed_run).status == RunStatus.RUNNING

    # What the hooks missed (a database down during the mission, say) is rebuilt from Prefect.
    with session_scope() as session:
        session.execute(sa.delete(AgentRunLog).where(AgentRunLog.run_id == ok_run))

    result = runner.invoke(app, ["runs", "sync", "--since", started.isoformat(), "--stale-after", "0"])
    assert result.exit_code == 0, result.output
    assert "synced" in result.output

    ok = row_of(ok_run)
    assert (ok.status, ok.prefect_state, ok.mission_id, ok.step_count) == (
        RunStatus.SUCCESS,
        "COMPLETED",
        ok_mission,
        2,
    )
    assert ok.prompt_tokens > 0 and ok.output_preview and ok.end_time and ok.duration_ms > 0
    assert ok.logs_ref and "Beginning flow run" in Path(ok.logs_ref).read_text()

    agent = row_of(agent_run)
    assert (agent.status, agent.flow_name, agent.trigger_type) == (
        RunStatus.SUCCESS,
        "agent-run",
        TriggerType.API,
    )
    assert agent.agent_configuration_id == config_id
    assert (
        agent.directive_snapshot is not None and agent.directive_snapshot["text"] == "Watch refunds closely."
    )
    assert agent.window_end is not None and agent.end_time is not None
    assert agent.prompt_tokens > 0  # the tokens of its mission subflow
    with session_scope() as session:
        config = session.get(AgentConfiguration, config_id)
        assert config is not None and config.last_run_id == agent_run
        assert config.last_run_status is not None and config.last_run_status.value == "success"
        child = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.parent_run_id == agent_run)).one()
        assert child.flow_name == "mission" and child.mission_id == agent.mission_id

    bad = row_of(bad_run)
    assert (bad.status, bad.prefect_state) == (RunStatus.ERROR, "FAILED")
    assert bad.error_message and "disk on fire" in bad.error_message

    never = row_of(cancelled_run)
    assert (never.status, never.prefect_state, never.mission_id) == (
        RunStatus.CANCELLED,
        "CANCELLED",
        never_mission,
    )
    assert never.end_time is not None and never.error_message == "cancelled from the UI"

    killed = row_of(killed_run)
    assert (killed.status, killed.prefect_state) == (RunStatus.ERROR, "CRASHED")
    assert killed.end_time is not None and "no heartbeat" in (killed.error_message or "")

    # A second sync changes no row (but exports the logs of a run whose lines arrived since).
    ids = [ok_run, agent_run, bad_run, cancelled_run, killed_run]
    before = {r: {**columns(row_of(r)), "logs_ref": None} for r in ids}
    result = runner.invoke(app, ["runs", "sync", "--since", started.isoformat()])
    assert result.exit_code == 0, result.output
    assert {r: {**columns(row_of(r)), "logs_ref": None} for r in ids} == before

    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    for run_id in (ok_run, agent_run, bad_run, cancelled_run, killed_run):
        with session_scope() as session:
            artifacts = session.scalars(sa.select(RunArtifact).where(RunArtifact.run_id == run_id)).all()
        with get_client(sync_client=True) as client:
            wanted = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(run_id)]))
            logged = client.read_logs(log_filter=wanted)
        if not logged:
            # No line reached the API (cancelled before it ran; a SIGKILL that lost its buffered lines):
            # an empty file is not its log, so there is none (a later sync exports lines that arrive).
            assert artifacts == [] and row_of(run_id).logs_ref is None
            continue
        assert [a.kind for a in artifacts] == [RunArtifactKind.LOG]
        assert row_of(run_id).logs_ref == artifacts[0].path
        assert Path(artifacts[0].path).stat().st_size == artifacts[0].size_bytes > 0
    assert row_of(ok_run).logs_ref  # a run that ran has its log


def test_next_runs_window_starts_at_the_last_successful_runs_end(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hopflow.flows.agent_run import agent_run_flow

    monkeypatch.setenv("SHOP_TOKEN", "tok-" + uuid.uuid4().hex)
    config_id = agent_configuration()
    first = agent_run_flow(config_id, "api", {"order": {"id": 1, "total": 5}}).run_id
    second = agent_run_flow(config_id, "api", {"order": {"id": 2, "total": 5}}).run_id
    first_row, second_row = row_of(first), row_of(second)
    assert first_row.window_start is None
    assert first_row.status == RunStatus.SUCCESS and first_row.end_time is not None
    assert second_row.window_start == first_row.end_time


def wait_for_heartbeat(run_id: str, timeout: float = 300.0) -> None:
    """Until Prefect's server has stored a heartbeat of the flow run: the event the crash automation
    starts counting from. Killing the process sooner (its events worker had not sent the first beat
    yet) left the automation nothing to count from, and the run RUNNING for ever."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            beats = client.read_events(
                EventFilter(
                    event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
                    resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
                ),
                limit=1,
            )
            if beats.events:
                return
            time.sleep(0.5)
    raise AssertionError(f"no heartbeat of flow run {run_id} reached the server within {timeout:.0f} s")


FOREIGN_FLOW = """
import sys, time
from pathlib import Path
from prefect import flow
from prefect.runtime import flow_run

@flow(name="nightly-etl")  # someone else's flow on the same Prefect server
def nightly_etl() -> None:
    Path(sys.argv[1]).write_text(str(flow_run.id))
    time.sleep(600)

nightly_etl()
"""


def start_and_sigkill_foreign_flow(tmp_path: Path, prefect_api: str) -> str:
    """A non-hopflow flow in another process, SIGKILLed once the server has its heartbeat."""
    script, out, id_file = tmp_path / "nightly_etl.py", tmp_path / "nightly_etl.out", tmp_path / "etl.id"
    script.write_text(FOREIGN_FLOW)
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(id_file)], cwd=tmp_path, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        run_id = ""
        while not run_id and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            text = id_file.read_text().strip() if id_file.exists() else ""
            run_id = text if len(text) == 36 else ""  # a whole UUID, not a write caught halfway
            time.sleep(0.2)
        assert run_id, "the foreign flow never started"
        wait_for_heartbeat(run_id)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    return run_id


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # ~2 min of waiting: once is enough
def test_crash_automation_marks_a_sigkilled_run_crashed_and_sync_mirrors_it(
    hopflow_env: str, tmp_path: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # The serving process and the flow's process beat every 30 s (the minimum), as `hopflow serve` sets.
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        assert crash_automation_within() == timedelta(seconds=90)
        ensure_crash_automation()
    try:
        started = datetime.now(UTC) - timedelta(seconds=5)
        # Killed first: were the automation to cover it, its window would run out before the mission's.
        foreign_run = start_and_sigkill_foreign_flow(tmp_path, prefect_api)
        # Killed only once a heartbeat is on the server (what the automation counts from), not after
        # a fixed time: on a loaded machine the first beat can leave the process late.
        killed_run = start_and_sigkill(tmp_path, prefect_api, before_kill=wait_for_heartbeat)
        # Prefect, not hopflow, notices: the automation fires once 90 s pass without a heartbeat. The
        # deadline is only a backstop for a broken automation; the test waits on the state.
        deadline = time.monotonic() + 600
        state = None
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                flow_run = client.read_flow_run(uuid.UUID(killed_run))
                state = flow_run.state.type.value if flow_run.state else None
                if state == "CRASHED":
                    break
                time.sleep(2)
            assert state == "CRASHED"
            # someone else's flow is left alone, though its heartbeats stopped earlier
            foreign = client.read_flow_run(uuid.UUID(foreign_run))
            assert foreign.state is not None and foreign.state.type.value == "RUNNING"
        sync_run_logs(since=started, flow_names=["mission"])
        row = row_of(killed_run)
        assert (row.status, row.prefect_state) == (RunStatus.ERROR, "CRASHED")
        assert row.end_time is not None and "no heartbeat" in (row.error_message or "")
    finally:
        with get_client(sync_client=True) as client:
            for old in client.read_automations_by_name(CRASH_AUTOMATION_NAME):
                client.delete_automation(old.id)


def test_run_report_is_published_as_a_prefect_table_artifact(hopflow_env: str) -> None:
    from hopflow.flows.runs_report import runs_report

    from tests.deployments.test_runs_commands import seed_runs

    seed_runs()
    result = runner.invoke(app, ["runs", "report", "--since", "7d", "--by", "agent", "--artifact"])
    assert result.exit_code == 0, result.output
    assert "published Prefect table artifact runs-report-agent" in result.output
    artifact_id = runs_report(since=datetime.now(UTC) - timedelta(days=7), by="model")
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    def rows_of(artifact: Any) -> list[dict[str, Any]]:
        return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data

    with get_client(sync_client=True) as client:
        (by_model,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[uuid.UUID(artifact_id)]))
        )
        by_agent = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["runs-report-agent"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )[0]
    assert by_model.type == "table" and by_model.key == "runs-report-model"
    assert [(r["group"], r["prompt_tokens"]) for r in rows_of(by_model)] == [("gpt-a", 10), ("gpt-b", 20)]
    assert [(r["group"], r["runs"]) for r in rows_of(by_agent)] == [("shop-a", 3), ("shop-b", 2)]
