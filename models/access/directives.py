"""Directives (seed 002): versioned per agent configuration, snapshotted on every run; reads and writes
that only flush."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.orm import AgentConfiguration, Directive
from sqlalchemy.orm import Session


def create_directive(
    session: Session,
    agent_configuration_id: str,
    text: str,
    *,
    name: str | None = None,
    created_by_user_id: int | None = None,
) -> Directive:
    """A new version (1, 2, ...) of the configuration's directive; earlier versions stay for the runs
    that used them."""
    # Lock the configuration so two writers cannot both take the same next version number.
    config = session.get(AgentConfiguration, agent_configuration_id, with_for_update=True)
    if config is None:
        raise LookupError(f"no agent configuration with id {agent_configuration_id!r}")
    latest = session.scalar(
        sa.select(sa.func.max(Directive.version)).where(Directive.agent_configuration_id == config.id)
    )
    directive = Directive(
        agent_configuration_id=config.id,
        version=int(latest or 0) + 1,
        name=name,
        text=text,
        created_by_user_id=created_by_user_id,
    )
    session.add(directive)
    session.flush()
    return directive


def read_current_directive(session: Session, agent_configuration_id: str) -> Directive | None:
    """The newest version of the configuration's directive, or None."""
    return session.scalars(
        sa.select(Directive)
        .where(Directive.agent_configuration_id == agent_configuration_id)
        .order_by(Directive.version.desc())
        .limit(1)
    ).first()


def directive_snapshot(directive: Directive) -> dict[str, Any]:
    """What a run stores of the stored directive it used (AgentRunLog.directive_snapshot)."""
    return {"version": directive.version, "text": directive.text, "name": directive.name}


def list_directives(
    session: Session, agent_configuration_id: str, version: int | None = None
) -> list[Directive]:
    """The configuration's directive versions, newest first (only `version` when given)."""
    stmt = sa.select(Directive).where(Directive.agent_configuration_id == agent_configuration_id)
    if version is not None:
        stmt = stmt.where(Directive.version == version)
    return list(session.scalars(stmt.order_by(Directive.version.desc())))
