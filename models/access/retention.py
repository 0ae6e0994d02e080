"""Retention: what `hopflow prune --older-than` may delete, in batches, and never anything of an
unfinished mission: run logs (with their artifact rows), llm_calls, events, and the offloaded content
of finished missions' assets (the rows stay, expired, with their summaries)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from hopflow.models.access.status import transition
from hopflow.models.enums import AssetScopeType, AssetStatus, MissionStatus, RunStatus
from hopflow.models.orm import AgentRunLog, Asset, Event, Hop, LLMCall, Mission, RunArtifact, ToolStep
from sqlalchemy.orm import Session

FINISHED = (MissionStatus.COMPLETED, MissionStatus.FAILED, MissionStatus.CANCELLED)
RUN_FINISHED = (RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.CANCELLED)
TABLES = ("agent_run_logs", "run_artifacts", "llm_calls", "events", "offloaded_assets")


def _unfinished() -> sa.Select[tuple[str]]:
    return sa.select(Mission.id).where(Mission.status.not_in(FINISHED))


def _live_subjects() -> sa.CompoundSelect[tuple[str]]:
    """Ids of unfinished missions and of their hops and steps: their events are kept."""
    return sa.union(
        _unfinished(),
        sa.select(Hop.id).where(Hop.mission_id.in_(_unfinished())),
        sa.select(ToolStep.id).join(Hop, Hop.id == ToolStep.hop_id).where(Hop.mission_id.in_(_unfinished())),
    )


def _finished_before(cutoff: datetime) -> sa.Select[tuple[str]]:
    return sa.select(Mission.id).where(Mission.status.in_(FINISHED), Mission.completed_at < cutoff)


def candidates(table: str, cutoff: datetime) -> sa.Select[tuple[str]]:
    """The ids `table` would lose at `cutoff`."""
    if table == "agent_run_logs":
        return sa.select(AgentRunLog.id).where(
            AgentRunLog.status.in_(RUN_FINISHED),
            sa.func.coalesce(AgentRunLog.end_time, AgentRunLog.updated_at) < cutoff,
            sa.or_(AgentRunLog.mission_id.is_(None), AgentRunLog.mission_id.not_in(_unfinished())),
        )
    if table == "run_artifacts":
        return sa.select(RunArtifact.id).where(
            sa.or_(
                RunArtifact.run_id.in_(
                    sa.select(AgentRunLog.run_id).where(
                        AgentRunLog.id.in_(candidates("agent_run_logs", cutoff))
                    )
                ),
                sa.and_(
                    RunArtifact.created_at < cutoff,
                    RunArtifact.run_id.not_in(
                        sa.select(AgentRunLog.run_id).where(AgentRunLog.status.not_in(RUN_FINISHED))
                    ),
                ),
            )
        )
    if table == "llm_calls":
        return sa.select(LLMCall.id).where(
            LLMCall.created_at < cutoff,
            sa.or_(LLMCall.mission_id.is_(None), LLMCall.mission_id.not_in(_unfinished())),
        )
    if table == "events":
        return sa.select(Event.id).where(Event.created_at < cutoff, Event.subject_id.not_in(_live_subjects()))
    if table == "offloaded_assets":
        hops_done = sa.select(Hop.id).where(Hop.mission_id.in_(_finished_before(cutoff)))
        return sa.select(Asset.id).where(
            Asset.content_ref.is_not(None),
            sa.or_(
                sa.and_(
                    Asset.scope_type == AssetScopeType.MISSION, Asset.scope_id.in_(_finished_before(cutoff))
                ),
                sa.and_(Asset.scope_type == AssetScopeType.HOP, Asset.scope_id.in_(hops_done)),
            ),
        )
    raise ValueError(f"unknown retention table {table!r} (known: {', '.join(TABLES)})")


def count_prunable(session: Session, cutoff: datetime) -> dict[str, int]:
    return {
        table: int(
            session.scalar(sa.select(sa.func.count()).select_from(candidates(table, cutoff).subquery())) or 0
        )
        for table in TABLES
    }


def artifact_paths(session: Session, ids: list[str]) -> list[str]:
    return list(session.scalars(sa.select(RunArtifact.path).where(RunArtifact.id.in_(ids))))


def prune_batch(session: Session, table: str, cutoff: datetime, batch: int) -> tuple[int, list[str]]:
    """Delete (or, for offloaded assets, release) one batch; returns (rows, files to remove afterwards)."""
    ids = list(session.scalars(candidates(table, cutoff).limit(batch)))
    if not ids:
        return 0, []
    files: list[str] = []
    if table == "agent_run_logs":
        files = list(
            session.scalars(
                sa.select(RunArtifact.path)
                .join(AgentRunLog, AgentRunLog.run_id == RunArtifact.run_id)
                .where(AgentRunLog.id.in_(ids))
            )
        )
        session.execute(
            sa.delete(RunArtifact).where(
                RunArtifact.run_id.in_(sa.select(AgentRunLog.run_id).where(AgentRunLog.id.in_(ids)))
            )
        )
        session.execute(sa.delete(AgentRunLog).where(AgentRunLog.id.in_(ids)))
    elif table == "run_artifacts":
        files = artifact_paths(session, ids)
        session.execute(sa.delete(RunArtifact).where(RunArtifact.id.in_(ids)))
    elif table == "llm_calls":
        session.execute(sa.delete(LLMCall).where(LLMCall.id.in_(ids)))
    elif table == "events":
        session.execute(sa.delete(Event).where(Event.id.in_(ids)))
    else:
        for asset in session.scalars(sa.select(Asset).where(Asset.id.in_(ids))):
            files.append(asset.content_ref or "")
            asset.content_ref = None
            if asset.status == AssetStatus.READY:
                transition(session, asset, AssetStatus.EXPIRED, reason="pruned: offloaded content removed")
    session.flush()
    return len(ids), [f for f in files if f]
