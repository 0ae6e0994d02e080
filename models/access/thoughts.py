"""Thought logs (seed 000 AgentThoughtLog): short reasoning summaries of an entity, never a prompt,
linked to the tool step or memory they were about, read newest first."""

from __future__ import annotations

import sqlalchemy as sa
from hopflow.models.enums import EntityType
from hopflow.models.orm import Entity, ThoughtLog
from sqlalchemy.orm import Session

MAX_THOUGHT = 2_000
MAX_STAGE = 64


def ensure_agent_entity(session: Session, name: str) -> Entity:
    """The agent entity of this name, created on first use (planners, tools without a configuration)."""
    entity = session.scalars(
        sa.select(Entity).where(Entity.name == name, Entity.entity_type == EntityType.AGENT).limit(1)
    ).first()
    if entity is None:
        entity = Entity(name=name, entity_type=EntityType.AGENT, specialty="planning")
        session.add(entity)
        session.flush()
    return entity


def record_thought(
    session: Session,
    *,
    entity_id: str,
    thought: str,
    stage: str | None = None,
    tool_step_id: str | None = None,
    memory_context_id: str | None = None,
) -> ThoughtLog | None:
    """One thought, cut to MAX_THOUGHT characters; an empty one is not worth a row (returns None)."""
    text = (thought or "").strip()
    if not text:
        return None
    if len(text) > MAX_THOUGHT:
        text = text[: MAX_THOUGHT - 1] + "…"
    row = ThoughtLog(
        entity_id=entity_id,
        thought=text,
        stage=(stage or None) and stage[:MAX_STAGE],
        tool_step_id=tool_step_id,
        memory_context_id=memory_context_id,
    )
    session.add(row)
    session.flush()
    return row


def list_thoughts(
    session: Session, entity: str, *, stage: str | None = None, limit: int = 50
) -> list[ThoughtLog]:
    """Thoughts of an entity (id or name), newest first."""
    row = (
        session.get(Entity, entity) or session.scalars(sa.select(Entity).where(Entity.name == entity)).first()
    )
    if row is None:
        raise LookupError(f"no entity (human or agent) with id or name {entity!r}")
    query = sa.select(ThoughtLog).where(ThoughtLog.entity_id == row.id)
    if stage is not None:
        query = query.where(ThoughtLog.stage == stage)
    return list(session.scalars(query.order_by(ThoughtLog.created_at.desc()).limit(limit)))
