"""A tool step's attempt in lean statements, the hot path of every step: the step with its mission and
its output assets read in one SELECT (or every step of a hop at once); the step's move (claim or
finish), its assets' moves and their events written together: as conditional UPDATEs and one INSERT
in a transaction, or on PostgreSQL as one statement, all or nothing by itself (data-modifying CTEs),
so it needs no transaction around it and pays one round trip."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from hopflow.models.access.status import insert_events, status_event_rows, transition_path
from hopflow.models.enums import AssetRole, AssetScopeType, AssetStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Event, Hop, Mission, ToolStep
from hopflow.models.orm.base import new_id
from sqlalchemy import Connection
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class StepToRun:
    """What running a step needs to know of it (its plan, then its claim), read in one SELECT."""

    id: str
    mission_id: str
    agent_configuration_id: str | None
    tool_id: str
    sequence_order: int
    status: ToolExecutionStatus
    attempts: int
    task_run_id: str | None
    parameter_mapping: dict[str, Any]
    result_mapping: dict[str, Any]
    resource_configs: dict[str, Any]


@dataclass(frozen=True)
class OutputAsset:
    """An output asset of a step, without its content (which may be large)."""

    id: str
    name: str
    type: str
    role: AssetRole
    scope_type: AssetScopeType
    scope_id: str
    status: AssetStatus
    content_ref: str | None
    size_bytes: int | None
    content_summary: str | None


# The hot path runs on the tables (Core), not the mapped classes: the ORM's bulk UPDATE path
# re-derives and re-keys every statement and evaluates it against the session, per call.
_steps = cast(sa.Table, ToolStep.__table__)
_hops = cast(sa.Table, Hop.__table__)
_missions = cast(sa.Table, Mission.__table__)
_assets = cast(sa.Table, Asset.__table__)
_events = cast(sa.Table, Event.__table__)

_OUTPUT_COLUMNS = (
    _assets.c.id,
    _assets.c.name,
    _assets.c.type,
    _assets.c.role,
    _assets.c.scope_type,
    _assets.c.scope_id,
    _assets.c.status,
    _assets.c.content_ref,
    _assets.c.size_bytes,
    _assets.c.content_summary,
)


_STEPS_TO_RUN = sa.select(
    _steps.c.id,
    _hops.c.mission_id,
    _missions.c.agent_configuration_id,
    _steps.c.tool_id,
    _steps.c.sequence_order,
    _steps.c.status,
    _steps.c.attempts,
    _steps.c.task_run_id,
    _steps.c.parameter_mapping,
    _steps.c.result_mapping,
    _steps.c.resource_configs,
    *(column.label(f"asset_{column.key}") for column in _OUTPUT_COLUMNS),
).select_from(
    _steps.join(_hops, _hops.c.id == _steps.c.hop_id)
    .join(_missions, _missions.c.id == _hops.c.mission_id)
    .outerjoin(_assets, _assets.c.produced_by_step_id == _steps.c.id)
)
_STEP_TO_RUN = _STEPS_TO_RUN.where(_steps.c.id == sa.bindparam("b_step_id"))
_HOP_STEPS_TO_RUN = _STEPS_TO_RUN.where(_steps.c.hop_id == sa.bindparam("b_hop_id")).order_by(
    _steps.c.sequence_order
)

StepRead = tuple[StepToRun, dict[str, OutputAsset]]  # a step, and the assets it produces by id


def read_step_to_run(session: Session, step_id: str) -> StepRead:
    """The step with its mission's id and agent configuration, and the assets it produces (by id), in
    one SELECT; LookupError naming the step if there is none."""
    steps = _steps_read(session.execute(_STEP_TO_RUN, {"b_step_id": step_id}).all())
    if step_id not in steps:
        raise LookupError(f"no tool_steps row with id {step_id!r}")
    return steps[step_id]


def read_hop_steps_to_run(session: Session, hop_id: str) -> dict[str, StepRead]:
    """read_step_to_run for every step of a hop, by step id in sequence_order, in one SELECT."""
    return _steps_read(session.execute(_HOP_STEPS_TO_RUN, {"b_hop_id": hop_id}).all())


def _steps_read(rows: Sequence[Any]) -> dict[str, StepRead]:
    steps: dict[str, StepRead] = {}
    for row in rows:
        if row.id not in steps:
            step = StepToRun(
                id=row.id,
                mission_id=row.mission_id,
                agent_configuration_id=row.agent_configuration_id,
                tool_id=row.tool_id,
                sequence_order=row.sequence_order,
                status=ToolExecutionStatus(row.status),
                attempts=row.attempts,
                task_run_id=row.task_run_id,
                parameter_mapping=dict(row.parameter_mapping or {}),
                result_mapping=dict(row.result_mapping or {}),
                resource_configs=dict(row.resource_configs or {}),
            )
            steps[row.id] = (step, {})
        if row.asset_id is not None:
            steps[row.id][1][row.asset_id] = _output_asset(row._mapping)
    return steps


def _output_asset(row: Any) -> OutputAsset:
    """The joined asset columns of one row of _STEP_TO_RUN (labelled asset_*)."""
    return OutputAsset(
        id=row["asset_id"],
        name=row["asset_name"],
        type=row["asset_type"],
        role=AssetRole(row["asset_role"]),
        scope_type=AssetScopeType(row["asset_scope_type"]),
        scope_id=row["asset_scope_id"],
        status=AssetStatus(row["asset_status"]),
        content_ref=row["asset_content_ref"],
        size_bytes=row["asset_size_bytes"],
        content_summary=row["asset_content_summary"],
    )


# The hot path's statements are built once per shape: building and keying a statement costs more
# Python time than SQLite takes to run it. Bound values are prefixed (b_ alone, or one prefix per
# part of a combined statement; a column's own name is reserved in SET), and `updated_at` is set
# from the unit's `now` (a prefetched default cannot sit in a CTE).


_CONTENT_COLUMNS = ("content_summary", "type", "content", "content_ref", "size_bytes")


def _touch(table: sa.Table, p: str) -> dict[str, Any]:
    return {c.key: sa.bindparam(f"{p}now") for c in table.c if c.onupdate is not None}


def _move_asset_update(p: str, with_content: bool) -> sa.Update:
    values: dict[str, Any] = {"status": sa.bindparam(f"{p}target"), **_touch(_assets, p)}
    if with_content:
        values |= {c: sa.bindparam(f"{p}{c}") for c in _CONTENT_COLUMNS}
    return (
        sa.update(_assets)
        .where(_assets.c.id == sa.bindparam(f"{p}id"), _assets.c.status == sa.bindparam(f"{p}expected"))
        .values(values)
    )


def _claim_update(p: str, leased: bool) -> sa.Update:
    """`expected` -> executing with one more attempt, only at the attempt count read; `leased`: only
    while `owner` holds the mission's live lease (the mission's LeaseKeeper renews it), so one
    statement both fences the runner and claims the step."""
    claim = (
        sa.update(_steps)
        .where(
            _steps.c.id == sa.bindparam(f"{p}id"),
            _steps.c.status == sa.bindparam(f"{p}expected"),
            _steps.c.attempts == sa.bindparam(f"{p}attempts"),
        )
        .values(
            status=ToolExecutionStatus.EXECUTING,
            attempts=_steps.c.attempts + 1,
            started_at=sa.bindparam(f"{p}now"),
            task_run_id=sa.bindparam(f"{p}task_run_id"),
            error_message=None,
            **_touch(_steps, p),
        )
    )
    if not leased:
        return claim
    return claim.where(
        sa.exists().where(
            _missions.c.id == sa.bindparam(f"{p}mission_id"),
            _missions.c.lease_owner == sa.bindparam(f"{p}owner"),
            _missions.c.lease_expires_at > sa.bindparam(f"{p}now"),
        )
    )


def _finish_update(p: str) -> sa.Update:
    return (
        sa.update(_steps)
        .where(
            _steps.c.id == sa.bindparam(f"{p}id"),
            _steps.c.status == ToolExecutionStatus.EXECUTING,
            _steps.c.attempts == sa.bindparam(f"{p}attempts"),
        )
        .values(
            status=ToolExecutionStatus.COMPLETED,
            completed_at=sa.bindparam(f"{p}now"),
            execution_result=sa.bindparam(f"{p}result"),
            **_touch(_steps, p),
        )
    )


_EVENT_COLUMNS = (
    "id",
    "action",
    "description",
    "subject_type",
    "subject_id",
    "before",
    "after",
    "created_at",
)


@functools.lru_cache(maxsize=64)
def _update(kind: str, leased: bool = False, with_content: bool = False) -> sa.Update:
    """One part on its own, its values prefixed b_."""
    if kind == "claim":
        return _claim_update("b_", leased)
    if kind == "finish":
        return _finish_update("b_")
    return _move_asset_update("b_", with_content)


@functools.lru_cache(maxsize=64)
def _combined(kind: str, leased: bool, assets: tuple[bool, ...], events: int) -> sa.Select[Any]:
    """The step's UPDATE, one UPDATE per asset (`assets`: whether each stores content) and the INSERT
    of `events` rows as data-modifying CTEs of one SELECT, all or nothing, so the statement is
    atomic by itself (it needs no transaction around it):

    - the assets still where they were read are locked first (FOR UPDATE, in id order), and the
      step moves only if all of them are;
    - each asset moves, and each event is written, only if the step moved.

    It answers whether the step moved, and the ids it locked (s_, a0_, a1_, ... and e0_, e1_, ...
    prefix the values)."""
    step = _claim_update("s_", leased) if kind == "claim" else _finish_update("s_")
    locked = None
    if assets:
        ids, expected = _assets.c.id, _assets.c.status
        still = [
            sa.and_(ids == sa.bindparam(f"a{i}_id"), expected == sa.bindparam(f"a{i}_expected"))
            for i in range(len(assets))
        ]
        locked = sa.select(ids).where(sa.or_(*still)).order_by(ids).with_for_update().cte("assets_locked")
        step = step.where(sa.select(sa.func.count()).select_from(locked).scalar_subquery() == len(assets))
    step_moved = step.returning(_steps.c.id).cte("step_moved")
    if_moved = sa.exists().select_from(step_moved)
    select = sa.select(
        sa.select(sa.func.count()).select_from(step_moved).scalar_subquery(),
        sa.select(sa.func.array_agg(locked.c.id)).scalar_subquery() if locked is not None else sa.null(),
    )
    for i, with_content in enumerate(assets):
        update = _move_asset_update(f"a{i}_", with_content).where(if_moved)
        select = select.add_cte(update.cte(f"asset_moved_{i}"))
    for j in range(events):  # one single-row INSERT each: a multi-row VALUES is never cached
        row = [sa.bindparam(f"e{j}_{c}", type_=_events.c[c].type) for c in _EVENT_COLUMNS]
        insert = sa.insert(_events).from_select(_EVENT_COLUMNS, sa.select(*row).where(if_moved))
        select = select.add_cte(insert.cte(f"event_added_{j}"))
    return select


@dataclass(frozen=True)
class AssetMove:
    """An output asset to move from the status it was read with to `target`, with `content` (its
    content columns) stored in the same UPDATE when given."""

    asset: OutputAsset
    target: AssetStatus
    content: dict[str, Any] | None = None


@dataclass(frozen=True)
class Moved:
    """Whether a claim or finish was kept: `step` false if it was not, because the step was not where
    it was read or, `stuck`, because another writer had moved that asset. The caller then raises, so
    its unit of work rolls back (on PostgreSQL nothing was written; on SQLite the first statements)."""

    step: bool
    stuck: OutputAsset | None = None


def _write(
    db: Session | Connection,
    kind: str,
    step_values: dict[str, Any],
    leased: bool,
    step_events: list[dict[str, Any]],
    moves: list[AssetMove],
    now: datetime,
) -> Moved:
    """The step's move, then each asset's, then their events; checked against the machines first.
    On a False answer the caller rolls back: on PostgreSQL the events were written in the same
    statement as the moves."""
    moves = [m for m in moves if m.asset.status != m.target or m.content is not None]
    events = list(step_events)
    for move in moves:
        path = transition_path(move.asset.status, move.target, f"Asset {move.asset.id}")
        events += status_event_rows(Asset.__tablename__, move.asset.id, move.asset.status, path, None)
    dialect = db.get_bind().dialect if isinstance(db, Session) else db.dialect
    if dialect.name == "postgresql":
        return _write_at_once(db, kind, step_values, leased, events, moves, now)
    if db.execute(_update(kind, leased), step_values).rowcount != 1:  # type: ignore[attr-defined]
        return Moved(step=False)
    for move in moves:
        values = _asset_values("b_", move, now)
        update = _update("asset", with_content=move.content is not None)
        if db.execute(update, values).rowcount != 1:  # type: ignore[attr-defined]
            return Moved(step=False, stuck=move.asset)
    insert_events(db, events)
    return Moved(step=True)


def _write_at_once(
    db: Session | Connection,
    kind: str,
    step_values: dict[str, Any],
    leased: bool,
    events: list[dict[str, Any]],
    moves: list[AssetMove],
    now: datetime,
) -> Moved:
    shape = tuple(m.content is not None for m in moves)
    values = {f"s_{k.removeprefix('b_')}": v for k, v in step_values.items()}
    for i, move in enumerate(moves):
        values |= _asset_values(f"a{i}_", move, now)
    for j, row in enumerate(events):
        row = {"id": new_id(), "created_at": now, **row}
        values |= {f"e{j}_{c}": row.get(c) for c in _EVENT_COLUMNS}
    moved, locked = db.execute(_combined(kind, leased, shape, len(events)), values).one()
    if moved == 1:
        return Moved(step=True)
    return Moved(step=False, stuck=next((m.asset for m in moves if m.asset.id not in (locked or ())), None))


def _asset_values(p: str, move: AssetMove, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {f"{p}id": move.asset.id, f"{p}expected": move.asset.status}
    values |= {f"{p}target": move.target, f"{p}now": now}
    if move.content is not None:
        values |= {f"{p}{c}": move.content[c] for c in _CONTENT_COLUMNS}
    return values


def claim_step(
    db: Session | Connection,
    step: StepToRun,
    observed: ToolExecutionStatus,
    moves: list[AssetMove],
    *,
    now: datetime,
    task_run_id: str | None,
    owner: str | None,
) -> Moved:
    """`observed` -> executing (checked against the machine), one more attempt, and the outputs'
    `moves`, with their events: only if the step is still `observed` at the attempt count read, and,
    with an `owner`, only while it holds the mission's lease."""
    path = transition_path(observed, ToolExecutionStatus.EXECUTING, f"ToolStep {step.id}")
    values = {
        "b_id": step.id,
        "b_expected": observed,
        "b_attempts": step.attempts,
        "b_now": now,
        "b_task_run_id": task_run_id,
    }
    if owner is not None:
        values |= {"b_mission_id": step.mission_id, "b_owner": owner}
    events = status_event_rows(ToolStep.__tablename__, step.id, observed, path, None)
    return _write(db, "claim", values, owner is not None, events, moves, now)


