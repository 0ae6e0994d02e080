"""Agents of seed 001: blueprints (definitions), their configured instances, playbooks,
directives (seed 002) and what a configuration may touch (seed 002's allowlist and inventory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import AgentConfigurationStatus, AgentDefinitionStatus, LastRunStatus
from hopflow.models.orm.base import Base, Timestamped, created_at_col, enum_type, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column, relationship


class AgentDefinition(Timestamped, Base):
    __tablename__ = "agent_definitions"

    # Blueprint ids look like "agent_001"; UUIDs fit too.
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    epithet: Mapped[str | None]
    tagline: Mapped[str | None]
    introduction_text: Mapped[str | None] = mapped_column(sa.Text)
    archetype: Mapped[str | None]
    dna_phrase: Mapped[str | None]
    core_capabilities: Mapped[list[str] | None]
    essence_punch: Mapped[str | None]
    essence_interpretation: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str | None] = mapped_column(sa.Text)
    triggers_config: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    inputs_schema: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    outputs_config: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    stack_details: Mapped[dict[str, Any] | None]
    memory_config: Mapped[dict[str, Any] | None]
    default_file_structure_template: Mapped[str | None] = mapped_column(sa.Text)
    key_files_and_paths: Mapped[dict[str, Any] | None]
    scheduling_and_triggers_summary: Mapped[str | None] = mapped_column(sa.Text)
    kpis_definition: Mapped[str | None] = mapped_column(sa.Text)
    failure_fallback_strategy: Mapped[str | None] = mapped_column(sa.Text)
    example_integration_flow: Mapped[str | None] = mapped_column(sa.Text)
    dynamic_expansion_notes: Mapped[str | None] = mapped_column(sa.Text)
    escape_the_obvious_feature: Mapped[str | None] = mapped_column(sa.Text)
    underlying_services_required: Mapped[list[str] | None]
    category: Mapped[str | None]
    # How many runs of one configuration may run at once; extra runs queue in Prefect.
    concurrency_limit: Mapped[int] = mapped_column(default=1)
    status: Mapped[AgentDefinitionStatus] = mapped_column(
        enum_type(AgentDefinitionStatus), default=AgentDefinitionStatus.DRAFT
    )

    configurations: Mapped[list[AgentConfiguration]] = relationship(back_populates="definition")
    playbooks: Mapped[list[Playbook]] = relationship(
        back_populates="definition", foreign_keys="Playbook.agent_definition_id"
    )


class AgentConfiguration(Timestamped, Base):
    __tablename__ = "agent_configurations"

    id: Mapped[uuid_pk]
    # Deployment names derive from it, so it is unique across workspaces.
    name: Mapped[str] = mapped_column(unique=True)
    workspace_id: Mapped[str | None] = mapped_column(sa.ForeignKey("workspaces.id"), index=True)
    agent_definition_id: Mapped[str] = mapped_column(sa.ForeignKey("agent_definitions.id"), index=True)
    entity_id: Mapped[str | None] = mapped_column(sa.ForeignKey("entities.id", ondelete="SET NULL"))
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    yaml_config: Mapped[str] = mapped_column(sa.Text, default="")
    effective_config_cache: Mapped[dict[str, Any] | None]
    external_memory_namespace: Mapped[str | None]
    last_run_status: Mapped[LastRunStatus | None] = mapped_column(enum_type(LastRunStatus))
    last_run_at: Mapped[datetime | None]
    last_run_id: Mapped[str | None] = mapped_column(sa.String(36))
    last_run_output_preview: Mapped[str | None] = mapped_column(sa.Text)
    last_run_full_output_ref: Mapped[str | None] = mapped_column(sa.String(1024))
    status: Mapped[AgentConfigurationStatus] = mapped_column(
        enum_type(AgentConfigurationStatus), default=AgentConfigurationStatus.ACTIVE, index=True
    )

    definition: Mapped[AgentDefinition] = relationship(back_populates="configurations")


class Playbook(Timestamped, Base):
    """A mission template: its steps become hops and tool steps when a run starts."""

    __tablename__ = "playbooks"

    id: Mapped[uuid_pk]
    agent_definition_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("agent_definitions.id", ondelete="CASCADE"), index=True
    )
    agent_configuration_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str | None] = mapped_column(sa.ForeignKey("workspaces.id"), index=True)
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(sa.Text)
    trigger_event_type: Mapped[str | None]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)

    definition: Mapped[AgentDefinition | None] = relationship(
        back_populates="playbooks", foreign_keys=[agent_definition_id]
    )


class Directive(Base):
    """Versioned instruction text of a configuration (seed 002); runs snapshot the one they used."""

    __tablename__ = "directives"
    __table_args__ = (sa.UniqueConstraint("agent_configuration_id", "version"),)

    id: Mapped[uuid_pk]
    agent_configuration_id: Mapped[str] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    name: Mapped[str | None]
    text: Mapped[str] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at_col]


class AgentConfigurationVersion(Base):
    """One version of a configuration's values (`hopflow agents reconfigure`), kept like directives:
    version 1 is what `agents configure` stored; the configuration row holds the newest."""

    __tablename__ = "agent_configuration_versions"
    __table_args__ = (sa.UniqueConstraint("agent_configuration_id", "version"),)

    id: Mapped[uuid_pk]
    agent_configuration_id: Mapped[str] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    yaml_config: Mapped[str] = mapped_column(sa.Text, default="")
    effective_config: Mapped[dict[str, Any] | None]
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[created_at_col]


class ToolAllowlist(Base):
    """Which tools a configuration may call, and container tools on which containers (seed 002's
    ContainerAllowlist, generalised). A configuration with no rows is unrestricted, except for the
    container tools that act on a container (logs, restart): those need a row naming the container."""

    __tablename__ = "tool_allowlist"
    # One row per (configuration, tool, container); the access layer keeps NULL containers unique too,
    # which a unique constraint cannot do on both backends.
    __table_args__ = (sa.UniqueConstraint("agent_configuration_id", "tool_id", "container_id"),)

    id: Mapped[uuid_pk]
    agent_configuration_id: Mapped[str] = mapped_column(
        sa.ForeignKey("agent_configurations.id", ondelete="CASCADE")
    )
    tool_id: Mapped[str]
    container_id: Mapped[str | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at_col]


class ContainerInventory(Base):
    """A snapshot of one container as the docker tool saw it (seed 002)."""

    __tablename__ = "container_inventory"
    __table_args__ = (sa.Index("ix_container_inventory_container_snapshot", "container_id", "snapshot_at"),)

    id: Mapped[uuid_pk]
    container_id: Mapped[str] = mapped_column(sa.String(128))
    name: Mapped[str | None]
    image: Mapped[str | None] = mapped_column(sa.String(512))
    state: Mapped[str | None] = mapped_column(sa.String(64))
    labels: Mapped[dict[str, Any] | None]
    # When the engine created the container, and its published ports as the engine reports them.
    container_created_at: Mapped[datetime | None]
    ports: Mapped[dict[str, Any] | None]
    snapshot_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[created_at_col]
