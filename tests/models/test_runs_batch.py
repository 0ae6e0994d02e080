"""The batch run-log writer obeys the same merge rule as upsert_run_log; watermarks, directives and
the since-last-successful-run window, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hopflow.models.access.directives import create_directive, read_current_directive
from hopflow.models.access.runs import (
    RunLogUpdate,
    last_successful_run,
    read_watermark,
    since_last_successful_run,
    upsert_run_log,
    upsert_run_logs,
    write_watermark,
)
from hopflow.models.db import session_scope
from hopflow.models.enums import RunStatus, can_transition
from hopflow.models.orm import AgentConfiguration, AgentDefinition, AgentRunLog, Event
from sqlalchemy.orm import Session

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rid() -> str:
    return str(uuid.uuid4())


def configuration(session: Session, name: str = "shop-a") -> AgentConfiguration:
    definition = session.get(AgentDefinition, "agent_001") or AgentDefinition(
        id="agent_001", name="EmailWizard", version="0.1"
    )
    session.add(definition)
    config = AgentConfiguration(name=name, agent_definition_id=definition.id)
    session.add(config)
    session.flush()
    return config


def test_batch_never_undoes_a_terminal_status_and_never_erases(session: Session) -> None:
    done, running = rid(), rid()
    upsert_run_log(
        session,
        done,
        prefect_state="COMPLETED",
        start_time=T0,
        end_time=T0 + timedelta(seconds=2),
        output_preview="kept",
        step_count=3,
    )
    rows = upsert_run_logs(
        session,
        [
            RunLogUpdate(done, prefect_state="RUNNING", start_time=T0, fields={"output_preview": None}),
            RunLogUpdate(running, prefect_state="RUNNING", start_time=T0 + timedelta(seconds=1)),
        ],
    )
    session.commit()
    assert (rows[done].status, rows[done].prefect_state) == (RunStatus.SUCCESS, "COMPLETED")
    assert (rows[done].output_preview, rows[done].step_count, rows[done].duration_ms) == ("kept", 3, 2000)
    assert rows[running].status == RunStatus.RUNNING and rows[running].end_time is None


def test_run_log_moves_follow_the_declared_run_status_machine(session: Session) -> None:
    """A flow retry goes back to pending, a late running never reopens a finished run, and Prefect's
    final word corrects a final status a hook wrote first; each change is an event."""
    run = rid()
    seen = []
    for state in ("RUNNING", "SCHEDULED", "RUNNING", "CANCELLED", "RUNNING", "COMPLETED", "PENDING"):
        seen.append(upsert_run_log(session, run, prefect_state=state).status)
    assert seen == [
        RunStatus.RUNNING, RunStatus.PENDING, RunStatus.RUNNING, RunStatus.CANCELLED,
        RunStatus.CANCELLED, RunStatus.SUCCESS, RunStatus.SUCCESS,
    ]  # fmt: skip
    for current, target in itertools.pairwise(seen):
        assert current == target or can_transition(current, target)
    changes = session.scalars(
        sa.select(Event).where(Event.subject_id == run, Event.action == "status_changed")
    ).all()
    assert len(changes) == 5  # pending->running, ->pending, ->running, ->cancelled, ->success


def test_batch_applies_updates_of_one_run_in_order_and_records_each_status_change(session: Session) -> None:
    run = rid()
    upsert_run_logs(
        session,
        [
            RunLogUpdate(run, prefect_state="RUNNING", start_time=T0),
            RunLogUpdate(
                run,
                prefect_state="CRASHED",
                end_time=T0 + timedelta(seconds=5),
                fields={"error_message": "gone"},
            ),
            RunLogUpdate(run, prefect_state="RUNNING"),
        ],
    )
    session.commit()
    row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run)).one()
    assert (row.status, row.prefect_state, row.error_message) == (RunStatus.ERROR, "CRASHED", "gone")
    assert row.duration_ms == 5000
    moves = [
        e.after["status"]  # type: ignore[index]
        for e in session.scalars(sa.select(Event).where(Event.subject_id == run).order_by(Event.created_at))
    ]
    assert moves == ["running", "error"]


def test_defaults_fill_only_empty_values(session: Session) -> None:
    run = rid()
    upsert_run_log(session, run, input_params_snapshot={"effective": "config"})
    fresh = rid()
    rows = upsert_run_logs(
        session,
        [
            RunLogUpdate(run, defaults={"input_params_snapshot": {"mission_id": "x"}}),
            RunLogUpdate(fresh, defaults={"input_params_snapshot": {"mission_id": "y"}}),
        ],
    )
    assert rows[run].input_params_snapshot == {"effective": "config"}
    assert rows[fresh].input_params_snapshot == {"mission_id": "y"}


def test_batch_rejects_unknown_fields(session: Session) -> None:
    with pytest.raises(TypeError, match="unknown run log field"):
        upsert_run_logs(session, [RunLogUpdate(rid(), fields={"statuz": "x"})])


def test_rerunning_a_batch_changes_nothing(session: Session) -> None:
    updates = [
        RunLogUpdate(
            rid(),
            prefect_state="COMPLETED",
            start_time=T0,
            end_time=T0 + timedelta(seconds=i),
            fields={"step_count": i, "output_preview": f"out {i}"},
        )
        for i in range(5)
    ]
    upsert_run_logs(session, updates)
    session.commit()
    before = {
        r.run_id: (r.updated_at, r.status, r.duration_ms) for r in session.scalars(sa.select(AgentRunLog))
    }
    events = session.scalar(sa.select(sa.func.count()).select_from(Event))
    upsert_run_logs(session, updates)
    session.commit()
    after = {
        r.run_id: (r.updated_at, r.status, r.duration_ms) for r in session.scalars(sa.select(AgentRunLog))
    }
    assert after == before
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events


def test_hook_and_reconciler_racing_leave_one_correct_row_each(db_url: str) -> None:
    run_ids = [rid() for _ in range(40)]
    errors: list[BaseException] = []

    def reconciler(state: str) -> None:
        try:
            with session_scope(db_url) as s:
                upsert_run_logs(s, [RunLogUpdate(r, prefect_state=state, start_time=T0) for r in run_ids])
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    def hook(run_id: str) -> None:
        try:
            with session_scope(db_url) as s:
                upsert_run_log(
                    s,
                    run_id,
                    prefect_state="COMPLETED",
                    start_time=T0,
                    end_time=T0 + timedelta(seconds=1),
                    step_count=2,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reconciler, args=("RUNNING",)) for _ in range(3)]
    threads += [threading.Thread(target=hook, args=(r,)) for r in run_ids[::3]]
    threads += [threading.Thread(target=reconciler, args=("RUNNING",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(db_url) as s:
        rows = {r.run_id: r for r in s.scalars(sa.select(AgentRunLog))}
    assert sorted(rows) == sorted(run_ids)
    for run_id, row in rows.items():
        if run_id in run_ids[::3]:
            assert (row.status, row.step_count, row.duration_ms) == (RunStatus.SUCCESS, 2, 1000)
        else:
            assert row.status == RunStatus.RUNNING


def test_watermark_never_moves_backwards(session: Session) -> None:
    assert read_watermark(session, "w") is None
    write_watermark(session, "w", T0)
    write_watermark(session, "w", T0 - timedelta(hours=1))
    assert read_watermark(session, "w") == T0
    write_watermark(session, "w", T0 + timedelta(minutes=1))
    assert read_watermark(session, "w") == T0 + timedelta(minutes=1)


def test_directives_get_versions_and_the_current_one_is_the_newest(session: Session) -> None:
    config = configuration(session)
    assert read_current_directive(session, config.id) is None
    first = create_directive(session, config.id, "Summarise orders.")
    second = create_directive(session, config.id, "Summarise orders, briefly.", name="brief")
    other = create_directive(session, configuration(session, "shop-b").id, "Other.")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    current = read_current_directive(session, config.id)
    assert current is not None and current.id == second.id
    with pytest.raises(LookupError, match="no agent configuration"):
        create_directive(session, "missing", "x")


def test_window_starts_at_the_last_successful_runs_end(session: Session) -> None:
    config = configuration(session)
    other = configuration(session, "shop-b")

    def run(state: str, config_id: str, ended: datetime | None) -> None:
        upsert_run_log(
            session,
            rid(),
            prefect_state=state,
            start_time=T0,
            end_time=ended,
            agent_configuration_id=config_id,
        )

    now = T0 + timedelta(days=1)
    assert since_last_successful_run(session, config.id, now=now) == (None, now)
    run("COMPLETED", config.id, T0 + timedelta(hours=1))
    run("COMPLETED", config.id, T0 + timedelta(hours=3))  # the last success
    run("FAILED", config.id, T0 + timedelta(hours=5))  # later, but not a success
    run("CANCELLED", config.id, T0 + timedelta(hours=6))
    run("RUNNING", config.id, None)
    run("COMPLETED", other.id, T0 + timedelta(hours=9))  # another configuration
    last = last_successful_run(session, config.id)
    assert last is not None and last.end_time == T0 + timedelta(hours=3)
    assert since_last_successful_run(session, config.id, now=now) == (T0 + timedelta(hours=3), now)
