"""Living agents' data: the agent and its config versions, consciousness, inbox, a cycle's run-row status.

Every function takes a session and only flushes; the caller owns the unit of work. The one rule that
matters for crash recovery is in save_cycle: the consciousness and the claimed events' processed_at
change together, or neither does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from hopflow.models.access.rows import require
from hopflow.models.access.status import record_event, transition
from hopflow.models.enums import CycleStatus, EntityStatus, EntityType
from hopflow.models.orm import (
    AgentConsciousness,
    AgentRunLog,
    Entity,
    InboxEvent,
    LivingAgent,
    LivingAgentConfig,
    utcnow,
)
from hopflow.models.orm.base import new_id
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

LIVING_SPECIALTY = "living"
_INBOX = cast(sa.Table, InboxEvent.__table__)


class ConcurrentCycleError(RuntimeError):
    """Another cycle saved this consciousness (or processed a claimed event) first: nothing was saved."""


# --- the agent and its config versions -------------------------------------------------------------------
def read_living_agent(session: Session, name: str) -> LivingAgent | None:
    return session.scalars(sa.select(LivingAgent).where(LivingAgent.name == name)).one_or_none()


def list_living_agents(session: Session) -> list[LivingAgent]:
    return list(session.scalars(sa.select(LivingAgent).order_by(LivingAgent.name)))


def create_living_agent(
    session: Session,
    *,
    name: str,
    config: dict[str, Any],
    workspace_id: str | None = None,
    cron: str | None = None,
    description: str | None = None,
) -> LivingAgent:
    """The agent entity, the agent, config version 1 and an empty consciousness."""
    entity = Entity(
        name=name,
        entity_type=EntityType.AGENT,
        specialty=LIVING_SPECIALTY,
        entity_metadata={"description": description} if description else {},
    )
    session.add(entity)
    session.flush()
    agent = LivingAgent(
        name=name, entity_id=entity.id, workspace_id=workspace_id, cron=cron, current_version=1
    )
    session.add(agent)
    session.flush()
    session.add(LivingAgentConfig(living_agent_id=agent.id, version=1, config=config))
    session.add(AgentConsciousness(agent_entity_id=entity.id, messages=[], cycle_count=0, token_estimate=0))
    record_event(
        session,
        action="living_agent_created",
        subject_type="living_agents",
        subject_id=agent.id,
        after={"name": name, "config_version": 1},
    )
    session.flush()
    return agent


def add_config_version(session: Session, agent: LivingAgent, config: dict[str, Any]) -> LivingAgentConfig:
    """A new config version, made current; older versions stay (each cycle names the one it ran with)."""
    version = agent.current_version + 1
    row = LivingAgentConfig(living_agent_id=agent.id, version=version, config=config)
    session.add(row)
    agent.current_version = version
    record_event(
        session,
        action="living_config_versioned",
        subject_type="living_agents",
        subject_id=agent.id,
        before={"config_version": version - 1},
        after={"config_version": version},
    )
    session.flush()
    return row


def read_config(session: Session, agent: LivingAgent, version: int | None = None) -> LivingAgentConfig:
    wanted = agent.current_version if version is None else version
    return session.scalars(
        sa.select(LivingAgentConfig).where(
            LivingAgentConfig.living_agent_id == agent.id, LivingAgentConfig.version == wanted
        )
    ).one()


def set_agent_status(
    session: Session, agent: LivingAgent, status: EntityStatus, reason: str | None = None
) -> None:
    entity = require(session, Entity, agent.entity_id)
    transition(session, entity, status, reason=reason)
    session.flush()


# --- the consciousness -----------------------------------------------------------------------------------
def read_consciousness(session: Session, entity_id: str) -> AgentConsciousness:
    return session.scalars(
        sa.select(AgentConsciousness).where(AgentConsciousness.agent_entity_id == entity_id)
    ).one()


def save_cycle(
    session: Session,
    *,
    entity_id: str,
    expected_cycle_count: int,
    messages: list[dict[str, Any]],
    token_estimate: int,
    event_row_ids: Sequence[str],
    at: datetime | None = None,
) -> int:
    """Save the consciousness (cycle_count + 1) and mark the claimed events processed: both or neither.

    Conditional updates make a second writer lose instead of overwrite: the consciousness must still be
    at `expected_cycle_count` and every claimed event still unprocessed. Returns the new cycle count.
    """
    now = at or utcnow()
    saved: sa.CursorResult[Any] = session.execute(  # type: ignore[assignment]
        sa.update(AgentConsciousness)
        .where(
            AgentConsciousness.agent_entity_id == entity_id,
            AgentConsciousness.cycle_count == expected_cycle_count,
        )
        .values(
            messages=messages,
            cycle_count=expected_cycle_count + 1,
            token_estimate=token_estimate,
            last_cycle_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if saved.rowcount != 1:
        raise ConcurrentCycleError(
            f"agent entity {entity_id}: the consciousness is no longer at cycle {expected_cycle_count}"
        )
    ids = sorted(event_row_ids)
    marked = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result: sa.CursorResult[Any] = session.execute(  # type: ignore[assignment]
            sa.update(InboxEvent)
            .where(InboxEvent.id.in_(chunk), InboxEvent.processed_at.is_(None))
            .values(processed_at=now)
            .execution_options(synchronize_session=False)
        )
        marked += result.rowcount
    if marked != len(ids):
        raise ConcurrentCycleError(
            f"agent entity {entity_id}: {len(ids) - marked} of {len(ids)} claimed events processed elsewhere"
        )
    session.flush()
    return expected_cycle_count + 1


# --- the inbox ---------------------------------------------------------------------------------------------
def push_event(
    session: Session, *, entity_id: str, event_id: str, event_type: str, data: dict[str, Any]
) -> bool:
    """Insert the event unless (agent, event id) exists; True when it was new. A duplicate changes nothing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING rather than rowcount: a skipped conflict must read as "not new" on both backends.
    stmt = (
        insert(_INBOX)
        .values(
            id=new_id(),
            agent_entity_id=entity_id,
            event_id=event_id,
            event_type=event_type,
            data=data,
            processed_at=None,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["agent_entity_id", "event_id"])
        .returning(_INBOX.c.id)
    )
    return session.execute(stmt).first() is not None


