"""Planners propose the next hop from a mission's state: deterministic, and through an LLM over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hopflow.models.settings import Settings
from hopflow.tasks.tools import ToolContext, get_tool

from tests.fakes import FakeOpenAI, completion

CHECKLIST = [
    {"name": "count", "steps": [{"tool": "text.count", "parameter_mapping": {"text": {"asset": "article"}},
                                 "result_mapping": {"words": {"asset": "n"}}}]},
    {"name": "split", "steps": [{"tool": "text.split", "parameter_mapping": {"text": {"asset": "article"}},
                                 "result_mapping": {"parts": {"asset": "parts"}}}]},
]  # fmt: skip


def state(hops: list[dict[str, str]], assets: dict[str, str]) -> dict[str, object]:
    return {
        "mission": {"name": "m", "goal": "g"},
        "assets": {name: {"type": "text", "status": status} for name, status in assets.items()},
        "hops": hops,
    }


def ctx(tmp_path: Path, **settings: object) -> ToolContext:
    return ToolContext.from_settings(Settings(uploads=tmp_path, data=tmp_path, **settings))  # type: ignore[arg-type]


def test_checklist_planner_proposes_the_first_unfinished_hop_then_none(tmp_path: Path) -> None:
    planner = get_tool("planner.checklist")
    first = planner.run({"state": state([], {"article": "ready"}), "checklist": CHECKLIST}, ctx(tmp_path))
    assert first.hop["name"] == "count" and first.hop["is_final"] is False  # type: ignore[index]
    after_count = state([{"name": "count", "status": "completed"}], {"article": "ready", "n": "ready"})
    second = planner.run({"state": after_count, "checklist": CHECKLIST}, ctx(tmp_path))
    assert second.hop["name"] == "split" and second.hop["is_final"] is True  # type: ignore[index]
    done = state([{"name": "count", "status": "completed"}, {"name": "split", "status": "completed"}], {})
    assert planner.run({"state": done, "checklist": CHECKLIST}, ctx(tmp_path)).hop is None


def test_checklist_planner_is_deterministic_for_a_resumed_mission(tmp_path: Path) -> None:
    planner = get_tool("planner.checklist")
    failed_count = state([{"name": "count", "status": "failed"}], {"article": "ready", "n": "error"})
    answers = {json.dumps(planner.run({"state": failed_count, "checklist": CHECKLIST}, ctx(tmp_path)).hop)
               for _ in range(3)}  # fmt: skip
    assert len(answers) == 1 and '"name": "count"' in answers.pop()


def test_llm_planner_asks_the_provider_and_returns_its_hop(
    tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    server, base_url = fake_openai
    hop = CHECKLIST[1] | {"is_final": True}
    server.body = completion(
        "Here is the plan:\n" + json.dumps({"hop": hop}), {"prompt_tokens": 40, "completion_tokens": 25}
    )
    context = ctx(tmp_path, llm_provider="openai", llm_base_url=base_url, llm_api_key="sk-x", llm_model="m")
    out = get_tool("planner.llm").run(
        {"state": state([], {"article": "ready"}), "tools": ["text.count", "text.split"]}, context
    )
    assert out.hop == hop
    prompt = server.requests[0]["json"]["messages"][-1]["content"]
    assert '"article"' in prompt and "text.split" in prompt
    [call] = context.llm_calls
    assert (call.purpose, call.prompt_tokens, call.completion_tokens) == ("plan", 40, 25)


def test_llm_planner_refuses_tools_it_was_not_given_and_answers_without_json(
    tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    server, base_url = fake_openai
    context = ctx(tmp_path, llm_provider="openai", llm_base_url=base_url, llm_api_key="sk-x")
    server.body = completion(json.dumps({"hop": CHECKLIST[0]}))
    with pytest.raises(ValueError, match=r"may not use: text\.count"):
        get_tool("planner.llm").run({"state": state([], {}), "tools": ["text.split"]}, context)
    server.body = completion("I think you should count the words.")
    with pytest.raises(ValueError, match="holds no JSON object"):
        get_tool("planner.llm").run({"state": state([], {})}, context)
