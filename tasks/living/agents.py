"""Creating, reading, re-configuring and disabling living agents (plain functions, one unit of work each)."""

from __future__ import annotations

from pathlib import Path

from hopflow.models.access import living as access
from hopflow.models.access.agents import ensure_workspace
from hopflow.models.db import session_scope
from hopflow.models.enums import EntityStatus
from hopflow.models.orm import Entity, LivingAgent, Workspace
from hopflow.models.schemas.living import LivingAgentConfigSpec, LivingAgentView
from hopflow.tasks.agents.blueprints import check_cron
from hopflow.tasks.agents.errors import AgentNotFound
from hopflow.tasks.living.config import load_living_config
from sqlalchemy.orm import Session


class LivingAgentError(ValueError):
    """A living agent that cannot be created or changed as asked; nothing was written."""


def _view(session: Session, agent: LivingAgent) -> LivingAgentView:
    entity = session.get(Entity, agent.entity_id)
    assert entity is not None
    config = access.read_config(session, agent)
    consciousness = access.read_consciousness(session, agent.entity_id)
    workspace = session.get(Workspace, agent.workspace_id) if agent.workspace_id else None
    return LivingAgentView(
        id=agent.id,
        name=agent.name,
        entity_id=agent.entity_id,
        status=entity.status.value,
        workspace=workspace.name if workspace else None,
        cron=agent.cron,
        config_version=config.version,
        config=LivingAgentConfigSpec.model_validate(config.config),
        cycle_count=consciousness.cycle_count,
        token_estimate=consciousness.token_estimate,
        message_count=len(consciousness.messages or []),
        unprocessed_events=access.count_unprocessed(session, agent.entity_id),
    )


def _require(session: Session, name: str) -> LivingAgent:
    agent = access.read_living_agent(session, name)
    if agent is None:
        raise AgentNotFound("living agent", name, [a.name for a in access.list_living_agents(session)])
    return agent


def create_living_agent(
    name: str,
    config: LivingAgentConfigSpec,
    *,
    workspace: str | None = None,
    cron: str | None = None,
) -> LivingAgentView:
    """The agent entity, its config (version 1) and an empty consciousness."""
    if not name or len(name) > 128 or not all(c.isalnum() or c in "-_." for c in name):
        raise LivingAgentError(
            f"living agent name {name!r}: use letters, digits, '-', '_' or '.' (at most 128)"
        )
    if cron:
        problem = check_cron(cron, "UTC")
        if problem:
            raise LivingAgentError(f"living agent {name!r}: --cron {cron!r}: {problem}")
    with session_scope() as session:
        if access.read_living_agent(session, name) is not None:
            raise LivingAgentError(
                f"a living agent named {name!r} exists already (hopflow living configure to change it)"
            )
        workspace_id = ensure_workspace(session, workspace)[0].id if workspace else None
        agent = access.create_living_agent(
            session,
            name=name,
            config=config.as_stored(),
            workspace_id=workspace_id,
            cron=cron,
            description=config.agent.description,
        )
        return _view(session, agent)


def create_living_agent_from_file(
    name: str, path: Path, *, workspace: str | None = None, cron: str | None = None
) -> LivingAgentView:
    return create_living_agent(name, load_living_config(path), workspace=workspace, cron=cron)


def configure_living_agent(name: str, config: LivingAgentConfigSpec) -> LivingAgentView:
    """A new config version; the next cycle runs with it (each cycle records the version it ran with)."""
    with session_scope() as session:
        agent = _require(session, name)
        access.add_config_version(session, agent, config.as_stored())
        return _view(session, agent)


def read_living_agent(name: str) -> LivingAgentView:
    with session_scope() as session:
        return _view(session, _require(session, name))


def list_living_agents(*, active_only: bool = False) -> list[LivingAgentView]:
    with session_scope() as session:
        views = [_view(session, a) for a in access.list_living_agents(session)]
    return [v for v in views if v.status == EntityStatus.ACTIVE.value] if active_only else views


def set_living_agent_status(name: str, status: EntityStatus) -> LivingAgentView:
    with session_scope() as session:
        agent = _require(session, name)
        access.set_agent_status(
            session,
            agent,
            status,
            reason=f"hopflow living {'enable' if status == EntityStatus.ACTIVE else 'disable'}",
        )
        return _view(session, agent)
