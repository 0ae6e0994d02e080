"""think_cycle_flow on a real Prefect API and real databases: the model loop with tool calls as task runs, the
run row's metrics, llm_calls, the budget stop, compaction events, the provider override, failures, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentConsciousness, AgentRunLog, Event, InboxEvent, LLMCall, ThoughtLog
from hopflow.models.settings import reset_settings
from hopflow.tasks import living
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from typer.testing import CliRunner

from tests.fakes import FakeOpenAI, completion, tool_call_completion

pytestmark = [pytest.mark.flows]

SEED_EXAMPLE = Path(__file__).parents[2] / "tasks" / "living" / "seed_003_config.json"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def offline(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "when": "deploy",
                        "toolCalls": [
                            {
                                "name": "confirmDeployment",
                                "arguments": {"service": "api", "version": "1.2", "environment": "prod"},
                            },
                            {"name": "text__count", "arguments": {"text": "one two three"}},
                        ],
                        "text": "asked for a confirmation",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("HOPFLOW_LLM_PROVIDER", "offline")
    monkeypatch.setenv("HOPFLOW_LLM_SCRIPT", str(script))
    reset_settings()
    return script


def _config(**changes: Any) -> living.parse_living_config:  # type: ignore[valid-type]
    data = json.loads(SEED_EXAMPLE.read_text())
    for path, value in changes.items():
        section, key = path.split(".")
        data[section][key] = value
    return living.parse_living_config(data)


def _task_run_names(run_id: str) -> list[str]:
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[UUID(run_id)])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    return [r.name for r in runs]


def test_a_cycle_runs_the_model_loop_with_tool_calls_and_saves_everything_once(offline: Path) -> None:
    living.create_living_agent("pa", _config())  # provider openai: HOPFLOW_LLM_PROVIDER=offline overrides
    living.push_event("pa", "m1", "space_message", {"text": "please deploy api"}, wake=False)
    living.push_event("pa", "m2", "service", {"text": "status ok"}, wake=False)

    outcome = think_cycle_flow("pa")

    assert (outcome.status.value, outcome.stop_reason.value) == ("completed", "end_turn")
    assert (outcome.cycle, outcome.events, outcome.steps, outcome.tool_calls) == (1, 2, 2, 2)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(outcome.run_id)]))
        )[0]
    assert flow_run.name == "pa/1"
    names = _task_run_names(outcome.run_id)
    assert [n for n in names if n.startswith(("model-call", "tool:"))] == [
        "model-call-1",
        "tool:confirmDeployment",
        "tool:text__count",
        "model-call-2",
    ]
    with session_scope() as s:
        row = s.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == outcome.run_id)).one()
        calls = s.scalars(sa.select(LLMCall).where(LLMCall.flow_run_id == outcome.run_id)).all()
        assert len(calls) == 2 and all(c.prompt_text is None for c in calls)  # prompt storage: none
        assert (row.status.value, row.prefect_state, row.cycle_status.value) == (
            "success",
            "COMPLETED",
            "completed",
        )
        assert (row.cycle_number, row.inbox_event_count, row.step_count) == (1, 2, 2)
        assert row.prompt_tokens == sum(c.prompt_tokens for c in calls) > 0
        assert row.completion_tokens == sum(c.completion_tokens for c in calls) > 0
        assert row.trigger_payload == {
            "event_id": "m1",
            "type": "space_message",
            "data": {"text": "please deploy api"},
        }
        assert (row.model_tier.value, row.living_config_version, row.stop_reason.value) == (
            "standard",
            1,
            "end_turn",
        )
        assert row.model_reason and row.duration_ms >= 0 and row.agent_entity_id
        assert {c.model for c in calls} == {"gpt-4o"}
        moves = s.scalars(
            sa.select(Event).where(Event.subject_id == outcome.run_id).order_by(Event.created_at)
        ).all()
        cycle_moves = [m.after["status"] for m in moves if m.before and "prefect_state" not in m.before]
        assert cycle_moves == ["running", "waiting_tool", "running", "completed"]
        consciousness = s.scalars(sa.select(AgentConsciousness)).one()
        assert s.scalar(sa.select(sa.func.count()).where(InboxEvent.processed_at.is_(None))) == 0
    messages = consciousness.messages
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "tool", "tool", "assistant"]
    space, count = (json.loads(m["content"]) for m in messages if m["role"] == "tool")
    assert space["status"] == "requested" and space["event_id"]
    assert count["result"]["words"] == 3
    assert messages[-1]["content"] == "asked for a confirmation"
    assert consciousness.cycle_count == 1 and consciousness.token_estimate > 0

    # Nothing new: an idle cycle saves nothing and claims nothing.
    idle = think_cycle_flow("pa")
    assert idle.stop_reason.value == "idle" and idle.steps == 0
    assert living.read_living_agent("pa").cycle_count == 1


@SQLITE_ONLY
def test_budget_stops_the_cycle_part_way_and_saves_a_whole_state(offline: Path) -> None:
    living.create_living_agent("pa", _config(**{"loop.maxTokensPerCycle": 10}))
    living.push_event("pa", "m1", "space_message", {"text": "deploy now"}, wake=False)
    outcome = think_cycle_flow("pa")
    assert (outcome.stop_reason.value, outcome.steps, outcome.tool_calls) == ("budget", 1, 0)
    view = living.read_living_agent("pa")
    assert (view.cycle_count, view.unprocessed_events) == (1, 0)
    with session_scope() as s:
        messages = s.scalars(sa.select(AgentConsciousness)).one().messages
        row = s.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == outcome.run_id)).one()
        assert (row.cycle_status.value, row.stop_reason.value) == ("completed", "budget")
    asked = {c["id"] for m in messages for c in m.get("tool_calls", [])}
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    assert asked == answered and len(asked) == 2  # every call has its (not run) answer
    assert all("token budget" in m["content"] for m in messages if m["role"] == "tool")


@SQLITE_ONLY
def test_compaction_over_max_tokens_is_an_event_with_token_counts(offline: Path) -> None:
    config = _config(**{"consciousness.maxTokens": 60, "consciousness.minRecentCycles": 1})
    config = config.model_copy(
        update={"consciousness": config.consciousness.model_copy(update={"compaction_strategy": "truncate"})}
    )
    living.create_living_agent("pa", config)
    for i in range(3):
        living.push_event("pa", f"m{i}", "space_message", {"text": "hello " * 20}, wake=False)
        outcome = think_cycle_flow("pa")
    assert outcome.compacted_cycles == [2]  # cycle 1 went when cycle 2 was saved
    with session_scope() as s:
        events = s.scalars(sa.select(Event).where(Event.action == "consciousness_compacted")).all()
        consciousness = s.scalars(sa.select(AgentConsciousness)).one()
    assert [e.after["cycle"] for e in events] == [2, 3]
    assert all(e.before["token_estimate"] > e.after["token_estimate"] for e in events)
    assert {m["cycle"] for m in consciousness.messages} == {3}
    assert consciousness.cycle_count == 3


@SQLITE_ONLY
def test_openai_provider_runs_the_loop_against_a_loopback_server(
    hopflow_env: str, fake_openai: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, base_url = fake_openai
    monkeypatch.delenv("HOPFLOW_LLM_PROVIDER", raising=False)
    monkeypatch.setenv("HOPFLOW_LLM_BASE_URL", base_url)
    monkeypatch.setenv("HOPFLOW_LLM_API_KEY", "sk-loopback-1234")
    reset_settings()
    state.queue = [
        tool_call_completion(
            [("confirmDeployment", {"service": "api", "version": "2", "environment": "prod"})],
            usage={"prompt_tokens": 100, "completion_tokens": 10},
        ),
        completion("confirmation requested", usage={"prompt_tokens": 120, "completion_tokens": 5}),
    ]
    living.create_living_agent("pa", _config())
    living.push_event("pa", "m1", "space_message", {"text": "ship it"}, wake=False)
    outcome = think_cycle_flow("pa")
    assert (outcome.steps, outcome.tool_calls, outcome.prompt_tokens, outcome.completion_tokens) == (
        2,
        1,
        220,
        15,
    )
    first, second = (r["json"] for r in state.requests)
    assert {t["function"]["name"] for t in first["tools"]} >= {"confirmDeployment", "fetchJiraTickets"}
    assert first["model"] == "gpt-4o" and first["messages"][0]["role"] == "system"
    tool_answer = second["messages"][-1]
    assert tool_answer["role"] == "tool" and tool_answer["tool_call_id"] == "call_0"
    assert "tool_name" not in tool_answer and "cycle" not in tool_answer


@SQLITE_ONLY
def test_a_failing_provider_fails_the_cycle_and_saves_nothing(
    hopflow_env: str, fake_openai: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, base_url = fake_openai
    state.status = 500
    state.body = {"error": "down"}
    monkeypatch.delenv("HOPFLOW_LLM_PROVIDER", raising=False)
    monkeypatch.setenv("HOPFLOW_LLM_BASE_URL", base_url)
    reset_settings()
    living.create_living_agent("pa", _config())
    living.push_event("pa", "m1", "space_message", {"text": "hi"}, wake=False)
    with pytest.raises(Exception, match="HTTP 500"):
        think_cycle_flow("pa")
    view = living.read_living_agent("pa")
    assert (view.cycle_count, view.message_count, view.unprocessed_events) == (0, 0, 1)
    with session_scope() as s:
        row = s.scalars(sa.select(AgentRunLog).where(AgentRunLog.flow_name == "think")).one()
    assert (row.status.value, row.cycle_status.value, row.stop_reason.value) == ("error", "failed", "error")
    assert "HTTP 500" in (row.error_message or "")
    # Its thought names the error's kind only: the provider's answer is outside text.
    with session_scope() as s:
        [thought] = s.scalars(sa.select(ThoughtLog)).all()
    assert thought.stage == "think" and thought.thought.startswith("cycle 1; 1 event(s) (space_message); ")
    assert "failed (LLMProviderError); its events stay in the inbox" in thought.thought
    assert "down" not in thought.thought and "500" not in thought.thought


@SQLITE_ONLY
def test_cli_create_push_think_show(offline: Path, tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "examples" / "living" / "assistant.json"
    runner = CliRunner()
    created = runner.invoke(
        app, ["living", "create", "helper", "--config", str(example), "--workspace", "team"]
    )
    assert created.exit_code == 0, created.output
    pushed = runner.invoke(
        app,
        [
            "inbox",
            "push",
            "helper",
            "--event-id",
            "e1",
            "--type",
            "space_message",
            "--data",
            '{"text": "[bold]deploy[/bold] please"}',
            "--no-wake",
        ],
    )
    again = runner.invoke(
        app, ["inbox", "push", "helper", "--event-id", "e1", "--type", "space_message", "--no-wake"]
    )
    assert '"result": "stored"' in pushed.output and "duplicate" in again.output
    thought = runner.invoke(app, ["living", "think", "helper"])
    assert thought.exit_code == 0, thought.output
    assert (
        "think/helper/1: completed (end_turn); 1 event(s), 2 model call(s), 2 tool call(s)" in thought.output
    )
    shown = runner.invoke(app, ["living", "show", "helper"])
    assert "cycles              1" in shown.output and "unprocessed events  0" in shown.output
    bad = runner.invoke(app, ["inbox", "push", "helper", "--event-id", "e2", "--type", "mail", "--no-wake"])
    assert bad.exit_code == 1 and "type 'mail' is not one of" in bad.output
    assert runner.invoke(app, ["living", "disable", "helper"]).exit_code == 0
    living.push_event("helper", "e3", "service", {}, wake=False)
    refused = runner.invoke(app, ["living", "think", "helper"])
    assert refused.exit_code == 1 and "is disabled" in refused.output
