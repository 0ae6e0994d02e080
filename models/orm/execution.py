"""The execution core of seed 004: missions, hops, tool steps and the assets they read and write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import (
    AssetRole,
    AssetScopeType,
    AssetStatus,
    HopStatus,
    MissionStatus,
    ToolExecutionStatus,
)
from hopflow.models.orm.base import Base, Timestamped, enum_type, uuid_pk
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship


class Mission(Timestamped, Base):
    __tablename__ = "missions"

    id: Mapped[uuid_pk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    goal: Mapped[str | None] = mapped_column(sa.Text)
    success_criteria: Mapped[list[str] | None]
    status: Mapped[MissionStatus] = mapped_column(
        enum_type(MissionStatus), default=MissionStatus.PROPOSED, index=True
    )
    # Circular with hops.mission_id: created after both tables (use_alter).
    current_hop_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("hops.id", use_alter=True, ondelete="SET NULL")
    )
    mission_metadata: Mapped[dict[str, Any] | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    agent_configuration_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="SET NULL"), index=True
    )
    flow_run_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    # One runner at a time (tasks/leases.py): the flow run holding the mission, and until when.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(36))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    current_hop: Mapped[Hop | None] = relationship(foreign_keys=[current_hop_id], post_update=True)
    hops: Mapped[list[Hop]] = relationship(
        back_populates="mission",
        cascade="all, delete-orphan",
        order_by="Hop.sequence_order",
        foreign_keys="Hop.mission_id",
    )
    assets: Mapped[list[Asset]] = relationship(
        primaryjoin=lambda: sa.and_(
            Mission.id == foreign(Asset.scope_id), Asset.scope_type == AssetScopeType.MISSION
        ),
        viewonly=True,
        order_by=lambda: Asset.created_at,
    )


class Hop(Timestamped, Base):
    __tablename__ = "hops"
    __table_args__ = (sa.UniqueConstraint("mission_id", "sequence_order"),)

    id: Mapped[uuid_pk]
    mission_id: Mapped[str] = mapped_column(sa.ForeignKey("missions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    sequence_order: Mapped[int]
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    goal: Mapped[str | None] = mapped_column(sa.Text)
    success_criteria: Mapped[list[str] | None]
    rationale: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[HopStatus] = mapped_column(enum_type(HopStatus), default=HopStatus.PROPOSED)
    is_final: Mapped[bool] = mapped_column(default=False)
    is_resolved: Mapped[bool] = mapped_column(default=False)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    hop_metadata: Mapped[dict[str, Any] | None]
    task_run_id: Mapped[str | None] = mapped_column(sa.String(36))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    mission: Mapped[Mission] = relationship(back_populates="hops", foreign_keys=[mission_id])
    tool_steps: Mapped[list[ToolStep]] = relationship(
        back_populates="hop", cascade="all, delete-orphan", order_by="ToolStep.sequence_order"
    )
    assets: Mapped[list[Asset]] = relationship(
        primaryjoin=lambda: sa.and_(
            Hop.id == foreign(Asset.scope_id), Asset.scope_type == AssetScopeType.HOP
        ),
        viewonly=True,
        order_by=lambda: Asset.created_at,
    )


class ToolStep(Timestamped, Base):
    __tablename__ = "tool_steps"
    __table_args__ = (sa.UniqueConstraint("hop_id", "sequence_order"),)

    id: Mapped[uuid_pk]
    hop_id: Mapped[str] = mapped_column(sa.ForeignKey("hops.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    tool_id: Mapped[str]
    sequence_order: Mapped[int]
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[ToolExecutionStatus] = mapped_column(
        enum_type(ToolExecutionStatus), default=ToolExecutionStatus.PROPOSED
    )
    # Mappings reference assets by id (seed 004): {"param": {"type": "asset", "asset_id": ...}}.
    parameter_mapping: Mapped[dict[str, Any] | None]
    result_mapping: Mapped[dict[str, Any] | None]
    resource_configs: Mapped[dict[str, Any] | None]
    validation_errors: Mapped[list[str] | None]
    execution_result: Mapped[dict[str, Any] | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    task_run_id: Mapped[str | None] = mapped_column(sa.String(36))
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    hop: Mapped[Hop] = relationship(back_populates="tool_steps")


class Asset(Timestamped, Base):
    __tablename__ = "assets"
    __table_args__ = (
        sa.Index("idx_assets_scope", "scope_type", "scope_id"),
        sa.Index("idx_assets_role", "role"),
        sa.Index("idx_assets_status", "status"),
        # mission_state / hop_state are keyed by name: one asset of a name per scope.
        sa.UniqueConstraint("scope_type", "scope_id", "name", name="uq_assets_scope_name"),
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    scope_type: Mapped[AssetScopeType] = mapped_column(enum_type(AssetScopeType))
    scope_id: Mapped[str]
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[str]
    subtype: Mapped[str | None]
    status: Mapped[AssetStatus] = mapped_column(enum_type(AssetStatus), default=AssetStatus.PENDING)
    role: Mapped[AssetRole] = mapped_column(enum_type(AssetRole))
    content: Mapped[Any | None] = mapped_column(
        sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    )
    content_summary: Mapped[str | None] = mapped_column(sa.Text)
    # Large content lives under HOPFLOW_DATA; the row keeps where and how big.
    content_ref: Mapped[str | None] = mapped_column(sa.String(1024))
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    db_entity_metadata: Mapped[dict[str, Any] | None]
    asset_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    produced_by_step_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tool_steps.id", ondelete="SET NULL"), index=True
    )
