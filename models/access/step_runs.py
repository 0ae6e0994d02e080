"""A tool step's attempt in lean statements, the hot path of every step: the step (with its mission)
and its output assets read with one SELECT each, status moves as conditional UPDATEs, and their
events collected for one INSERT (models.access.status.insert_events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.status import status_event_rows, transition_path
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


def read_step_to_run(session: Session, step_id: str) -> StepToRun:
    """The step with its mission's id and agent configuration; LookupError naming it if there is none."""
    row = session.execute(
        sa.select(
            ToolStep.id,
            Hop.mission_id,
            Mission.agent_configuration_id,
            ToolStep.tool_id,
            ToolStep.status,
            ToolStep.attempts,
            ToolStep.task_run_id,
            ToolStep.parameter_mapping,
            ToolStep.result_mapping,
        )
        .join(Hop, Hop.id == ToolStep.hop_id)
        .join(Mission, Mission.id == Hop.mission_id)
        .where(ToolStep.id == step_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no tool_steps row with id {step_id!r}")
    return StepToRun(
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


_OUTPUT_COLUMNS = (
    Asset.id,
    Asset.name,
    Asset.type,
    Asset.role,
    Asset.scope_type,
    Asset.scope_id,
    Asset.status,
    Asset.content_ref,
    Asset.size_bytes,
    Asset.content_summary,
)


def read_output_assets(session: Session, ids: list[str]) -> dict[str, OutputAsset]:
    """The assets with these ids, by id, without their content (a missing one is simply absent)."""
    if not ids:
        return {}
    rows = session.execute(sa.select(*_OUTPUT_COLUMNS).where(Asset.id.in_(ids)))
    return {
        row.id: OutputAsset(
            id=row.id,
            name=row.name,
            type=row.type,
            role=AssetRole(row.role),
            scope_type=AssetScopeType(row.scope_type),
            scope_id=row.scope_id,
            status=AssetStatus(row.status),
            content_ref=row.content_ref,
            size_bytes=row.size_bytes,
            content_summary=row.content_summary,
        )
        for row in rows
    }


def move_asset(
    session: Session,
    asset: OutputAsset,
    target: AssetStatus,
    events: list[dict[str, Any]],
    *,
    values: dict[str, Any] | None = None,
    reason: str | None = None,
) -> bool:
    """Move one asset from the status it was read with to `target` (checked against its machine),
    setting `values` in the same conditional UPDATE; its events go to `events`. False if the asset
    is no longer in the status it was read with (another writer moved it)."""
    path = transition_path(asset.status, target, f"Asset {asset.id}")
    if not path and not values:
        return True
    changed = session.execute(
        sa.update(Asset)
        .where(Asset.id == asset.id, Asset.status == asset.status)
        .values(status=target, **(values or {}))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        return False
    events.extend(status_event_rows(Asset.__tablename__, asset.id, asset.status, path, reason))
    return True
