"""The run log: one AgentRunLog per Prefect flow run, written by state hooks, flows and the reconciler.

Writers race (a hook and the reconciler can see the same run at once), so every write is an
insert-if-missing followed by a locked merge: a terminal status is never replaced by a
non-terminal one, and a known value is never replaced by nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.access.status import record_event
from models.enums import LastRunStatus, RunStatus, TriggerType, is_terminal
from models.orm import AgentConfiguration, AgentRunLog, utcnow
from models.orm.base import new_id

# Prefect state type -> AgentRunLog.status (seed 001's five values).
PREFECT_TO_RUN_STATUS: dict[str, RunStatus] = {
    "SCHEDULED": RunStatus.PENDING,
    "PENDING": RunStatus.PENDING,
    "PAUSED": RunStatus.PENDING,
    "RUNNING": RunStatus.RUNNING,
    "CANCELLING": RunStatus.RUNNING,
    "COMPLETED": RunStatus.SUCCESS,
    "FAILED": RunStatus.ERROR,
    "CRASHED": RunStatus.ERROR,
    "CANCELLED": RunStatus.CANCELLED,
}

# Columns a writer may set; status, prefect_state and times have merge rules of their own.
MERGEABLE = frozenset(
    {
        "flow_name", "deployment_id", "agent_configuration_id", "agent_entity_id", "mission_id",
        "parent_run_id", "triggered_by_user_id", "trigger_type", "input_params_snapshot", "output_preview",
        "full_output_ref",
        "error_message", "logs_ref", "cycle_number", "inbox_event_count", "step_count", "prompt_tokens",
        "completion_tokens", "directive_id", "directive_snapshot", "window_start", "window_end",
    }
)  # fmt: skip


def run_status_for(prefect_state_type: str) -> RunStatus:
    try:
        return PREFECT_TO_RUN_STATUS[prefect_state_type.upper()]
    except KeyError:
        raise ValueError(f"unknown Prefect state type {prefect_state_type!r}") from None


def _insert_missing(session: Session, run_id: str) -> None:
    values = {"id": new_id(), "run_id": run_id, "status": RunStatus.PENDING.value,
              "trigger_type": TriggerType.MANUAL.value, "duration_ms": 0, "cycle_number": 0,
              "inbox_event_count": 0, "step_count": 0, "prompt_tokens": 0, "completion_tokens": 0,
              "created_at": utcnow(), "updated_at": utcnow()}  # fmt: skip
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AgentRunLog.__table__).values(**values).on_conflict_do_nothing(index_elements=["run_id"])
    session.execute(stmt)


def upsert_run_log(
    session: Session,
    run_id: str,
    *,
    prefect_state: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    **fields: Any,
) -> AgentRunLog:
    """Create or merge the run log row of flow run `run_id`; returns it (locked on PostgreSQL).

    `prefect_state` is a Prefect state type (RUNNING, COMPLETED, CRASHED, ...): it sets `status`
    unless the row already holds a terminal status and this one is not terminal.
    """
    unknown = set(fields) - MERGEABLE
    if unknown:
        raise TypeError(f"upsert_run_log: unknown run log field(s): {', '.join(sorted(unknown))}")
    _insert_missing(session, run_id)
    row = session.scalars(
        sa.select(AgentRunLog)
        .where(AgentRunLog.run_id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if prefect_state is not None:
        new_status = run_status_for(prefect_state)
        current = row.status
        if not (is_terminal(current) and not is_terminal(new_status)):
            if current != new_status:
                record_event(
                    session, action="status_changed", subject_type="agent_run_logs", subject_id=row.run_id,
                    before={"status": current.value, "prefect_state": row.prefect_state},
                    after={"status": new_status.value, "prefect_state": prefect_state.upper()},
                )  # fmt: skip
            row.status = new_status
            row.prefect_state = prefect_state.upper()
    if start_time is not None and (row.start_time is None or start_time < row.start_time):
        row.start_time = start_time
    if end_time is not None and is_terminal(row.status):
        row.end_time = end_time
    if row.start_time is not None and row.end_time is not None:
        row.duration_ms = max(0, int((row.end_time - row.start_time).total_seconds() * 1000))
    for name, value in fields.items():
        if value is None:
            continue  # a writer that does not know a value never erases one another wrote
        setattr(row, name, value)
    session.flush()
    return row


def update_configuration_last_run(session: Session, row: AgentRunLog) -> None:
    """Mirror a run onto its configuration's last_run_* fields, unless a newer run is already there."""
    if row.agent_configuration_id is None:
        return
    config = session.get(AgentConfiguration, row.agent_configuration_id, with_for_update=True)
    if config is None:
        return
    started = row.start_time or row.created_at
    if (
        config.last_run_id not in (None, row.run_id)
        and config.last_run_at is not None
        and started < config.last_run_at
    ):
        return
    config.last_run_id = row.run_id
    config.last_run_at = started
    config.last_run_status = LastRunStatus(row.status.value)
    if row.output_preview is not None:
        config.last_run_output_preview = row.output_preview
    if row.full_output_ref is not None:
        config.last_run_full_output_ref = row.full_output_ref


def last_successful_run(session: Session, agent_configuration_id: str) -> AgentRunLog | None:
    """Seed 002's "since last successful run": served by ix_agent_run_logs_since_success."""
    return session.scalars(
        sa.select(AgentRunLog)
        .where(
            AgentRunLog.agent_configuration_id == agent_configuration_id,
            AgentRunLog.status == RunStatus.SUCCESS,
        )
        .order_by(AgentRunLog.end_time.desc())
        .limit(1)
    ).first()
