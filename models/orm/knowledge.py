"""Seed 000's knowledge and planning: memory, projects, plans and their tasks, thoughts,
faults and reflections. Seed 000's Task is PlanTask here: "task" belongs to Prefect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import FaultSeverity, FaultStatus, MemoryTargetType, PlanStatus, PlanTaskStatus
from hopflow.models.orm.base import Base, Timestamped, created_at_col, enum_type, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column, relationship


class MemoryContext(Timestamped, Base):
    """Memory about any target (seed 000), or an agent's key-value memory (seed 003) when key is set."""

    __tablename__ = "memory_contexts"
    __table_args__ = (
        sa.Index("ix_memory_contexts_target", "target_type", "target_id"),
        sa.UniqueConstraint("target_type", "target_id", "key"),
    )

    id: Mapped[uuid_pk]
    target_type: Mapped[MemoryTargetType] = mapped_column(enum_type(MemoryTargetType))
    target_id: Mapped[str]
    key: Mapped[str | None]
    content: Mapped[str] = mapped_column(sa.Text)
    important: Mapped[bool] = mapped_column(default=False)
    category: Mapped[str | None]


class Project(Timestamped, Base):
    __tablename__ = "projects"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Plan(Timestamped, Base):
    __tablename__ = "plans"

    id: Mapped[uuid_pk]
    title: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str | None] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    memory_context_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("memory_contexts.id", ondelete="SET NULL")
    )
    status: Mapped[PlanStatus] = mapped_column(enum_type(PlanStatus), default=PlanStatus.DRAFT, index=True)
    version: Mapped[int] = mapped_column(default=1)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    tasks: Mapped[list[PlanTask]] = relationship(back_populates="plan", order_by="PlanTask.sort_order")


class PlanTask(Timestamped, Base):
    __tablename__ = "plan_tasks"

    id: Mapped[uuid_pk]
    title: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[PlanTaskStatus] = mapped_column(
        enum_type(PlanTaskStatus), default=PlanTaskStatus.OPEN, index=True
    )
    plan_id: Mapped[str | None] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    assigned_to_entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id"), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    estimated_effort: Mapped[str | None] = mapped_column(sa.String(64))
    sort_order: Mapped[int] = mapped_column(default=0)
    due_date: Mapped[datetime | None] = mapped_column(index=True)
    # What `hopflow plans run` turns into a hop: a hop in the mission spec format (steps, ...).
    hop_spec: Mapped[dict[str, Any] | None]
    # The hop that last ran this task: the task's status follows it (tasks.knowledge.following).
    hop_id: Mapped[str | None] = mapped_column(sa.ForeignKey("hops.id", ondelete="SET NULL"), index=True)

    plan: Mapped[Plan | None] = relationship(back_populates="tasks")


class ThoughtLog(Base):
    __tablename__ = "thought_logs"
    __table_args__ = (sa.Index("ix_thought_logs_entity_created", "entity_id", "created_at"),)

    id: Mapped[uuid_pk]
    entity_id: Mapped[str] = mapped_column(sa.ForeignKey("entities.id", ondelete="CASCADE"))
    thought: Mapped[str] = mapped_column(sa.Text)
    thought_trace: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[str | None] = mapped_column(sa.String(64))
    tool_step_id: Mapped[str | None] = mapped_column(sa.ForeignKey("tool_steps.id", ondelete="SET NULL"))
    memory_context_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("memory_contexts.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_at_col]


class Fault(Timestamped, Base):
    """A defect found while working: a failed ToolStep opens one."""

    __tablename__ = "faults"

    id: Mapped[uuid_pk]
    plan_task_id: Mapped[str | None] = mapped_column(sa.ForeignKey("plan_tasks.id", ondelete="SET NULL"))
    mission_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    tool_step_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tool_steps.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[FaultStatus] = mapped_column(enum_type(FaultStatus), default=FaultStatus.OPEN, index=True)
    severity: Mapped[FaultSeverity] = mapped_column(enum_type(FaultSeverity), default=FaultSeverity.MEDIUM)
    assigned_to_entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id"))
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    fixed_at: Mapped[datetime | None]


reflection_memories = sa.Table(
    "reflection_memories",
    Base.metadata,
    sa.Column("reflection_id", sa.ForeignKey("reflections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("memory_context_id", sa.ForeignKey("memory_contexts.id", ondelete="CASCADE"), primary_key=True),
)


class Reflection(Base):
    __tablename__ = "reflections"

    id: Mapped[uuid_pk]
    title: Mapped[str]
    raw_summary: Mapped[str | None] = mapped_column(sa.Text)
    llm_summary: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[str | None] = mapped_column(sa.Text)
    important: Mapped[bool] = mapped_column(default=False)
    mood: Mapped[str | None] = mapped_column(sa.String(64))
    mission_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("missions.id", ondelete="SET NULL"), index=True
    )
    created_by_entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id"))
    created_at: Mapped[created_at_col]

    related_memories: Mapped[list[MemoryContext]] = relationship(secondary=reflection_memories)
