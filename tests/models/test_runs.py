"""The run log merge: racing writers leave one correct row; terminal states are never undone."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hopflow.models.access.runs import upsert_run_log
from hopflow.models.db import session_scope
from hopflow.models.enums import RunStatus
from hopflow.models.orm import AgentRunLog
from sqlalchemy.orm import Session

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_late_running_does_not_undo_a_terminal_status(session: Session) -> None:
    run_id = str(uuid.uuid4())
    end = T0 + timedelta(seconds=3)
    upsert_run_log(session, run_id, prefect_state="COMPLETED", start_time=T0, end_time=end)
    row = upsert_run_log(session, run_id, prefect_state="RUNNING", start_time=T0, output_preview="hi")
    session.commit()
    assert row.status == RunStatus.SUCCESS and row.prefect_state == "COMPLETED"
    assert row.duration_ms == 3000
    assert row.output_preview == "hi"


def test_unknown_value_never_erases_a_known_one(session: Session) -> None:
    run_id = str(uuid.uuid4())
    upsert_run_log(session, run_id, prefect_state="RUNNING", error_message=None, step_count=3)
    row = upsert_run_log(session, run_id, prefect_state="FAILED", error_message="boom")
    row = upsert_run_log(session, run_id, step_count=None, error_message=None)
    session.commit()
    assert (row.status, row.error_message, row.step_count) == (RunStatus.ERROR, "boom", 3)


def test_concurrent_writers_leave_one_row(db_url: str) -> None:
    run_id = str(uuid.uuid4())
    errors: list[BaseException] = []

    def writer(state: str) -> None:
        try:
            with session_scope(db_url) as s:
                upsert_run_log(s, run_id, prefect_state=state, start_time=T0)
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(st,)) for st in ["RUNNING", "COMPLETED"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(db_url) as s:
        rows = s.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).all()
        assert len(rows) == 1 and rows[0].status == RunStatus.SUCCESS


def test_last_successful_run_ignores_a_mission_subflow_inside_a_failed_agent_run(session: Session) -> None:
    from hopflow.models.access.runs import last_successful_run
    from hopflow.models.orm import AgentConfiguration, AgentDefinition

    session.add(AgentDefinition(id="agent_x", name="X", version="1.0.0"))
    config = AgentConfiguration(name="x-1", agent_definition_id="agent_x")
    session.add(config)
    session.flush()
    ok_run, failed_run, inner_mission = (str(uuid.uuid4()) for _ in range(3))
    upsert_run_log(
        session,
        ok_run,
        prefect_state="COMPLETED",
        flow_name="agent-run",
        agent_configuration_id=config.id,
        start_time=T0,
        end_time=T0 + timedelta(minutes=1),
    )
    upsert_run_log(
        session,
        failed_run,
        prefect_state="FAILED",
        flow_name="agent-run",
        agent_configuration_id=config.id,
        start_time=T0 + timedelta(hours=1),
        end_time=T0 + timedelta(hours=1, minutes=5),
    )
    upsert_run_log(
        session,
        inner_mission,
        prefect_state="COMPLETED",
        flow_name="mission",
        parent_run_id=failed_run,
        agent_configuration_id=config.id,
        start_time=T0 + timedelta(hours=1),
        end_time=T0 + timedelta(hours=1, minutes=4),
    )
    session.commit()
    last = last_successful_run(session, config.id)
    assert last is not None and last.run_id == ok_run


def test_a_late_mirror_of_a_running_state_does_not_take_back_the_runs_recorded_outcome(
    session: Session,
) -> None:
    from hopflow.models.access.agents import record_configuration_run
    from hopflow.models.access.runs import update_configuration_last_run
    from hopflow.models.enums import LastRunStatus
    from hopflow.models.orm import AgentConfiguration, AgentDefinition

    session.add(AgentDefinition(id="agent_late", name="Late", version="1.0.0"))
    config = AgentConfiguration(name="late-1", agent_definition_id="agent_late")
    session.add(config)
    session.flush()
    run, newer = str(uuid.uuid4()), str(uuid.uuid4())
    fields = {"flow_name": "agent-run", "agent_configuration_id": config.id}
    # The run's RUNNING is mirrored; then the flow's last unit of work records its success.
    running = upsert_run_log(session, run, prefect_state="RUNNING", start_time=T0, **fields)
    update_configuration_last_run(session, running)
    assert config.last_run_status == LastRunStatus.RUNNING
    record_configuration_run(
        session, config.id, run_id=run, status=LastRunStatus.SUCCESS, started_at=T0, output_preview="done"
    )
    # A reconciler that read Prefect while the run was still running writes after that success.
    assert running.status == RunStatus.RUNNING
    update_configuration_last_run(session, running)
    session.commit()
    assert (config.last_run_id, config.last_run_status) == (run, LastRunStatus.SUCCESS)
    assert config.last_run_output_preview == "done"
    # Another terminal state of the same run still corrects it: Prefect later reports it crashed.
    crashed = upsert_run_log(session, run, prefect_state="CRASHED", end_time=T0 + timedelta(seconds=5))
    update_configuration_last_run(session, crashed)
    assert config.last_run_status == LastRunStatus.ERROR
    # A run that started later is the configuration's last run from its first state on.
    later = upsert_run_log(
        session, newer, prefect_state="RUNNING", start_time=T0 + timedelta(minutes=5), **fields
    )
    update_configuration_last_run(session, later)
    session.commit()
    assert (config.last_run_id, config.last_run_status) == (newer, LastRunStatus.RUNNING)
