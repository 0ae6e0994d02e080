"""Actors: users, workspaces and the entities (human or agent) that act (seeds 000, 001, 003, 004)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import EntityStatus, EntityType
from hopflow.models.orm.base import Base, Timestamped, enum_type, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column


class Entity(Timestamped, Base):
    """Every actor, human or agent. A User and an AgentConfiguration each own one."""

    __tablename__ = "entities"

    id: Mapped[uuid_pk]
    name: Mapped[str]
    entity_type: Mapped[EntityType] = mapped_column(enum_type(EntityType), index=True)
    specialty: Mapped[str | None] = mapped_column(index=True)
    contact: Mapped[str | None]
    # "metadata" is reserved on declarative classes; the column keeps the seed's name.
    entity_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    status: Mapped[EntityStatus] = mapped_column(enum_type(EntityStatus), default=EntityStatus.ACTIVE)


class User(Timestamped, Base):
    __tablename__ = "users"

    # seed 004 references users.user_id as an integer; hopflow keeps the integer, named id.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str | None]
    entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id", ondelete="SET NULL"))


class Workspace(Timestamped, Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    owner_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
