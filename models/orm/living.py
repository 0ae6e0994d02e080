"""Seed 003's living agent: the agent, its config versions, its consciousness and its idempotent inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.orm.base import Base, Timestamped, created_at_col, utcnow, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column


class AgentConsciousness(Timestamped, Base):
    __tablename__ = "agent_consciousness"

    id: Mapped[uuid_pk]
    agent_entity_id: Mapped[str] = mapped_column(
        sa.ForeignKey("entities.id", ondelete="CASCADE"), unique=True
    )
    messages: Mapped[list[Any]] = mapped_column(default=list)
    cycle_count: Mapped[int] = mapped_column(default=0)
    token_estimate: Mapped[int] = mapped_column(default=0)
    last_cycle_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxEvent(Base):
    __tablename__ = "inbox_events"
    __table_args__ = (
        sa.UniqueConstraint("agent_entity_id", "event_id"),
        # The claim: an agent's unprocessed events, oldest first.
        sa.Index("ix_inbox_events_claim", "agent_entity_id", "processed_at", "created_at"),
    )

    id: Mapped[uuid_pk]
    agent_entity_id: Mapped[str] = mapped_column(sa.ForeignKey("entities.id", ondelete="CASCADE"))
    event_id: Mapped[str]
    event_type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    processed_at: Mapped[datetime | None]
    created_at: Mapped[created_at_col]


class LivingAgent(Timestamped, Base):
    """A living agent: its entity (status active/inactive), its name, its workspace, its cycle cron."""

    __tablename__ = "living_agents"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    entity_id: Mapped[str] = mapped_column(sa.ForeignKey("entities.id", ondelete="CASCADE"), unique=True)
    workspace_id: Mapped[str | None] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="SET NULL"))
    cron: Mapped[str | None] = mapped_column(sa.String(128))
    current_version: Mapped[int] = mapped_column(default=1)


class LivingAgentConfig(Base):
    """One version of a living agent's config JSON (as written: `${env.X}` references, never values)."""

    __tablename__ = "living_agent_configs"
    __table_args__ = (sa.UniqueConstraint("living_agent_id", "version"),)

    id: Mapped[uuid_pk]
    living_agent_id: Mapped[str] = mapped_column(sa.ForeignKey("living_agents.id", ondelete="CASCADE"))
    version: Mapped[int]
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[created_at_col]
