"""A reflection after each mission (HOPFLOW_REFLECT=off|raw|llm, default raw): the raw digest in one
unit of work, the LLM's summary (when asked) with no transaction open, the row in a second one."""

from __future__ import annotations

import logging

from hopflow.models.access.reflections import MissionDigest, create_reflection, digest_mission
from hopflow.models.db import session_scope
from hopflow.models.orm import Mission
from hopflow.models.settings import ReflectMode, Settings, get_settings
from hopflow.tasks.llm import LLMCallRecord, get_provider

logger = logging.getLogger("hopflow.reflections")

LLM_INSTRUCTIONS = (
    "You reflect on a finished mission of an AI agent. In three to five sentences say what went well, "
    "what went wrong and what to try next time. The facts:\n"
)


def reflect_on_mission(mission_id: str, settings: Settings | None = None) -> str | None:
    """Write the mission's reflection; returns its id, or None when HOPFLOW_REFLECT=off."""
    settings = settings or get_settings()
    if settings.reflect == ReflectMode.OFF:
        return None
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        if mission is None:
            raise LookupError(f"no mission with id {mission_id!r}")
        digest = digest_mission(session, mission)
    llm_summary, call = (None, None)
    if settings.reflect == ReflectMode.LLM:
        llm_summary, call = _ask_llm(digest, settings)
    with session_scope() as session:
        reflection = create_reflection(session, digest, llm_summary=llm_summary)
        if call is not None:
            from hopflow.tasks.steps import record_llm_calls

            record_llm_calls(
                session, [call], settings, flow_run_id=None, mission_id=mission_id, tool_step_id=None
            )
        return reflection.id


def _ask_llm(digest: MissionDigest, settings: Settings) -> tuple[str, LLMCallRecord]:
    prompt = LLM_INSTRUCTIONS + digest.raw_summary
    result = get_provider(settings).complete(prompt)
    record = LLMCallRecord.from_result(
        result, prompt_text=prompt, prompt_slug="reflection", purpose="reflect", used_by="reflections"
    )
    return result.text.strip()[:4000], record


def reflect_after_mission(mission_id: str) -> None:
    """The hook mission_flow calls when a mission ends: a reflection never fails a mission."""
    try:
        reflect_on_mission(mission_id)
    except Exception as exc:  # the mission's own outcome matters more than its reflection
        logger.warning("no reflection for mission %s: %s: %s", mission_id, type(exc).__name__, exc)
