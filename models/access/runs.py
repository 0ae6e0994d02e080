"""The run log: one AgentRunLog per Prefect flow run, written by state hooks, flows and the reconciler.

Writers race (a hook and the reconciler can see the same run at once), so every write is an
insert-if-missing followed by a locked merge: a terminal status is never replaced by a
non-terminal one, and a known value is never replaced by nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from hopflow.models.access.agents import record_configuration_run
from hopflow.models.access.status import record_event
from hopflow.models.enums import (
    LastRunStatus,
    RunArtifactKind,
    RunStatus,
    TriggerType,
    can_transition,
    is_terminal,
)
from hopflow.models.orm import (
    AgentConfiguration,
    AgentRunLog,
    Event,
    LLMCall,
    Mission,
    RunArtifact,
    SyncWatermark,
    utcnow,
)
from hopflow.models.orm.base import new_id
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_RUN_LOGS = cast(sa.Table, AgentRunLog.__table__)

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
        "trigger_payload", "model_tier", "model_reason", "stop_reason", "living_config_version",
    }
)  # fmt: skip


def run_status_for(prefect_state_type: str) -> RunStatus:
    try:
        return PREFECT_TO_RUN_STATUS[prefect_state_type.upper()]
    except KeyError:
        raise ValueError(f"unknown Prefect state type {prefect_state_type!r}") from None


def _insert_missing(session: Session, run_ids: Sequence[str]) -> None:
    """Insert a pending row for each run id that has none; an existing row is left alone. Ids go in
    sorted so concurrent batch writers take the unique index's locks in one order."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_RUN_LOGS).on_conflict_do_nothing(index_elements=["run_id"])
    # One statement with a list of parameter sets: compiled once (cached), run as an executemany.
    session.execute(
        stmt,
        [
            {"id": new_id(), "run_id": run_id, "status": RunStatus.PENDING.value,
             "trigger_type": TriggerType.MANUAL.value, "duration_ms": 0, "cycle_number": 0,
             "inbox_event_count": 0, "step_count": 0, "prompt_tokens": 0, "completion_tokens": 0,
             "created_at": now, "updated_at": now}
            for run_id in sorted(set(run_ids))
        ],
    )  # fmt: skip


def _check_fields(fields: Mapping[str, Any], writer: str) -> None:
    unknown = set(fields) - MERGEABLE
    if unknown:
        raise TypeError(f"{writer}: unknown run log field(s): {', '.join(sorted(unknown))}")


