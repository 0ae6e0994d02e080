"""What the run report reads: top-level runs started since a moment, with their agent, and the LLM
calls of those runs (a subflow's calls under its parent run); rows as dicts, writing nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.runs import started_runs
from hopflow.models.orm import AgentConfiguration, AgentRunLog, LLMCall
from sqlalchemy.orm import Session


def _started() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(AgentRunLog.start_time, AgentRunLog.created_at)


def read_report_runs(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Runs started (or, if never started, created) since `since`; a subflow run (an agent run's
    mission) is part of its parent run and is left out, so nothing is counted twice."""
    stmt = sa.select(
        AgentRunLog.run_id,
        AgentConfiguration.name.label("agent"),
        AgentRunLog.flow_name,
        AgentRunLog.status,
        AgentRunLog.start_time,
        AgentRunLog.end_time,
        AgentRunLog.duration_ms,
        AgentRunLog.prompt_tokens,
        AgentRunLog.completion_tokens,
    ).outerjoin(AgentConfiguration, AgentConfiguration.id == AgentRunLog.agent_configuration_id)
    stmt = stmt.where(AgentRunLog.parent_run_id.is_(None), started_runs())
    if since is not None:
        stmt = stmt.where(_started() >= since)
    return [
        {**row._asdict(), "status": row.status.value if row.status is not None else None}
        for row in session.execute(stmt)
    ]


def read_report_calls(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """The LLM calls of runs started since `since`, each under its top-level run."""
    stmt = sa.select(
        sa.func.coalesce(AgentRunLog.parent_run_id, AgentRunLog.run_id).label("run_id"),
        LLMCall.model,
        LLMCall.prompt_tokens,
        LLMCall.completion_tokens,
    ).join(AgentRunLog, AgentRunLog.run_id == LLMCall.flow_run_id)
    if since is not None:
        stmt = stmt.where(_started() >= since)
    return [row._asdict() for row in session.execute(stmt)]