def claim_events(session: Session, entity_id: str, limit: int) -> list[InboxEvent]:
    """The oldest unprocessed events, at most `limit`. Claiming writes nothing: a cycle that dies leaves
    them unprocessed for the next one; only save_cycle marks them."""
    return list(
        session.scalars(
            sa.select(InboxEvent)
            .where(InboxEvent.agent_entity_id == entity_id, InboxEvent.processed_at.is_(None))
            .order_by(InboxEvent.created_at, InboxEvent.id)
            .limit(limit)
        )
    )


def count_unprocessed(session: Session, entity_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count(InboxEvent.id)).where(
                InboxEvent.agent_entity_id == entity_id, InboxEvent.processed_at.is_(None)
            )
        )
        or 0
    )


# --- a cycle's run row -------------------------------------------------------------------------------------
class _CycleStatusView:
    """The run row seen through its cycle_status, so the one transition function moves it."""

    __tablename__ = "agent_run_logs"

    def __init__(self, row: AgentRunLog) -> None:
        self._row = row
        self.id = row.run_id

    @property
    def status(self) -> CycleStatus | None:
        return self._row.cycle_status

    @status.setter
    def status(self, value: CycleStatus) -> None:
        self._row.cycle_status = value


def set_cycle_status(
    session: Session, row: AgentRunLog, target: CycleStatus, *, reason: str | None = None
) -> None:
    """Move a cycle's status along CycleStatus's machine (a new row starts at running)."""
    if row.cycle_status is None:
        row.cycle_status = CycleStatus.RUNNING
        record_event(
            session,
            action="status_changed",
            subject_type="agent_run_logs",
            subject_id=row.run_id,
            before={"cycle_status": None},
            after={"status": CycleStatus.RUNNING.value},
        )
    transition(session, _CycleStatusView(row), target, reason=reason)
    session.flush()


def read_open_cycles(
    session: Session, entity_id: str, exclude_run_id: str | None = None
) -> list[AgentRunLog]:
    """This agent's cycle rows still running or waiting on a tool (after a crash: the killed cycle)."""
    stmt = sa.select(AgentRunLog).where(
        AgentRunLog.agent_entity_id == entity_id,
        AgentRunLog.cycle_status.in_([CycleStatus.RUNNING, CycleStatus.WAITING_TOOL]),
    )
    if exclude_run_id:
        stmt = stmt.where(AgentRunLog.run_id != exclude_run_id)
    return list(session.scalars(stmt))


def fail_open_cycle(session: Session, row: AgentRunLog, reason: str) -> bool:
    """A cycle whose process died: its status ends failed (the run log's own status follows Prefect).
    True when this call closed it, False when it was not open."""
    if row.cycle_status in (CycleStatus.RUNNING, CycleStatus.WAITING_TOOL):
        transition(session, _CycleStatusView(row), CycleStatus.FAILED, reason=reason)
        session.flush()
        return True
    return False
