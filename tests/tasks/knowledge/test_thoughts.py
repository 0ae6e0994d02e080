"""planner.llm gives a short reasoning summary with each hop; it becomes a thought log, never the prompt."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.thoughts import list_thoughts
from hopflow.models.db import session_scope
from hopflow.models.orm import ThoughtLog
from hopflow.models.settings import reset_settings
from hopflow.tasks import missions
from hopflow.tasks.specs import parse_mission_spec

from tests.fakes import FakeOpenAI, completion

HOP = {
    "name": "echo",
    "is_final": True,
    "steps": [{"tool": "noop.echo", "parameter_mapping": {"value": {"literal": 1}}}],
}


def test_llm_planner_reasoning_is_a_thought_of_the_planner(
    hopflow_env: str, fake_openai: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, base_url = fake_openai
    for name, value in {"PROVIDER": "openai", "BASE_URL": base_url, "API_KEY": "sk-x", "MODEL": "m"}.items():
        monkeypatch.setenv(f"HOPFLOW_LLM_{name}", value)
    reset_settings()
    reasoning = "Nothing is computed yet,\n so echo first."
    server.body = completion(json.dumps({"reasoning": reasoning, "hop": HOP}))
    spec = parse_mission_spec(
        {
            "name": "planned",
            "planner": {"tool": "planner.llm", "parameter_mapping": {"tools": {"literal": ["noop.echo"]}}},
        }
    )
    with session_scope() as session:
        mission_id = missions.create_mission_from_spec(session, spec, user_id=ensure_user(session).id).id
    missions.start_mission(mission_id, None)
    hop = missions.prepare_next_hop(mission_id)
    assert hop is not None and hop.name == "echo"
    with session_scope() as session:
        [thought] = list_thoughts(session, "planner.llm")
        assert thought.stage == "plan"
        assert thought.thought == "mission planned: Nothing is computed yet, so echo first."
        prompt = server.requests[0]["json"]["messages"][-1]["content"]
        assert "reasoning" in prompt
        stored = " ".join(session.scalars(sa.select(ThoughtLog.thought)))
        assert "Mission state" not in stored and "You plan the next hop" not in stored
