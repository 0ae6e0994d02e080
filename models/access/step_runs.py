"""A tool step's attempt in lean statements, the hot path of every step: the step with its mission and
its output assets read in one SELECT, status moves as conditional UPDATEs, and their events
collected for one INSERT (models.access.status.insert_events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from hopflow.models.access.status import insert_events, status_event_rows, transition_path
from hopflow.models.enums import AssetRole, AssetScopeType, AssetStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Hop, Mission, ToolStep
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class StepToRun:
    """What claiming a step needs to know of it, read in one SELECT."""

    id: str
    mission_id: str
    agent_configuration_id: str | None
    tool_id: str
    status: ToolExecutionStatus
    attempts: int
    task_run_id: str | None
    parameter_mapping: dict[str, Any]
    result_mapping: dict[str, Any]


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


_STEP_TO_RUN = (
    sa.select(
        _steps.c.id,
        _hops.c.mission_id,
        _missions.c.agent_configuration_id,
        _steps.c.tool_id,
        _steps.c.status,
        _steps.c.attempts,
        _steps.c.task_run_id,
        _steps.c.parameter_mapping,
        _steps.c.result_mapping,
        *(column.label(f"asset_{column.key}") for column in _OUTPUT_COLUMNS),
    )
    .select_from(
        _steps.join(_hops, _hops.c.id == _steps.c.hop_id)
        .join(_missions, _missions.c.id == _hops.c.mission_id)
        .outerjoin(_assets, _assets.c.produced_by_step_id == _steps.c.id)
    )
    .where(_steps.c.id == sa.bindparam("b_step_id"))
)


def read_step_to_run(session: Session, step_id: str) -> tuple[StepToRun, dict[str, OutputAsset]]:
    """The step with its mission's id and agent configuration, and the assets it produces (by id), in
    one SELECT; LookupError naming the step if there is none."""
    rows = session.execute(_STEP_TO_RUN, {"b_step_id": step_id}).all()
    if not rows:
        raise LookupError(f"no tool_steps row with id {step_id!r}")
    row = rows[0]
    step = StepToRun(
        id=row.id,
        mission_id=row.mission_id,
        agent_configuration_id=row.agent_configuration_id,
        tool_id=row.tool_id,
        status=ToolExecutionStatus(row.status),
        attempts=row.attempts,
        task_run_id=row.task_run_id,
        parameter_mapping=dict(row.parameter_mapping or {}),
        result_mapping=dict(row.result_mapping or {}),
    )
    assets = [_output_asset(r._mapping) for r in rows if r.asset_id is not None]
    return step, {a.id: a for a in assets}


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


# The hot path's statements are built once: building and keying a statement costs more Python time
# than SQLite takes to run it. Bound values are named b_* (a column's own name is reserved in SET).
_MOVE_ASSET = (
    sa.update(_assets)
    .where(_assets.c.id == sa.bindparam("b_id"), _assets.c.status == sa.bindparam("b_expected"))
    .values(status=sa.bindparam("b_target"))
)
_STORE_ASSET = _MOVE_ASSET.values(
    content_summary=sa.bindparam("b_content_summary"),
    type=sa.bindparam("b_type"),
    content=sa.bindparam("b_content"),
    content_ref=sa.bindparam("b_content_ref"),
    size_bytes=sa.bindparam("b_size_bytes"),
)
_CLAIM_STEP = (
    sa.update(_steps)
    .where(
        _steps.c.id == sa.bindparam("b_id"),
        _steps.c.status == sa.bindparam("b_expected"),
        _steps.c.attempts == sa.bindparam("b_attempts"),
    )
    .values(
        status=ToolExecutionStatus.EXECUTING,
        attempts=_steps.c.attempts + 1,
        started_at=sa.bindparam("b_now"),
        task_run_id=sa.bindparam("b_task_run_id"),
        error_message=None,
    )
)
# The claim under a lease: the same UPDATE, only while `owner` holds the mission's live lease (the
# mission's LeaseKeeper renews it), so one statement both fences the runner and claims the step.
_CLAIM_LEASED_STEP = _CLAIM_STEP.where(
    sa.exists().where(
        _missions.c.id == sa.bindparam("b_mission_id"),
        _missions.c.lease_owner == sa.bindparam("b_owner"),
        _missions.c.lease_expires_at > sa.bindparam("b_now"),
    )
)
_FINISH_STEP = (
    sa.update(_steps)
    .where(
        _steps.c.id == sa.bindparam("b_id"),
        _steps.c.status == ToolExecutionStatus.EXECUTING,
        _steps.c.attempts == sa.bindparam("b_attempts"),
    )
    .values(
        status=ToolExecutionStatus.COMPLETED,
        completed_at=sa.bindparam("b_now"),
        execution_result=sa.bindparam("b_result"),
    )
)


def claim_step(
    session: Session,
    step: StepToRun,
    observed: ToolExecutionStatus,
    events: list[dict[str, Any]],
    *,
    now: datetime,
    task_run_id: str | None,
    owner: str | None,
) -> bool:
    """`observed` -> executing (checked against the machine), one more attempt, in one conditional
    UPDATE: only if the step is still `observed` at the attempt count read, and, with an `owner`,
    only while it holds the mission's lease. False if any of that no longer holds."""
    path = transition_path(observed, ToolExecutionStatus.EXECUTING, f"ToolStep {step.id}")
    values = {
        "b_id": step.id,
        "b_expected": observed,
        "b_attempts": step.attempts,
        "b_now": now,
        "b_task_run_id": task_run_id,
    }
    if owner is None:
        changed = session.execute(_CLAIM_STEP, values).rowcount  # type: ignore[attr-defined]
    else:
        values |= {"b_mission_id": step.mission_id, "b_owner": owner}
        changed = session.execute(_CLAIM_LEASED_STEP, values).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        return False
    events.extend(status_event_rows(ToolStep.__tablename__, step.id, observed, path, None))
    return True


def finish_step(
    session: Session,
    step_id: str,
    attempt: int,
    result: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    now: datetime,
) -> bool:
    """executing -> completed with its execution_result, only for the attempt `attempt` (the one that
    claimed it); False if another runner took the step over since."""
    done = ToolExecutionStatus.COMPLETED
    path = transition_path(ToolExecutionStatus.EXECUTING, done, f"ToolStep {step_id}")
    changed = session.execute(
        _FINISH_STEP, {"b_id": step_id, "b_attempts": attempt, "b_now": now, "b_result": result}
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        return False
    events.extend(
        status_event_rows(ToolStep.__tablename__, step_id, ToolExecutionStatus.EXECUTING, path, None)
    )
    return True


def move_asset(
    session: Session,
    asset: OutputAsset,
    target: AssetStatus,
    events: list[dict[str, Any]],
    *,
    content: dict[str, Any] | None = None,
) -> bool:
    """Move one asset from the status it was read with to `target` (checked against its machine),
    storing `content` (its content columns) in the same conditional UPDATE; its events go to
    `events`. False if the asset is no longer in the status it was read with (another writer moved it)."""
    path = transition_path(asset.status, target, f"Asset {asset.id}")
    if not path and not content:
        return True
    values = {"b_id": asset.id, "b_expected": asset.status, "b_target": target}
    if content is None:
        changed = session.execute(_MOVE_ASSET, values).rowcount  # type: ignore[attr-defined]
    else:
        values |= {f"b_{column}": value for column, value in content.items()}
        changed = session.execute(_STORE_ASSET, values).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        return False
    events.extend(status_event_rows(Asset.__tablename__, asset.id, asset.status, path, None))
    return True


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
