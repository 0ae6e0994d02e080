"""Reflections (seed 000 ReflectionLog) on finished missions: the deterministic raw summary a mission's
rows give, writing one with its tags and related memories, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from hopflow.models.access.assets import read_mission_state
from hopflow.models.access.tags import ids_tagged, read_tags_of, set_tags
from hopflow.models.enums import AssetRole, MemoryTargetType, MissionStatus, ToolExecutionStatus
from hopflow.models.orm import AgentConfiguration, Hop, LLMCall, MemoryContext, Mission, Reflection, ToolStep
from pydantic import BaseModel
from sqlalchemy.orm import Session

MAX_ERROR = 300
MOODS = {
    MissionStatus.COMPLETED: "satisfied",
    MissionStatus.FAILED: "concerned",
    MissionStatus.CANCELLED: "neutral",
}


class MissionDigest(BaseModel):
    """What a reflection says about a mission, computed from its rows only (deterministic)."""

    mission_id: str
    name: str
    status: str
    raw_summary: str
    summary: str
    mood: str
    tags: list[str]
    memory_ids: list[str]
    created_by_entity_id: str | None


def digest_mission(session: Session, mission: Mission) -> MissionDigest:
    hops = list(
        session.scalars(sa.select(Hop).where(Hop.mission_id == mission.id).order_by(Hop.sequence_order))
    )
    steps = list(
        session.scalars(
            sa.select(ToolStep)
            .join(Hop)
            .where(Hop.mission_id == mission.id)
            .order_by(Hop.sequence_order, ToolStep.sequence_order)
        )
    )
    prompt, completion = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(LLMCall.prompt_tokens), 0),
            sa.func.coalesce(sa.func.sum(LLMCall.completion_tokens), 0),
        ).where(LLMCall.mission_id == mission.id)
    ).one()
    duration = (
        (mission.completed_at - mission.started_at).total_seconds()
        if mission.completed_at and mission.started_at
        else None
    )
    failed = [s for s in steps if s.status == ToolExecutionStatus.FAILED]
    assets = [a for a in read_mission_state(session, mission.id).values() if a.role != AssetRole.INPUT]
    lines = [f"mission {mission.name}: {mission.status.value}"]
    lines.append(f"duration: {duration:.1f} s" if duration is not None else "duration: unknown")
    lines.append(f"tokens: {int(prompt)} prompt, {int(completion)} completion")
    lines.append(f"hops ({len(hops)}):")
    lines += [f"- {h.sequence_order}. {h.name}: {h.status.value}" for h in hops]
    lines.append(f"steps ({len(steps)}, {len(failed)} failed)")
    lines.append(f"assets ({len(assets)}):")
    lines += [f"- {a.name} [{a.status.value}]: {(a.content_summary or '')[:200]}" for a in assets]
    errors = [e for e in [mission.error_message, *(s.error_message for s in failed)] if e]
    if errors:
        lines.append("errors:")
        lines += [f"- {e[:MAX_ERROR]}" for e in dict.fromkeys(errors)]
    summary = (
        f"{mission.name} {mission.status.value}: {len(hops)} hop(s), {len(steps)} step(s), "
        f"{len(failed)} failed, {int(prompt) + int(completion)} tokens"
        + (f", {duration:.1f} s" if duration is not None else "")
    )
    memory_ids = list(
        session.scalars(
            sa.select(MemoryContext.id).where(
                MemoryContext.target_type == MemoryTargetType.MISSION, MemoryContext.target_id == mission.id
            )
        )
    )
    mission_tags = read_tags_of(session, "missions", [mission.id]).get(mission.id, [])
    entity_id = None
    if mission.agent_configuration_id:
        config = session.get(AgentConfiguration, mission.agent_configuration_id)
        entity_id = config.entity_id if config else None
    return MissionDigest(
        mission_id=mission.id,
        name=mission.name,
        status=mission.status.value,
        raw_summary="\n".join(lines),
        summary=summary,
        mood=MOODS.get(mission.status, "neutral"),
        tags=sorted({"mission", mission.status.value, *mission_tags}),
        memory_ids=memory_ids,
        created_by_entity_id=entity_id,
    )


def create_reflection(
    session: Session, digest: MissionDigest, *, llm_summary: str | None = None
) -> Reflection:
    reflection = Reflection(
        title=f"after mission {digest.name}"[:255],
        raw_summary=digest.raw_summary,
        llm_summary=llm_summary,
        summary=digest.summary,
        important=digest.status != MissionStatus.COMPLETED.value,
        mood=digest.mood,
        mission_id=digest.mission_id,
        created_by_entity_id=digest.created_by_entity_id,
    )
    if digest.memory_ids:
        reflection.related_memories = list(
            session.scalars(sa.select(MemoryContext).where(MemoryContext.id.in_(digest.memory_ids)))
        )
    session.add(reflection)
    session.flush()
    set_tags(session, "reflections", reflection.id, digest.tags)
    return reflection


def list_reflections(
    session: Session, *, mission_id: str | None = None, tags: Iterable[str] | None = None, limit: int = 50
) -> list[Reflection]:
    query = sa.select(Reflection)
    if mission_id is not None:
        query = query.where(Reflection.mission_id == mission_id)
    names = list(tags or [])
    if names:
        query = query.where(Reflection.id.in_(ids_tagged("reflections", names)))
    return list(session.scalars(query.order_by(Reflection.created_at.desc()).limit(limit)))


def read_reflection(session: Session, ref: str) -> Reflection:
    found = session.get(Reflection, ref)
    if found is None and len(ref) >= 4:
        rows = list(session.scalars(sa.select(Reflection).where(Reflection.id.startswith(ref)).limit(2)))
        found = rows[0] if len(rows) == 1 else None
    if found is None:
        raise LookupError(f"no reflection with id or id prefix {ref!r}")
    return found
