"""Reading stored missions: listing them (newest first, by status and tags), finding one by id, name
or id prefix, and their hops, steps and assets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from hopflow.models.access.assets import read_scope_assets
from hopflow.models.access.tags import ids_tagged, normalise_tags
from hopflow.models.enums import AssetScopeType, MissionStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Hop, LLMCall, Mission, ToolStep
from sqlalchemy.orm import Session


def list_missions(
    session: Session,
    *,
    status: MissionStatus | None = None,
    tags: Iterable[str] | None = None,
    limit: int = 20,
) -> list[tuple[Mission, int]]:
    """(mission, number of hops), newest first; with `tags`, only missions carrying all of them.
    A bad tag name raises TagError before any query."""
    names = normalise_tags(tags)
    stmt = (
        sa.select(Mission, sa.func.count(Hop.id))
        .outerjoin(Hop, Hop.mission_id == Mission.id)
        .group_by(Mission.id)
        .order_by(Mission.created_at.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(Mission.status == status)
    if names:
        stmt = stmt.where(Mission.id.in_(ids_tagged("missions", names)))
    return [(mission, hops) for mission, hops in session.execute(stmt).tuples()]


def find_mission(session: Session, ref: str, *, min_prefix: int = 4) -> Mission | None:
    """The mission with this id, else the newest one with this name, else the one whose id starts
    with `ref` (at least `min_prefix` characters, and only one such mission); None otherwise."""
    mission = session.get(Mission, ref)
    if mission is None:
        mission = session.scalars(
            sa.select(Mission).where(Mission.name == ref).order_by(Mission.created_at.desc()).limit(1)
        ).first()
    if mission is None and len(ref) >= min_prefix:
        matches = list(session.scalars(sa.select(Mission).where(Mission.id.startswith(ref)).limit(2)))
        mission = matches[0] if len(matches) == 1 else None
    return mission


def read_hops(session: Session, mission_id: str) -> list[Hop]:
    """The mission's hops in sequence_order (each with its tool_steps relationship)."""
    return list(
        session.scalars(sa.select(Hop).where(Hop.mission_id == mission_id).order_by(Hop.sequence_order))
    )


def read_steps(session: Session, hop_id: str) -> list[ToolStep]:
    """The hop's tool steps in sequence_order."""
    return list(
        session.scalars(
            sa.select(ToolStep).where(ToolStep.hop_id == hop_id).order_by(ToolStep.sequence_order)
        )
    )


def read_step_statuses(session: Session, mission_id: str) -> list[ToolExecutionStatus]:
    """The status of every tool step of the mission (for progress counts)."""
    return list(session.scalars(sa.select(ToolStep.status).join(Hop).where(Hop.mission_id == mission_id)))


def read_mission_assets(session: Session, mission_id: str) -> list[Asset]:
    """Every asset of the mission: its own (inputs, outputs), then its hops' intermediates."""
    assets = read_scope_assets(session, AssetScopeType.MISSION, mission_id)
    hop_ids = sa.select(Hop.id).where(Hop.mission_id == mission_id).scalar_subquery()
    assets += session.scalars(
        sa.select(Asset)
        .where(Asset.scope_type == AssetScopeType.HOP, Asset.scope_id.in_(hop_ids))
        .order_by(Asset.created_at, Asset.name)
    )
    return assets


def read_steps_in_flight(session: Session, mission_id: str) -> list[ToolStep]:
    """The mission's tool steps left executing (by a runner that may be gone)."""
    return list(
        session.scalars(
            sa.select(ToolStep)
            .join(Hop, Hop.id == ToolStep.hop_id)
            .where(Hop.mission_id == mission_id, ToolStep.status == ToolExecutionStatus.EXECUTING)
        )
    )


def count_steps_and_tokens(session: Session, mission_id: str) -> tuple[int, int, int]:
    """(tool steps, prompt tokens, completion tokens) of the mission."""
    steps = session.scalar(
        sa.select(sa.func.count()).select_from(ToolStep).join(Hop).where(Hop.mission_id == mission_id)
    )
    prompt, completion = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(LLMCall.prompt_tokens), 0),
            sa.func.coalesce(sa.func.sum(LLMCall.completion_tokens), 0),
        ).where(LLMCall.mission_id == mission_id)
    ).one()
    return int(steps or 0), int(prompt), int(completion)


def read_finished_missions(
    session: Session, flow_run_ids: Sequence[str], finished_before: datetime
) -> list[tuple[str, str, MissionStatus, str | None]]:
    """(flow run id, mission id, status, error) of the missions of these flow runs that finished,
    let their lease go, and completed before `finished_before`."""
    finished = (MissionStatus.COMPLETED, MissionStatus.FAILED, MissionStatus.CANCELLED)
    rows = session.execute(
        sa.select(Mission.flow_run_id, Mission.id, Mission.status, Mission.error_message).where(
            Mission.flow_run_id.in_(list(flow_run_ids)),
            Mission.status.in_(finished),
            Mission.lease_owner.is_(None),
            Mission.completed_at <= finished_before,
        )
    )
    return [(r.flow_run_id, r.id, r.status, r.error_message) for r in rows]
