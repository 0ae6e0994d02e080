"""The run log: one AgentRunLog per Prefect flow run, its LLM calls and the files it wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import (
    CycleStatus,
    CycleStopReason,
    ModelTier,
    RunArtifactKind,
    RunStatus,
    TriggerType,
)
from hopflow.models.orm.base import Base, Timestamped, created_at_col, enum_type, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column


class AgentRunLog(Timestamped, Base):
    __tablename__ = "agent_run_logs"
    __table_args__ = (
        # seed 002: "since last successful run" is a lookup by configuration, status, end time.
        sa.Index("ix_agent_run_logs_since_success", "agent_configuration_id", "status", "end_time"),
        sa.Index("ix_agent_run_logs_start_time", "start_time"),
    )

    id: Mapped[uuid_pk]
    run_id: Mapped[str] = mapped_column(sa.String(36), unique=True)  # the Prefect flow run id
    flow_name: Mapped[str | None]
    deployment_id: Mapped[str | None] = mapped_column(sa.String(36))
    agent_configuration_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="SET NULL")
    )
    agent_entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id", ondelete="SET NULL"))
    mission_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("missions.id", ondelete="SET NULL"), index=True
    )
    parent_run_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    triggered_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    trigger_type: Mapped[TriggerType] = mapped_column(enum_type(TriggerType), default=TriggerType.MANUAL)
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus), default=RunStatus.PENDING)
    prefect_state: Mapped[str | None] = mapped_column(sa.String(32))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    duration_ms: Mapped[int] = mapped_column(default=0)
    input_params_snapshot: Mapped[dict[str, Any] | None]
    output_preview: Mapped[str | None] = mapped_column(sa.Text)
    full_output_ref: Mapped[str | None] = mapped_column(sa.String(1024))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    logs_ref: Mapped[str | None] = mapped_column(sa.String(1024))
    # seed 003's think-cycle metrics
    cycle_number: Mapped[int] = mapped_column(default=0)
    inbox_event_count: Mapped[int] = mapped_column(default=0)
    step_count: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cycle_status: Mapped[CycleStatus | None] = mapped_column(enum_type(CycleStatus))
    trigger_payload: Mapped[dict[str, Any] | None]
    model_tier: Mapped[ModelTier | None] = mapped_column(enum_type(ModelTier))
    model_reason: Mapped[str | None] = mapped_column(sa.String(255))
    stop_reason: Mapped[CycleStopReason | None] = mapped_column(enum_type(CycleStopReason))
    living_config_version: Mapped[int | None]
    # seed 002's directive snapshot and window
    directive_id: Mapped[str | None] = mapped_column(sa.ForeignKey("directives.id", ondelete="SET NULL"))
    directive_snapshot: Mapped[dict[str, Any] | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]


class LLMCall(Base):
    """One LLM call (seed 002 LLMCall + 000 PromptUsageLog). Texts only when prompt storage is full."""

    __tablename__ = "llm_calls"

    id: Mapped[uuid_pk]
    flow_run_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    mission_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("missions.id", ondelete="SET NULL"), index=True
    )
    tool_step_id: Mapped[str | None] = mapped_column(sa.ForeignKey("tool_steps.id", ondelete="SET NULL"))
    agent_configuration_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(64))
    model: Mapped[str] = mapped_column(sa.String(128), index=True)
    prompt_slug: Mapped[str | None] = mapped_column(index=True)
    prompt_title: Mapped[str | None]
    purpose: Mapped[str | None]
    used_by: Mapped[str | None] = mapped_column(index=True)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[int] = mapped_column(default=0)
    storage_mode: Mapped[str] = mapped_column(sa.String(16), default="none")
    prompt_chars: Mapped[int | None]
    output_chars: Mapped[int | None]
    prompt_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    output_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    prompt_text: Mapped[str | None] = mapped_column(sa.Text)
    output_text: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    extra_data: Mapped[dict[str, Any] | None]
    created_at: Mapped[created_at_col]


class RunArtifact(Base):
    """A file a run wrote under HOPFLOW_LOGS (seed 002)."""

    __tablename__ = "run_artifacts"
    __table_args__ = (sa.UniqueConstraint("run_id", "path"),)

    id: Mapped[uuid_pk]
    run_id: Mapped[str] = mapped_column(
        sa.ForeignKey("agent_run_logs.run_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[RunArtifactKind] = mapped_column(enum_type(RunArtifactKind))
    path: Mapped[str] = mapped_column(sa.String(1024))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[created_at_col]


class SyncWatermark(Base):
    """Where the sync_run_logs reconciler stopped reading Prefect, per source."""

    __tablename__ = "sync_watermarks"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[datetime | None]
    updated_at: Mapped[created_at_col]