def finish_step(
    db: Session | Connection,
    step_id: str,
    attempt: int,
    result: dict[str, Any],
    moves: list[AssetMove],
    *,
    now: datetime,
) -> Moved:
    """executing -> completed with its execution_result, and the outputs' `moves` (ready, with their
    content), with their events: only for the attempt `attempt` (the one that claimed it)."""
    executing = ToolExecutionStatus.EXECUTING
    path = transition_path(executing, ToolExecutionStatus.COMPLETED, f"ToolStep {step_id}")
    values = {"b_id": step_id, "b_attempts": attempt, "b_now": now, "b_result": result}
    events = status_event_rows(ToolStep.__tablename__, step_id, executing, path, None)
    return _write(db, "finish", values, False, events, moves, now)


def move_steps(
    session: Session,
    ids: list[str],
    expected: ToolExecutionStatus,
    target: ToolExecutionStatus,
) -> None:
    """Several steps from `expected` to `target` (checked against the machine) in one UPDATE and one
    INSERT of their events; the session's loaded steps follow. RuntimeError if any had moved."""
    if not ids:
        return
    path = transition_path(expected, target, "ToolStep")
    changed = session.execute(
        sa.update(ToolStep).where(ToolStep.id.in_(ids), ToolStep.status == expected).values(status=target)
    ).rowcount  # type: ignore[attr-defined]
    if changed != len(ids):
        raise RuntimeError(f"{len(ids) - changed} of {len(ids)} steps were no longer {expected.value}")
    insert_events(
        session,
        [row for step_id in ids for row in status_event_rows("tool_steps", step_id, expected, path, None)],
    )
