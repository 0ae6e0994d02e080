"""Thoughts written while missions run: the short reasoning summary a planner gives with each hop."""

from __future__ import annotations

from hopflow.models.access.thoughts import ensure_agent_entity, record_thought
from hopflow.models.orm import AgentConfiguration, Mission
from sqlalchemy.orm import Session


def record_planner_thought(session: Session, mission: Mission, planner_id: str, reason: str) -> None:
    """The planner's reason as a thought of the mission's agent (or of the planner's own entity).

    Only what the planner returned as its summary is kept, never the prompt it was given.
    """
    if not reason or not reason.strip():
        return
    config = (
        session.get(AgentConfiguration, mission.agent_configuration_id)
        if mission.agent_configuration_id
        else None
    )
    entity_id = config.entity_id if config is not None and config.entity_id else None
    if entity_id is None:
        entity_id = ensure_agent_entity(session, planner_id).id
    record_thought(session, entity_id=entity_id, thought=f"mission {mission.name}: {reason}", stage="plan")
