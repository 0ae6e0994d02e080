"""The unified audit store (seed 000 ActionLog, rec. 7) and one tagging scheme (rec. 3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.orm.base import Base, created_at_col, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column


class Event(Base):
    """Something that happened to a row: every status transition is one, with its before/after."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_subject", "subject_type", "subject_id", "created_at"),
        sa.Index("ix_events_created_at", "created_at"),
    )

    id: Mapped[uuid_pk]
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    actor_entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id", ondelete="SET NULL"))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    subject_type: Mapped[str] = mapped_column(sa.String(64))
    subject_id: Mapped[str]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[created_at_col]


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[created_at_col]


class Tagging(Base):
    __tablename__ = "taggings"
    __table_args__ = (
        sa.UniqueConstraint("tag_id", "target_type", "target_id"),
        sa.Index("ix_taggings_target", "target_type", "target_id"),
    )

    id: Mapped[uuid_pk]
    tag_id: Mapped[str] = mapped_column(sa.ForeignKey("tags.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(sa.String(64))
    target_id: Mapped[str]
    created_at: Mapped[created_at_col]
