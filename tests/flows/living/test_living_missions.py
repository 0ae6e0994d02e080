"""A living agent's `start_mission` tool on a real Prefect API and both databases: the scripted offline model
asks for a mission (from a spec it writes, or from a deployed template); the mission runs as a subflow of the
`tool:start_mission` task run and the model hears its id and status. Hostile arguments start nothing. Each
cycle leaves a thought (`hopflow thoughts AGENT`) that says what it did, never what it was told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.flows import think_cycle
from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import AgentConsciousness, Mission, ThoughtLog
from hopflow.models.settings import reset_settings
from hopflow.tasks import living
from hopflow.tasks.templates import store_template
from prefect import get_client
from typer.testing import CliRunner

pytestmark = [pytest.mark.flows]

SPEC: dict[str, Any] = {
    "name": "agent-words",
    "inputs": [{"name": "article", "type": "text", "content": "alpha beta gamma"}],
    "hops": [
        {
            "name": "count",
            "steps": [
                {
                    "tool": "text.count",
                    "parameter_mapping": {"text": {"asset": "article"}},
                    "result_mapping": {"words": {"asset": "word_count", "role": "output"}},
                }
            ],
        }
    ],
}
TEMPLATE_YAML = """\
name: words-template
inputs:
  - {name: article, type: text, content: "one two"}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {text: {asset: article}}
        result_mapping: {words: {asset: word_count, role: output}}
