"""Versions of an agent configuration's values: each `agents reconfigure` adds one, like directives."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.access.rows import require
from hopflow.models.access.status import record_event
from hopflow.models.orm import AgentConfiguration, AgentConfigurationVersion
from sqlalchemy.orm import Session


def list_configuration_versions(session: Session, configuration_id: str) -> list[AgentConfigurationVersion]:
    """Every stored version, newest first."""
    return list(
        session.scalars(
            sa.select(AgentConfigurationVersion)
            .where(AgentConfigurationVersion.agent_configuration_id == configuration_id)
            .order_by(AgentConfigurationVersion.version.desc())
        )
    )


def current_version_number(session: Session, configuration_id: str) -> int:
    """The version the configuration row holds: 1 until it is first reconfigured."""
    latest = session.scalar(
        sa.select(sa.func.max(AgentConfigurationVersion.version)).where(
            AgentConfigurationVersion.agent_configuration_id == configuration_id
        )
    )
    return int(latest or 1)


def update_configuration_values(
    session: Session,
    configuration: AgentConfiguration,
    *,
    yaml_config: str,
    effective_config: dict[str, Any],
    description: str | None = None,
    created_by_user_id: int | None = None,
) -> AgentConfigurationVersion:
    """Store new values as the next version and make them current; the first reconfigure also keeps
    what `agents configure` stored, as version 1. The configuration row is locked meanwhile, so two
    writers cannot take the same version number."""
    locked = require(session, AgentConfiguration, configuration.id, lock=True)
    previous = current_version_number(session, locked.id)
    if not session.scalar(
        sa.select(sa.func.count()).where(AgentConfigurationVersion.agent_configuration_id == locked.id)
    ):
        session.add(
            AgentConfigurationVersion(
                agent_configuration_id=locked.id, version=1, yaml_config=locked.yaml_config,
                effective_config=locked.effective_config_cache, description=locked.description,
                created_by_user_id=locked.created_by_user_id,
            )
        )  # fmt: skip
    version = AgentConfigurationVersion(
        agent_configuration_id=locked.id,
        version=previous + 1,
        yaml_config=yaml_config,
        effective_config=effective_config,
        description=description if description is not None else locked.description,
        created_by_user_id=created_by_user_id,
    )
    session.add(version)
    locked.yaml_config = yaml_config
    locked.effective_config_cache = effective_config
    if description is not None:
        locked.description = description
    session.flush()
    record_event(
        session,
        action="agent_configuration_reconfigured",
        subject_type="agent_configurations",
        subject_id=locked.id,
        actor_user_id=created_by_user_id,
        before={"version": previous},
        after={"version": version.version},
    )
    return version