def _merge(
    row: Any,
    prefect_state: str | None,
    start_time: datetime | None,
    end_time: datetime | None,
    fields: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The merge rule every writer goes through (single hook or reconciler batch); returns the
    status_changed event to record, if the status changed."""
    event = None
    if prefect_state is not None:
        new_status = run_status_for(prefect_state)
        current = row.status
        # RunStatus's declared machine (models/enums.py) is the rule: a move it does not allow (a late
        # running hook after the final state) leaves the row as it is.
        if current == new_status or can_transition(current, new_status):
            if current != new_status:
                event = {
                    "action": "status_changed", "subject_type": "agent_run_logs", "subject_id": row.run_id,
                    "before": {"status": current.value, "prefect_state": row.prefect_state},
                    "after": {"status": new_status.value, "prefect_state": prefect_state.upper()},
                }  # fmt: skip
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
    return event


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
    when RunStatus's declared machine allows the move (a late non-final state never reopens a run).
    """
    _check_fields(fields, "upsert_run_log")
    _insert_missing(session, [run_id])
    row = session.scalars(
        sa.select(AgentRunLog)
        .where(AgentRunLog.run_id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    event = _merge(row, prefect_state, start_time, end_time, fields)
    if event is not None:
        record_event(session, **event)
    session.flush()
    return row


@dataclass(frozen=True)
class RunLogUpdate:
    """One writer's knowledge of one run: the arguments of upsert_run_log, as data for a batch."""

    run_id: str
    prefect_state: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Values written only where the row holds none yet (another writer's value wins).
    defaults: Mapping[str, Any] = field(default_factory=dict)


_COLUMNS = tuple(c.key for c in _RUN_LOGS.columns)


def _pending_row(run_id: str, now: datetime) -> Any:
    """A new row's values as _insert_missing would write them, in a plain namespace: merged in memory
    by the same _merge as a loaded row, then inserted whole (ORM instrumentation costs more here than
    the database does)."""
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    values.update(
        id=new_id(), run_id=run_id, status=RunStatus.PENDING, trigger_type=TriggerType.MANUAL, duration_ms=0,
        cycle_number=0, inbox_event_count=0, step_count=0, prompt_tokens=0, completion_tokens=0,
        created_at=now, updated_at=now,
    )  # fmt: skip
    return SimpleNamespace(**values)


def _apply(row: Any, update: RunLogUpdate) -> dict[str, Any] | None:
    event = _merge(row, update.prefect_state, update.start_time, update.end_time, update.fields)
    for name, value in update.defaults.items():
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)
    return event


def _lock_rows(session: Session, run_ids: Sequence[str]) -> dict[str, AgentRunLog]:
    rows: dict[str, AgentRunLog] = {}
    # Locked in run_id order, so two batch writers cannot deadlock each other; chunked so an IN list
    # stays well inside both backends' bound-parameter limits.
    for start in range(0, len(run_ids), 500):
        for row in session.scalars(
            sa.select(AgentRunLog)
            .where(AgentRunLog.run_id.in_(run_ids[start : start + 500]))
            .order_by(AgentRunLog.run_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            rows[row.run_id] = row
    return rows


def upsert_run_logs(session: Session, updates: Sequence[RunLogUpdate]) -> dict[str, AgentRunLog]:
    """upsert_run_log for a batch: the same merge rule, in a handful of statements for the whole batch.

    Runs with no row yet are merged onto a fresh pending row in memory and inserted complete (a run
    another writer inserts meanwhile is skipped and merged like an existing one). Then every row of
    the batch is locked, in run_id order as every writer does, and the rest is merged. Updates for the
    same run apply in the order given. Returns the rows by run_id.
    """
    for update in updates:
        _check_fields({**update.fields, **update.defaults}, "upsert_run_logs")
    run_ids = sorted({u.run_id for u in updates})
    if not run_ids:
        return {}
    existing: set[str] = set()
    for start in range(0, len(run_ids), 500):
        existing.update(
            session.scalars(
                sa.select(AgentRunLog.run_id).where(AgentRunLog.run_id.in_(run_ids[start : start + 500]))
            )
        )
    now = utcnow()
    fresh = {run_id: _pending_row(run_id, now) for run_id in run_ids if run_id not in existing}
    fresh_events: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in fresh}
    for update in updates:
        if update.run_id in fresh and (event := _apply(fresh[update.run_id], update)) is not None:
            fresh_events[update.run_id].append(event)
    if fresh:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        # executemany of a one-row statement: psycopg pipelines it and parses the SQL once, where a
        # multi-row VALUES (or RETURNING) statement costs more to parse than to run.
        session.execute(
            insert(_RUN_LOGS).on_conflict_do_nothing(index_elements=["run_id"]),
            [vars(row) for row in fresh.values()],
        )
    # Inserts first, then locks, both in run_id order: the order every writer takes its locks in.
    rows = _lock_rows(session, run_ids)
    ours = {run_id for run_id, row in fresh.items() if rows[run_id].id == row.id}
    blank = {"description": None, "actor_entity_id": None, "actor_user_id": None}
    # One microsecond apart, so a run's events sort in the order they happened.
    moves = [event for run_id in sorted(ours) for event in fresh_events[run_id]]
    events = [
        {"id": new_id(), "created_at": now + timedelta(microseconds=i), **blank, **event}
        for i, event in enumerate(moves)
    ]
    if events:
        session.execute(sa.insert(Event), events)
    for update in updates:
        # A run inserted above already holds its merged values; the rest (existing rows, and runs
        # another writer inserted first) merge now.
        if update.run_id not in ours and (event := _apply(rows[update.run_id], update)) is not None:
            record_event(session, **event)
    session.flush()
    return rows


def update_configuration_last_run(session: Session, row: AgentRunLog) -> None:
    """Mirror a run onto its configuration's last_run_* fields, by record_configuration_run's rule."""
    if row.agent_configuration_id is None:
        return
    record_configuration_run(
        session,
        row.agent_configuration_id,
        run_id=row.run_id,
        status=LastRunStatus(row.status.value),
        started_at=row.start_time or row.created_at,
        output_preview=row.output_preview,
        full_output_ref=row.full_output_ref,
    )


def last_successful_run(session: Session, agent_configuration_id: str) -> AgentRunLog | None:
    """Seed 002's "since last successful run": served by ix_agent_run_logs_since_success.

    Only the agent's own runs count: a mission subflow carries the configuration id too, and may
    succeed inside an agent run that then fails.
    """
    return session.scalars(
        sa.select(AgentRunLog)
        .where(
            AgentRunLog.agent_configuration_id == agent_configuration_id,
            AgentRunLog.status == RunStatus.SUCCESS,
            # NULL-safe: a row whose flow name is not known yet is not a mission subflow.
            sa.or_(AgentRunLog.flow_name.is_(None), AgentRunLog.flow_name != "mission"),
        )
        .order_by(AgentRunLog.end_time.desc())
        .limit(1)
    ).first()


def since_last_successful_run(
    session: Session, agent_configuration_id: str, *, now: datetime
) -> tuple[datetime | None, datetime]:
    """Seed 002's window for the next run: from the last successful run's end (None: never) to now."""
    last = last_successful_run(session, agent_configuration_id)
    return (last.end_time if last is not None else None), now


# --- the reconciler's watermark --------------------------------------------------------------------
def read_watermark(session: Session, name: str) -> datetime | None:
    mark = session.get(SyncWatermark, name)
    return mark.value if mark is not None else None


def write_watermark(session: Session, name: str, value: datetime) -> None:
    """Move the watermark; it never moves backwards (two reconcilers may finish out of order)."""
    mark = session.get(SyncWatermark, name, with_for_update=True)
    if mark is None:
        session.add(SyncWatermark(name=name, value=value, updated_at=utcnow()))
    elif mark.value is None or value > mark.value:
        mark.value = value
        mark.updated_at = utcnow()
    session.flush()


# --- files a run wrote (seed 002's RunArtifact) ----------------------------------------------------
@dataclass(frozen=True)
class RunFile:
    """A file a run wrote, as record_run_artifacts takes it."""

    run_id: str
    kind: RunArtifactKind
    path: str
    size_bytes: int
    written_at: datetime


def record_run_artifacts(session: Session, files: Sequence[RunFile]) -> None:
    """Create or refresh the artifact row of each file (one per run and path); `created_at` is when
    the file was last written. Existing rows are read in one query, new ones inserted in one."""
    if not files:
        return
    run_ids = sorted({f.run_id for f in files})
    existing: dict[tuple[str, str], RunArtifact] = {}
    for start in range(0, len(run_ids), 500):
        for artifact in session.scalars(
            sa.select(RunArtifact).where(RunArtifact.run_id.in_(run_ids[start : start + 500]))
        ):
            existing[(artifact.run_id, artifact.path)] = artifact
    new: list[dict[str, Any]] = []
    for f in files:
        known = existing.get((f.run_id, f.path))
        if known is None:
            new.append({"id": new_id(), "run_id": f.run_id, "kind": f.kind, "path": f.path,
                        "size_bytes": f.size_bytes, "created_at": f.written_at})  # fmt: skip
        else:
            known.size_bytes = f.size_bytes
            known.created_at = f.written_at
    if new:
        session.execute(sa.insert(RunArtifact), new)
    session.flush()


def record_run_artifact(
    session: Session, run_id: str, *, kind: RunArtifactKind, path: str, size_bytes: int, written_at: datetime
) -> None:
    """Create or refresh the artifact row of one file."""
    record_run_artifacts(session, [RunFile(run_id, kind, path, size_bytes, written_at)])


def read_log_artifacts(session: Session, run_ids: Sequence[str]) -> dict[str, RunArtifact]:
    """The newest log artifact of each run that has one."""
    found: dict[str, RunArtifact] = {}
    for start in range(0, len(run_ids), 500):
        for artifact in session.scalars(
            sa.select(RunArtifact)
            .where(
                RunArtifact.run_id.in_(run_ids[start : start + 500]), RunArtifact.kind == RunArtifactKind.LOG
            )
            .order_by(RunArtifact.created_at)
        ):
            found[artifact.run_id] = artifact
    return found


# --- reading the run log ---------------------------------------------------------------------------
def read_run_log(session: Session, run: str) -> AgentRunLog | None:
    """A run by its flow run id, or by a unique prefix of it (as `hopflow runs show` accepts)."""
    row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run)).one_or_none()
    if row is not None or len(run) >= 36:
        return row
    matches = session.scalars(
        sa.select(AgentRunLog).where(AgentRunLog.run_id.startswith(run, autoescape=True)).limit(2)
    ).all()
    if len(matches) > 1:
        raise LookupError(f"run id prefix {run!r} is ambiguous; give more characters")
    return matches[0] if matches else None


def started_runs() -> sa.ColumnElement[bool]:
    """Rows of runs that exist: a run Prefect only scheduled (a cron deployment's future runs) is not a
    run yet, and lists and reports leave it out (older reconcilers mirrored them as pending)."""
    return sa.or_(AgentRunLog.prefect_state.is_(None), AgentRunLog.prefect_state != "SCHEDULED")


def shortest_unique_prefixes(session: Session, run_ids: Sequence[str], minimum: int = 8) -> dict[str, str]:
    """For each run id, its shortest prefix (at least `minimum` characters) that no other run id in
    the run log starts with: Prefect's time-ordered ids share their first characters, so a fixed
    8-character prefix is often ambiguous. Two index lookups per id (its neighbours in id order)."""

    def common(a: str | None, b: str) -> int:
        if a is None:
            return 0
        n = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            n += 1
        return n

    prefixes: dict[str, str] = {}
    for run_id in run_ids:
        before = session.scalar(sa.select(sa.func.max(AgentRunLog.run_id)).where(AgentRunLog.run_id < run_id))
        after = session.scalar(sa.select(sa.func.min(AgentRunLog.run_id)).where(AgentRunLog.run_id > run_id))
        length = max(minimum, common(before, run_id) + 1, common(after, run_id) + 1)
        prefixes[run_id] = run_id[:length]
    return prefixes


def list_run_logs(
    session: Session,
    *,
    agent: str | None = None,
    status: RunStatus | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[tuple[AgentRunLog, str | None]]:
    """Newest first: (row, configuration name) filtered by configuration name, status and start time."""
    stmt = (
        sa.select(AgentRunLog, AgentConfiguration.name)
        .outerjoin(AgentConfiguration, AgentConfiguration.id == AgentRunLog.agent_configuration_id)
        .where(started_runs())
        .order_by(sa.func.coalesce(AgentRunLog.start_time, AgentRunLog.created_at).desc())
        .limit(limit)
    )
    if agent is not None:
        stmt = stmt.where(AgentConfiguration.name == agent)
    if status is not None:
        stmt = stmt.where(AgentRunLog.status == status)
    if since is not None:
        stmt = stmt.where(sa.func.coalesce(AgentRunLog.start_time, AgentRunLog.created_at) >= since)
    return [(row, name) for row, name in session.execute(stmt)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def read_run_detail(session: Session, row: AgentRunLog) -> dict[str, Any]:
    """Seed 002's run detail as JSON values: the row, its agent and mission, token totals (with a
    breakdown by model from llm_calls) and the files it wrote."""
    config = (
        session.get(AgentConfiguration, row.agent_configuration_id) if row.agent_configuration_id else None
    )
    mission = session.get(Mission, row.mission_id) if row.mission_id else None
    by_model = [
        {
            "provider": provider,
            "model": model,
            "calls": int(calls),
            "prompt_tokens": int(prompt or 0),
            "completion_tokens": int(completion or 0),
        }
        for provider, model, calls, prompt, completion in session.execute(
            sa.select(
                LLMCall.provider,
                LLMCall.model,
                sa.func.count(),
                sa.func.sum(LLMCall.prompt_tokens),
                sa.func.sum(LLMCall.completion_tokens),
            )
            # The run's own calls and its subflows' (an agent run's calls happen in its mission).
            .where(
                sa.or_(
                    LLMCall.flow_run_id == row.run_id,
                    LLMCall.flow_run_id.in_(
                        sa.select(AgentRunLog.run_id).where(AgentRunLog.parent_run_id == row.run_id)
                    ),
                )
            )
            .group_by(LLMCall.provider, LLMCall.model)
            .order_by(LLMCall.provider, LLMCall.model)
        )
    ]
    artifacts = [
        {"kind": a.kind.value, "path": a.path, "size_bytes": a.size_bytes, "written_at": _iso(a.created_at)}
        for a in session.scalars(
            sa.select(RunArtifact).where(RunArtifact.run_id == row.run_id).order_by(RunArtifact.created_at)
        )
    ]
    return {
        "run_id": row.run_id,
        "flow_name": row.flow_name,
        "status": row.status.value,
        "prefect_state": row.prefect_state,
        "trigger_type": row.trigger_type.value,
        "start_time": _iso(row.start_time),
        "end_time": _iso(row.end_time),
        "duration_ms": row.duration_ms,
        "agent": {"id": config.id, "name": config.name} if config else None,
        "mission": {"id": mission.id, "name": mission.name, "status": mission.status.value}
        if mission
        else None,
        "deployment_id": row.deployment_id,
        "parent_run_id": row.parent_run_id,
        "directive": row.directive_snapshot,
        "window": {"start": _iso(row.window_start), "end": _iso(row.window_end)}
        if row.window_start or row.window_end
        else None,
        "tokens": {
            "prompt": row.prompt_tokens,
            "completion": row.completion_tokens,
            "total": row.prompt_tokens + row.completion_tokens,
            "by_model": by_model,
        },
        "step_count": row.step_count,
        "cycle_number": row.cycle_number,
        "inbox_event_count": row.inbox_event_count,
        "input_params_snapshot": row.input_params_snapshot,
        "output_preview": row.output_preview,
        "full_output_ref": row.full_output_ref,
        "error_message": row.error_message,
        "logs_ref": row.logs_ref,
        "artifacts": artifacts,
    }


def read_known_refs(
    session: Session, run_ids: Sequence[str], mission_ids: Sequence[str], configuration_refs: Sequence[str]
) -> tuple[set[str], set[str], set[str]]:
    """Which of these flow runs (by agent_run_logs), missions and configurations (by id or name) this
    database holds: how the reconciler tells its own runs from other projects' on a shared server."""
    runs: set[str] = set()
    missions: set[str] = set()
    configurations: set[str] = set()
    size = 500
    for i in range(0, len(run_ids), size):
        chunk = list(run_ids[i : i + size])
        runs |= set(session.scalars(sa.select(AgentRunLog.run_id).where(AgentRunLog.run_id.in_(chunk))))
    for i in range(0, len(mission_ids), size):
        chunk = list(mission_ids[i : i + size])
        missions |= set(session.scalars(sa.select(Mission.id).where(Mission.id.in_(chunk))))
    for i in range(0, len(configuration_refs), size):
        chunk = list(configuration_refs[i : i + size])
        rows = session.execute(
            sa.select(AgentConfiguration.id, AgentConfiguration.name).where(
                sa.or_(AgentConfiguration.id.in_(chunk), AgentConfiguration.name.in_(chunk))
            )
        )
        for config_id, name in rows:
            configurations |= {config_id, name}
    return runs, missions, configurations


def read_mission_names(session: Session, mission_ids: Sequence[str]) -> dict[str, str]:
    """The names of these missions, by id (for run listings)."""
    if not mission_ids:
        return {}
    return dict(
        session.execute(sa.select(Mission.id, Mission.name).where(Mission.id.in_(list(mission_ids)))).tuples()
    )