"""
SECRET = "a-secret-the-model-must-not-reach-123"


def _agent_config() -> dict[str, Any]:
    return {
        "version": "3.0",
        "agent": {"name": "planner", "system": "Start missions when asked."},
        "model": {"provider": "offline", "name": "offline-standard"},
        "loop": {"maxSteps": 3, "maxTokensPerCycle": 1_000_000},
        "tools": [],
    }


@pytest.fixture
def script(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "script.json"

    def write(calls: list[dict[str, Any]], when: str = "please start") -> None:
        path.write_text(json.dumps({"rules": [{"when": when, "toolCalls": calls, "text": "mission done"}]}))
        from hopflow.tasks.chat import load_script

        load_script.cache_clear()

    monkeypatch.setenv("HOPFLOW_LLM_PROVIDER", "offline")
    monkeypatch.setenv("HOPFLOW_LLM_SCRIPT", str(path))
    monkeypatch.setenv("HOPFLOW_TEST_MODEL_SECRET", SECRET)
    reset_settings()
    living.create_living_agent("planner", living.parse_living_config(_agent_config()))
    return write


def _tool_answers(name: str = "start_mission") -> list[dict[str, Any]]:
    with session_scope() as s:
        messages = s.scalars(sa.select(AgentConsciousness.messages)).one()
    return [json.loads(m["content"]) for m in messages if m["role"] == "tool" and m.get("tool_name") == name]


def _missions() -> list[Mission]:
    with session_scope() as s:
        return list(s.scalars(sa.select(Mission).order_by(Mission.created_at)))


def test_start_mission_from_a_spec_runs_it_as_a_subflow_and_answers_id_and_status(script: Any) -> None:
    script([{"name": "start_mission", "arguments": {"spec": SPEC, "inputs": {"article": "a b c d"}}}])
    living.push_event("planner", "m1", "space_message", {"text": "please start the count"}, wake=False)

    outcome = think_cycle_flow("planner")

    assert (outcome.status.value, outcome.tool_calls) == ("completed", 1)
    [answer] = _tool_answers()
    [mission] = _missions()
    assert answer["mission_id"] == mission.id and answer["status"] == "completed"
    assert answer["name"] == "agent-words" and "word_count" in answer["outputs"]
    assert mission.status == MissionStatus.COMPLETED
    assert mission.mission_metadata["started_by"] == "living:planner"
    assert mission.mission_metadata["think_run_id"] == outcome.run_id
    assert mission.mission_metadata["source"] == "spec"
    # The mission's flow run is a child of the think run's `tool:start_mission` task run.
    with get_client(sync_client=True) as client:
        mission_run = client.read_flow_run(UUID(mission.flow_run_id))
        assert mission_run.parent_task_run_id is not None
        parent = client.read_task_run(mission_run.parent_task_run_id)
    assert str(parent.flow_run_id) == outcome.run_id
    assert mission_run.name == "agent-words"  # under the flow named mission

    # The cycle's thought: what it did, never the event's text or the model's answer.
    with session_scope() as s:
        [thought] = s.scalars(sa.select(ThoughtLog)).all()
    assert thought.stage == "think" and thought.tool_step_id is None
    assert thought.thought == (
        "cycle 1; 1 event(s) (space_message); 2 model call(s); tools: start_mission; "
        f"missions: {mission.id} completed; completed (end_turn)"
    )
    shown = CliRunner().invoke(app, ["thoughts", "planner"])
    assert shown.exit_code == 0, shown.output
    assert "think" in shown.output and f"missions: {mission.id} completed" in shown.output
    assert "please start" not in shown.output and "mission done" not in shown.output


def test_start_mission_from_a_deployed_template_with_the_models_inputs(script: Any, tmp_path: Path) -> None:
    spec_file = tmp_path / "words.yaml"
    spec_file.write_text(TEMPLATE_YAML)
    store_template(spec_file)
    arguments = {"template": "words-template", "inputs": {"article": "x y z"}}
    script([{"name": "start_mission", "arguments": arguments}])
    living.push_event("planner", "m1", "service", {"text": "please start the template"}, wake=False)

    think_cycle_flow("planner")

    [answer] = _tool_answers()
    [mission] = _missions()
    assert (answer["mission_id"], answer["status"]) == (mission.id, "completed")
    assert mission.mission_metadata["template"] == "words-template"
    assert mission.mission_metadata["source"] == "template:words-template"
    assert answer["outputs"]["word_count"]  # the summary of the count of "x y z"


def test_hostile_start_mission_arguments_start_nothing_and_say_why(script: Any) -> None:
    file_spec = {**SPEC, "inputs": [{"name": "article", "type": "text", "file": "/etc/passwd"}]}
    bad_tool = {**SPEC, "hops": [{"name": "h", "steps": [{"tool": "no.such"}]}]}
    env_spec = json.loads(json.dumps(SPEC).replace("alpha beta gamma", "${env.HOPFLOW_TEST_MODEL_SECRET}"))
    calls = [
        {"name": "start_mission", "arguments": {"spec": env_spec}},
        {"name": "start_mission", "arguments": {"spec": file_spec}},
        {"name": "start_mission", "arguments": {"spec": SPEC, "template": "words-template"}},
        {"name": "start_mission", "arguments": {"template": "no-such-template"}},
        {"name": "start_mission", "arguments": {"spec": "x: " + "y" * 70_000}},
        {"name": "start_mission", "arguments": {"spec": "a: &x [1]\nb: *x\n"}},
        {"name": "start_mission", "arguments": {"spec": SPEC, "inputs": {"article": 12}}},
        {"name": "start_mission", "arguments": {"spec": SPEC, "inputs": {"article": "${env.HOME}"}}},
        {"name": "start_mission", "arguments": {"spec": SPEC, "extra": True}},
        {"name": "start_mission", "arguments": {"spec": bad_tool}},
    ]
    script(calls)
    living.push_event("planner", "m1", "space_message", {"text": "please start them all"}, wake=False)

    outcome = think_cycle_flow("planner")

    assert outcome.status.value == "completed" and outcome.tool_calls == len(calls)
    errors = [a.get("error", "") for a in _tool_answers()]
    assert all(errors) and not [a for a in _tool_answers() if "mission_id" in a]
    expected = [
        "${env.X} references are not accepted",
        "input files are not accepted from a model",
        "give either `template`",
        "no mission template named 'no-such-template'",
        "arguments do not match start_mission's inputSchema",
        "YAML aliases",
        "input 'article' (text): expected string",
        "${env.X} references are not accepted in run inputs",
        "arguments do not match start_mission's inputSchema",
        "no.such",
    ]
    for error, words in zip(errors, expected, strict=True):
        assert words in error, (words, error)
    assert _missions() == []
    assert SECRET not in json.dumps(_tool_answers())


def test_a_cycle_starts_at_most_the_allowed_number_of_missions(
    script: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(think_cycle, "MAX_MISSIONS_PER_CYCLE", 1)
    call = {"name": "start_mission", "arguments": {"spec": SPEC}}
    script([call, call])
    living.push_event("planner", "m1", "space_message", {"text": "please start two"}, wake=False)

    think_cycle_flow("planner")

    first, second = _tool_answers()
    assert first["status"] == "completed"
    assert second == {"error": "not run: at most 1 missions per cycle"}
    assert len(_missions()) == 1
