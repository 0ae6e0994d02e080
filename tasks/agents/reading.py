"""Reading agent definitions and configurations as views."""

from __future__ import annotations

from collections.abc import Iterable

from hopflow.models.access import agents as access
from hopflow.models.access.tags import read_tags, read_tags_of
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentConfiguration, AgentDefinition
from hopflow.models.schemas.agents import (
    AgentView,
    ConfigurationRead,
    DefinitionRead,
)
from hopflow.tasks.agents.errors import AgentNotFound
from hopflow.tasks.agents.routes import WebhookRoute, _active_routes, agent_view, route_conflicts
from sqlalchemy.orm import Session


def _definition(session: Session, ref: str) -> AgentDefinition:
    definition = access.read_definition(session, ref)
    if definition is None:
        known = [name for d in access.list_definitions(session) for name in (d.id, d.name)]
        raise AgentNotFound("definition", ref, known)
    return definition


def _configuration(session: Session, ref: str) -> AgentConfiguration:
    configuration = access.read_configuration(session, ref)
    if configuration is None:
        raise AgentNotFound("configuration", ref, [c.name for c in access.list_configurations(session)])
    return configuration


def _read(definition: AgentDefinition, tags: list[str]) -> DefinitionRead:
    return DefinitionRead.model_validate(definition).model_copy(update={"tags": tags})


def read_definitions(*, tags: Iterable[str] | None = None) -> list[DefinitionRead]:
    """Every definition with its tags; with `tags`, only those carrying all of them."""
    with session_scope() as session:
        rows = access.list_definitions(session, tags=tags)
        tag_map = read_tags_of(session, "agent_definitions", [d.id for d in rows])
        return [_read(d, tag_map.get(d.id, [])) for d in rows]


def read_definition(ref: str) -> tuple[DefinitionRead, list[ConfigurationRead]]:
    with session_scope() as session:
        definition = _definition(session, ref)
        configs = access.list_configurations(session, definition_id=definition.id)
        return _read(definition, read_tags(session, "agent_definitions", definition.id)), [
            ConfigurationRead.model_validate(c) for c in configs
        ]


def read_configurations(*, active_only: bool = False) -> list[AgentView]:
    with session_scope() as session:
        configs = (
            access.read_active_configurations(session) if active_only else access.list_configurations(session)
        )
        return [agent_view(c) for c in configs]


def read_agent(ref: str) -> AgentView:
    with session_scope() as session:
        return agent_view(_configuration(session, ref))


def read_webhook_routes() -> list[WebhookRoute]:
    """The routes of every active configuration; a path claimed twice is an error, not a coin toss."""
    with session_scope() as session:
        routes = _active_routes(session)
    if conflicts := route_conflicts(routes):
        raise ValueError("; ".join(conflicts))
    return routes


