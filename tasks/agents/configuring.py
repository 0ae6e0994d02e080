"""Configuring an agent instance from a blueprint and values, and changing its status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from hopflow.models.access import agents as access
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.documents import data_problem
from hopflow.models.enums import (
    AgentConfigurationStatus,
    AgentDefinitionStatus,
)
from hopflow.models.orm import utcnow
from hopflow.models.orm.base import new_id
from hopflow.models.schemas.agents import (
    CONFIGURATION_NAME_PATTERN,
    AgentView,
    ConfigurationRead,
    DefinitionRead,
)
from hopflow.models.secrets import short_secrets
from hopflow.tasks.agents.errors import AgentSpecError
from hopflow.tasks.agents.inputs import check_input_values, effective_config, input_schema
from hopflow.tasks.agents.placeholders import env_var_name, name_context, render_name
from hopflow.tasks.agents.reading import _configuration, _definition
from hopflow.tasks.agents.routes import _active_routes, agent_view, route_conflicts, webhook_routes_for
from hopflow.tasks.specs import (
    PathT,
    SpecError,
    SpecIssue,
    line_of,
    read_spec_document,
)


def read_config_values(path: Path) -> tuple[dict[str, Any], str, dict[PathT, int]]:
    """A values file: (values, its text as written, line index). `${env.X}` references stay as written."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such configuration values file")
    try:
        data, lines = read_spec_document(path)
    except SpecError as exc:
        raise AgentSpecError(exc.issues, str(path), kind="agent configuration") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        issue = SpecIssue((), "a values file is a mapping of input keys to values", 1)
        raise AgentSpecError([issue], str(path), kind="agent configuration")
    return data, path.read_text(encoding="utf-8"), lines


def configure_agent(
    definition_ref: str,
    name: str,
    *,
    values: Mapping[str, Any] | None = None,
    values_path: Path | None = None,
    workspace: str | None = None,
    description: str | None = None,
) -> ConfigurationRead:
    """Create an active configuration: values checked against the definition's inputs, the memory
    namespace resolved, its webhook routes checked against every active one. Nothing is written if
    anything is wrong."""
    lines: dict[PathT, int] = {}
    source = str(values_path) if values_path else None
    if values_path is not None:
        loaded, yaml_text, lines = read_config_values(values_path)
        values = loaded
    else:
        values = dict(values or {})
        yaml_text = yaml.safe_dump(values, sort_keys=False) if values else ""
    if not re.match(CONFIGURATION_NAME_PATTERN, name):
        raise ValueError(
            f"configuration name {name!r}: use letters, digits, '.', '_' and '-' "
            "(it names a Prefect deployment)"
        )
    with session_scope() as session:
        definition = _definition(session, definition_ref)
        if definition.status == AgentDefinitionStatus.DEPRECATED:
            raise ValueError(
                f"agent {definition.id!r} ({definition.name}) is deprecated: it takes no new configurations"
            )
        if access.read_configuration(session, name) is not None:
            raise ValueError(
                f"a configuration named {name!r} already exists (names are unique: they name deployments); "
                f"change its values with `hopflow agents reconfigure {name} --config FILE`"
            )
        normal = env_var_name(name)
        twin = next((n for n in access.read_configuration_names(session) if env_var_name(n) == normal), None)
        if twin is not None:
            raise ValueError(
                f"configuration name {name!r} normalises to {normal}, as the existing configuration "
                f"{twin!r} does: the two would share webhook secrets ({normal}_...) and routes; "
                "choose another name"
            )
        schema = input_schema(definition.inputs_schema)
        issues = check_input_values(schema, values)
        issues += [SpecIssue((key,), problem) for key, v in values.items() for problem in short_secrets(v)]
        if (problem := data_problem(dict(values))) is not None:
            issues.append(SpecIssue((), problem))
        if issues:
            located = [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues]
            raise AgentSpecError(
                located, source, kind=f"configuration of {definition.id} ({definition.name})"
            )
        user = ensure_user(session)
        existing_ws = access.ensure_workspace(session, workspace, user.id)[0] if workspace else None
        configuration_id = new_id()
        context = name_context(configuration_id, name, existing_ws.id if existing_ws else None, definition.id)
        template = (definition.memory_config or {}).get("namespace_template")
        namespace = render_name(template, context) if template else None
        routes = _active_routes(session)
        draft = AgentView(
            configuration=ConfigurationRead(
                id=configuration_id, name=name, agent_definition_id=definition.id,
                workspace_id=context["workspace_id"] or None, yaml_config=yaml_text,
                status=AgentConfigurationStatus.ACTIVE, created_at=utcnow(),
            ),
            definition=DefinitionRead.model_validate(definition),
        )  # fmt: skip
        if conflicts := route_conflicts([*routes, *webhook_routes_for(draft)]):
            raise ValueError("; ".join(conflicts))
        configuration = access.create_configuration(
            session,
            definition=definition,
            name=name,
            configuration_id=configuration_id,
            yaml_config=yaml_text,
            effective_config=effective_config(schema, values),
            external_memory_namespace=namespace,
            workspace_id=existing_ws.id if existing_ws else None,
            description=description,
            created_by_user_id=user.id,
        )
        return ConfigurationRead.model_validate(configuration)


def set_agent_status(
    ref: str, status: AgentConfigurationStatus, reason: str | None = None
) -> tuple[ConfigurationRead, bool]:
    """enable / disable / archive through the status machine; enabling re-checks webhook paths."""
    with session_scope() as session:
        configuration = _configuration(session, ref)
        if status == AgentConfigurationStatus.ACTIVE and configuration.status != status:
            others = [r for r in _active_routes(session) if r.configuration_id != configuration.id]
            if conflicts := route_conflicts([*others, *webhook_routes_for(agent_view(configuration))]):
                raise ValueError("; ".join(conflicts))
        changed = access.set_configuration_status(session, configuration, status, reason)
        return ConfigurationRead.model_validate(configuration), changed


