"""Reflections after a mission, per HOPFLOW_REFLECT, on SQLite and PostgreSQL (no Prefect needed)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.memories import remember
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import Event, LLMCall, Mission, Reflection, utcnow
from hopflow.models.settings import ReflectMode, get_settings
from hopflow.tasks.knowledge.reflections import reflect_on_mission
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec

SPEC = {
    "name": "tiny",
    "hops": [{"name": "h", "steps": [{"tool": "noop.echo", "parameter_mapping": {"value": {"literal": 1}}}]}],
}


def failed_mission() -> str:
    with session_scope() as session:
        mission = create_mission_from_spec(session, parse_mission_spec(SPEC), user_id=ensure_user(session).id)
        mission.status = MissionStatus.FAILED  # as fail_mission leaves it; the walk is tested elsewhere
        mission.error_message = "RuntimeError: the secret plan went wrong"
        mission.started_at = mission.completed_at = utcnow()
        remember(session, target_type="mission", target_id=mission.id, content="learned something")
        return mission.id


def test_raw_reflection_summarises_the_mission_and_links_its_memories(hopflow_env: str) -> None:
    mission_id = failed_mission()
    reflection_id = reflect_on_mission(mission_id)
    with session_scope() as session:
        reflection = session.get(Reflection, reflection_id)
        assert reflection.llm_summary is None
        assert "mission tiny: failed" in reflection.raw_summary
        assert "RuntimeError: the secret plan went wrong" in reflection.raw_summary
        assert reflection.summary.startswith("tiny failed: 1 hop(s), 1 step(s)")
        assert reflection.mood == "concerned" and reflection.important
        assert [m.content for m in reflection.related_memories] == ["learned something"]
        audit = session.scalars(sa.select(Event).where(Event.subject_id == reflection_id)).one()
        assert audit.action == "reflect"


def test_llm_reflection_adds_the_model_summary_and_keeps_no_prompt_text(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mission_id = failed_mission()
    settings = get_settings().model_copy(update={"reflect": ReflectMode.LLM})
    reflection_id = reflect_on_mission(mission_id, settings)
    with session_scope() as session:
        reflection = session.get(Reflection, reflection_id)
        assert reflection.llm_summary
        call = session.scalars(sa.select(LLMCall).where(LLMCall.mission_id == mission_id)).one()
        assert call.purpose == "reflect" and call.prompt_text is None and call.output_text is None


def test_reflect_off_writes_nothing(hopflow_env: str) -> None:
    mission_id = failed_mission()
    settings = get_settings().model_copy(update={"reflect": ReflectMode.OFF})
    assert reflect_on_mission(mission_id, settings) is None
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Reflection)) == 0
        assert session.get(Mission, mission_id) is not None
