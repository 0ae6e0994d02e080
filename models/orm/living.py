"""Seed 003's living agent: its persistent consciousness and its idempotent inbox."""

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
    __table_args__ = (sa.UniqueConstraint("agent_entity_id", "event_id"),)

    id: Mapped[uuid_pk]
    agent_entity_id: Mapped[str] = mapped_column(sa.ForeignKey("entities.id", ondelete="CASCADE"))
    event_id: Mapped[str]
    event_type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    processed_at: Mapped[datetime | None]
    created_at: Mapped[created_at_col]
