"""Webhook routes of configured agents, and the name of their deployments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hopflow.models.access import agents as access
from hopflow.models.enums import InboxEventType
from hopflow.models.orm import AgentConfiguration
from hopflow.models.schemas.agents import (
    AgentView,
    ConfigurationRead,
    DefinitionRead,
    WebhookTriggerSpec,
    trigger_from_config,
)
from hopflow.tasks.agents.inputs import configured_keys
from hopflow.tasks.agents.placeholders import env_var_name, name_context, render_name
from pydantic import BaseModel
from sqlalchemy.orm import Session


class WebhookRoute(BaseModel):
    method: str
    path: str
    configuration_id: str
    configuration_name: str
    deployment_name: str
    secret_env: str
    playbook: str | None = None
    inputs_schema: list[dict[str, Any]] = []
    # Inputs the configuration set: a webhook body may not set them (422).
    configured_keys: list[str] = []
    # A living agent's name: the body goes into its inbox (type `event_type`) instead of starting a run.
    inbox: str | None = None
    event_type: str = InboxEventType.SERVICE.value

    @property
    def target(self) -> str:
        return f"inbox {self.inbox} ({self.event_type})" if self.inbox else self.deployment_name


def normalise_path(path: str) -> str:
    path = "/" + "/".join(part for part in path.strip().split("/") if part)
    return path


def deployment_name(configuration_name: str) -> str:
    return f"agent-run/{configuration_name}"


def webhook_routes_for(view: AgentView) -> list[WebhookRoute]:
    config, definition = view.configuration, view.definition
    context = name_context(config.id, config.name, config.workspace_id, definition.id)
    routes = []
    for stored in definition.triggers_config:
        trigger = trigger_from_config(stored)
        if isinstance(trigger, WebhookTriggerSpec):
            routes.append(
                WebhookRoute(
                    method=trigger.method,
                    path=normalise_path(render_name(trigger.path, context)),
                    configuration_id=config.id,
                    configuration_name=config.name,
                    deployment_name=deployment_name(config.name),
                    secret_env=env_var_name(render_name(trigger.secret_env, context)),
                    playbook=trigger.playbook,
                    inputs_schema=definition.inputs_schema,
                    configured_keys=configured_keys(config.yaml_config),
                    inbox=render_name(trigger.inbox, context).strip() if trigger.inbox else None,
                    event_type=(trigger.event_type or InboxEventType.SERVICE).value,
                )
            )
    return routes


def route_conflicts(routes: Iterable[WebhookRoute]) -> list[str]:
    """Every (method, path) claimed by more than one configuration, and every webhook secret variable
    read by more than one (one signature would then be valid on all their paths), as sentences."""
    owners: dict[tuple[str, str], list[str]] = {}
    readers: dict[str, set[str]] = {}
    for route in routes:
        owners.setdefault((route.method, route.path), []).append(route.configuration_name)
        readers.setdefault(route.secret_env, set()).add(route.configuration_name)
    shared = [
        f"webhook secret {env} shared by configurations {', '.join(sorted(names))}: each needs its own"
        for env, names in readers.items()
        if len(names) > 1
    ]
    return shared + [
        f"webhook path claimed twice: {method} {path} by configurations {', '.join(sorted(set(names)))}"
        if len(set(names)) > 1
        else f"webhook path claimed twice: {method} {path} by configuration {names[0]}"
        for (method, path), names in owners.items()
        if len(names) > 1
    ]


def agent_view(configuration: AgentConfiguration) -> AgentView:
    return AgentView(
        configuration=ConfigurationRead.model_validate(configuration),
        definition=DefinitionRead.model_validate(configuration.definition),
    )


def _active_routes(session: Session) -> list[WebhookRoute]:
    return [
        route
        for config in access.read_active_configurations(session)
        for route in webhook_routes_for(agent_view(config))
    ]


