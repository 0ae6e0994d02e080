"""Changing an agent configuration's values: checked like `agents configure`, stored as a new version."""

from __future__ import annotations

from pathlib import Path

import yaml
from hopflow.models.access.agent_versions import update_configuration_values
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.enums import AgentConfigurationStatus
from hopflow.models.schemas.agents import ConfigurationRead
from hopflow.tasks.agents.configuring import read_config_values
from hopflow.tasks.agents.errors import AgentSpecError
from hopflow.tasks.agents.inputs import check_input_values, effective_config, input_schema
from hopflow.tasks.agents.reading import _configuration
from hopflow.tasks.specs import SpecIssue, line_of


def reconfigure_agent(
    ref: str, *, values_path: Path, description: str | None = None
) -> tuple[ConfigurationRead, int]:
    """New values for configuration `ref` (name or id), checked against its definition's inputs; returns
    the configuration and its new version number. Nothing is written if anything is wrong."""
    values, yaml_text, lines = read_config_values(values_path)
    with session_scope() as session:
        configuration = _configuration(session, ref)
        if configuration.status == AgentConfigurationStatus.ARCHIVED:
            raise ValueError(f"configuration {configuration.name!r} is archived: it takes no new values")
        definition = configuration.definition
        schema = input_schema(definition.inputs_schema)
        if issues := check_input_values(schema, values):
            located = [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues]
            raise AgentSpecError(located, str(values_path),
                                 kind=f"configuration of {definition.id} ({definition.name})")  # fmt: skip
        user = ensure_user(session)
        version = update_configuration_values(
            session,
            configuration,
            yaml_config=yaml_text or yaml.safe_dump(values, sort_keys=False),
            effective_config=effective_config(schema, values),
            description=description,
            created_by_user_id=user.id,
        )
        return ConfigurationRead.model_validate(configuration), version.version
