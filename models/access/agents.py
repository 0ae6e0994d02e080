"""Agent definitions, their playbooks and configurations, directives: reads and writes that only flush.

Validation (inputs, triggers, versions, webhook routes) happens in tasks/agents.py before any of
these is called, so a caller that writes has already checked everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.status import record_event, transition
from hopflow.models.access.tags import ids_tagged, normalise_tags
from hopflow.models.enums import (
    AgentConfigurationStatus,
    EntityType,
    LastRunStatus,
    RunStatus,
    is_terminal,
)
from hopflow.models.orm import (
    AgentConfiguration,
    AgentDefinition,
    Entity,
    Playbook,
    Workspace,
)
from hopflow.models.orm.base import new_id
from sqlalchemy.orm import Session, selectinload

# Blueprint fields stored as they are (the rest: triggers, inputs, outputs, stack, memory, playbooks).
DEFINITION_FIELDS = (
    "name", "version", "status", "epithet", "tagline", "introduction_text", "archetype", "dna_phrase",
    "core_capabilities", "essence_punch", "essence_interpretation", "description", "category",
    "triggers_config", "inputs_schema", "outputs_config", "stack_details", "memory_config",
    "default_file_structure_template", "key_files_and_paths", "scheduling_and_triggers_summary",
    "kpis_definition", "failure_fallback_strategy", "example_integration_flow", "dynamic_expansion_notes",
    "escape_the_obvious_feature", "underlying_services_required", "concurrency_limit",
)  # fmt: skip
PLAYBOOK_FIELDS = ("description", "trigger_event_type", "steps", "is_active", "is_default")


# --- definitions ---------------------------------------------------------------------------------
def read_definition(session: Session, ref: str) -> AgentDefinition | None:
    """By id, else by (unique) name."""
    definition = session.get(AgentDefinition, ref)
    if definition is None:
        definition = session.scalars(sa.select(AgentDefinition).where(AgentDefinition.name == ref)).first()
    return definition


def list_definitions(session: Session, *, tags: Iterable[str] | None = None) -> list[AgentDefinition]:
    """Every definition by id; with `tags`, only those carrying all of them."""
    query = (
        sa.select(AgentDefinition)
        .options(selectinload(AgentDefinition.playbooks), selectinload(AgentDefinition.configurations))
        .order_by(AgentDefinition.id)
    )
    names = normalise_tags(tags)
    if names:
        query = query.where(AgentDefinition.id.in_(ids_tagged("agent_definitions", names)))
    return list(session.scalars(query))


def upsert_definition(
    session: Session, definition_id: str, fields: dict[str, Any], playbooks: list[dict[str, Any]]
) -> tuple[AgentDefinition, str]:
    """Insert or update a definition and replace its definition-level playbooks (matched by name).

    Returns the row and what happened: "created", "updated" or "unchanged".
    """
    unknown = set(fields) - set(DEFINITION_FIELDS)
    if unknown:
        raise TypeError(f"upsert_definition: unknown field(s) {', '.join(sorted(unknown))}")
    definition = session.get(AgentDefinition, definition_id)
    before: dict[str, Any] | None = None
    if definition is None:
        definition = AgentDefinition(id=definition_id, **fields)
        session.add(definition)
        action = "created"
    else:
        before = {"version": definition.version}
        changed = [name for name, value in fields.items() if getattr(definition, name) != value]
        for name in changed:
            setattr(definition, name, fields[name])
        action = "updated" if changed else "unchanged"
    session.flush()
    if _replace_playbooks(session, definition, playbooks) and action == "unchanged":
        action = "updated"
    if action != "unchanged":
        record_event(
            session,
            action=f"agent_definition_{action}",
            subject_type="agent_definitions",
            subject_id=definition.id,
            before=before,
            after={"version": definition.version, "name": definition.name},
        )
    session.flush()
    return definition, action


def _replace_playbooks(
    session: Session, definition: AgentDefinition, playbooks: list[dict[str, Any]]
) -> bool:
    existing = {
        p.name: p
        for p in session.scalars(
            sa.select(Playbook).where(
                Playbook.agent_definition_id == definition.id, Playbook.agent_configuration_id.is_(None)
            )
        )
    }
    changed = False
    for data in playbooks:
        row = existing.pop(data["name"], None)
        values = {k: data[k] for k in PLAYBOOK_FIELDS if k in data}
        if row is None:
            session.add(Playbook(agent_definition_id=definition.id, name=data["name"], **values))
            changed = True
            continue
        for key, value in values.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
    for row in existing.values():
        session.delete(row)
        changed = True
    session.flush()
    return changed


def read_playbooks(session: Session, definition_id: str) -> list[Playbook]:
    return list(
        session.scalars(
            sa.select(Playbook)
            .where(Playbook.agent_definition_id == definition_id, Playbook.agent_configuration_id.is_(None))
            .order_by(Playbook.created_at, Playbook.name)
        )
    )


# --- configurations ------------------------------------------------------------------------------
def read_configuration(session: Session, ref: str) -> AgentConfiguration | None:
    """By id, else by (unique) name."""
    configuration = session.get(AgentConfiguration, ref)
    if configuration is None:
        configuration = session.scalars(
            sa.select(AgentConfiguration).where(AgentConfiguration.name == ref)
        ).first()
    return configuration


def list_configurations(
    session: Session,
    *,
    statuses: Iterable[AgentConfigurationStatus] | None = None,
    definition_id: str | None = None,
) -> list[AgentConfiguration]:
    """Configurations with their definitions loaded, by name."""
    stmt = (
        sa.select(AgentConfiguration)
        .options(selectinload(AgentConfiguration.definition).selectinload(AgentDefinition.playbooks))
        .order_by(AgentConfiguration.name)
    )
    if statuses is not None:
        stmt = stmt.where(AgentConfiguration.status.in_(list(statuses)))
    if definition_id is not None:
        stmt = stmt.where(AgentConfiguration.agent_definition_id == definition_id)
    return list(session.scalars(stmt))


def read_configuration_names(session: Session) -> list[str]:
    """Every configuration's name, whatever its status."""
    return list(session.scalars(sa.select(AgentConfiguration.name).order_by(AgentConfiguration.name)))


def read_active_configurations(session: Session) -> list[AgentConfiguration]:
    return list_configurations(session, statuses=[AgentConfigurationStatus.ACTIVE])


def create_configuration(
    session: Session,
    *,
    definition: AgentDefinition,
    name: str,
    yaml_config: str,
    effective_config: dict[str, Any],
    configuration_id: str | None = None,
    external_memory_namespace: str | None = None,
    workspace_id: str | None = None,
    description: str | None = None,
    created_by_user_id: int | None = None,
) -> AgentConfiguration:
    """A configuration of `definition` and the agent entity that acts for it (seed 003's actor)."""
    configuration_id = configuration_id or new_id()
    entity = Entity(
        name=name,
        entity_type=EntityType.AGENT,
        specialty=definition.name,
        entity_metadata={"agent_definition_id": definition.id, "agent_configuration_id": configuration_id},
    )
    session.add(entity)
    session.flush()
    configuration = AgentConfiguration(
        id=configuration_id,
        name=name,
        agent_definition_id=definition.id,
        workspace_id=workspace_id,
        entity_id=entity.id,
        description=description,
        created_by_user_id=created_by_user_id,
        yaml_config=yaml_config,
        effective_config_cache=effective_config,
        external_memory_namespace=external_memory_namespace,
        last_run_status=LastRunStatus.IDLE,
        status=AgentConfigurationStatus.ACTIVE,
    )
    session.add(configuration)
    session.flush()
    record_event(
        session,
        action="agent_configuration_created",
        subject_type="agent_configurations",
        subject_id=configuration.id,
        actor_user_id=created_by_user_id,
        after={"name": name, "agent_definition_id": definition.id, "version": definition.version},
    )
    session.flush()
    return configuration


def set_configuration_status(
    session: Session, configuration: AgentConfiguration, status: AgentConfigurationStatus, reason: str | None
) -> bool:
    """Through the status machine (archived is final); True when the status changed."""
    event = transition(session, configuration, status, actor_entity_id=configuration.entity_id, reason=reason)
    session.flush()
    return event is not None


def record_configuration_run(
    session: Session,
    configuration_id: str,
    *,
    run_id: str,
    status: LastRunStatus,
    started_at: datetime,
    output_preview: str | None = None,
    full_output_ref: str | None = None,
) -> bool:
    """Set last_run_* from a run, unless a run that started later is already recorded, or this run's
    outcome is: a late mirror of its running state (a reconciler that read Prefect before the run
    ended) does not take back its success, error or cancellation. A terminal status may still correct
    another (a success Prefect later reports crashed becomes an error), as the run log's machine allows.
    """
    configuration = session.get(AgentConfiguration, configuration_id, with_for_update=True)
    if configuration is None:
        return False
    if (
        configuration.last_run_id not in (None, run_id)
        and configuration.last_run_at is not None
        and started_at < configuration.last_run_at
    ):
        return False
    if (
        configuration.last_run_id == run_id
        and configuration.last_run_status is not None
        and is_terminal(RunStatus(configuration.last_run_status.value))
        and not is_terminal(RunStatus(status.value))
    ):
        return False
    configuration.last_run_id = run_id
    configuration.last_run_at = started_at
    configuration.last_run_status = status
    if output_preview is not None:
        configuration.last_run_output_preview = output_preview
    if full_output_ref is not None:
        configuration.last_run_full_output_ref = full_output_ref
    session.flush()
    return True


# --- workspaces and directives -------------------------------------------------------------------
def ensure_workspace(session: Session, ref: str, owner_user_id: int | None = None) -> tuple[Workspace, bool]:
    """The workspace with this id or name, created by name on first use; (workspace, created)."""
    workspace = session.get(Workspace, ref)
    if workspace is None:
        workspace = session.scalars(sa.select(Workspace).where(Workspace.name == ref)).first()
    if workspace is not None:
        return workspace, False
    workspace = Workspace(name=ref, owner_user_id=owner_user_id)
    session.add(workspace)
    session.flush()
    return workspace, True
