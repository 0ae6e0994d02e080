"""The MCP server's knowledge tools over streamable HTTP (the SDK's own client, a real uvicorn and Prefect
API), on SQLite and PostgreSQL: remember and search memories, create a plan and add tasks, list the fault a
failed mission opened, and bad arguments that give a tool error saying what is wrong and write nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.access.tags import read_tags
from hopflow.models.db import session_scope
from hopflow.models.orm import Fault, MemoryContext, Plan, PlanTask, Project

from tests.flows.test_mcp_http import call, data, error, mcp_url  # noqa: F401 (mcp_url is a fixture)

pytestmark = pytest.mark.flows

FAIL_SPEC = """
name: doomed over mcp
hops:
  - name: only
    steps:
      - tool: noop.fail
        parameter_mapping: {message: {literal: "the disk is on fire"}}
"""


def count(model: Any) -> int:
    with session_scope() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_remember_then_search_ranked_by_text_and_filtered(mcp_url: str) -> None:  # noqa: F811
    async def steps(c: Any) -> dict[str, Any]:
        remember = "remember"
        out: dict[str, Any] = {}
        out["a"] = data(await c.call_tool(remember, {
            "target_type": "agent", "target_id": "scout", "content": "The shop in Lyon sells blue bicycles",
            "tags": ["Shops", "lyon"], "category": "shops",
        }))  # fmt: skip
        out["b"] = data(await c.call_tool(remember, {
            "target_type": "agent", "target_id": "scout", "content": "Bicycles bicycles: the bicycles shop",
            "important": True,
        }))  # fmt: skip
        await c.call_tool(remember, {"target_type": "mission", "target_id": "m1", "content": "no match here"})
        out["kv1"] = data(await c.call_tool(remember, {
            "target_type": "plan", "target_id": "p1", "key": "owner", "content": "ada",
        }))  # fmt: skip
        out["kv2"] = data(await c.call_tool(remember, {
            "target_type": "plan", "target_id": "p1", "key": "owner", "content": "grace",
        }))  # fmt: skip

        async def search(args: dict[str, Any]) -> list[dict[str, Any]]:
            return list(data(await c.call_tool("search_memories", args))["memories"])

        out["ranked"] = await search({"text": "bicycles shop"})
        out["tagged"] = await search({"tags": ["lyon"]})
        out["important"] = await search({"text": "bicycles", "important": True})
        out["target"] = await search({"target_type": "plan", "target_id": "p1"})
        out["none"] = await search({"text": "submarine"})
        return out

    out = call(mcp_url, steps)
    assert out["a"]["target"] == "agent:scout" and out["kv1"]["memory_id"] == out["kv2"]["memory_id"]
    ranked = out["ranked"]
    assert [m["memory_id"] for m in ranked] == [out["b"]["memory_id"], out["a"]["memory_id"]]
    assert ranked[0]["rank"] > ranked[1]["rank"] > 0 and ranked[0]["important"] is True
    assert [m["memory_id"] for m in out["tagged"]] == [out["a"]["memory_id"]]
    assert out["tagged"][0]["tags"] == ["lyon", "shops"] and out["tagged"][0]["category"] == "shops"
    assert [m["memory_id"] for m in out["important"]] == [out["b"]["memory_id"]]
    assert [(m["key"], m["content"]) for m in out["target"]] == [("owner", "grace")]
    assert out["none"] == []
    with session_scope() as session:
        rows = {m.id: m for m in session.scalars(sa.select(MemoryContext))}
        assert len(rows) == 4  # the key-value entry was replaced, not added
        assert rows[out["a"]["memory_id"]].content == "The shop in Lyon sells blue bicycles"
        assert read_tags(session, "memory_contexts", out["a"]["memory_id"]) == ["lyon", "shops"]


def test_create_plan_and_add_tasks_with_steps(mcp_url: str) -> None:  # noqa: F811
    async def steps(c: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["seed"] = data(await c.call_tool("remember", {
            "target_type": "project", "target_id": "shop", "content": "start from the sales table",
        }))  # fmt: skip
        out["plan"] = data(await c.call_tool("create_plan", {
            "title": "weekly report", "description": "sales per shop", "project": "shop",
            "memory": out["seed"]["memory_id"], "tags": ["reports"],
        }))  # fmt: skip
        out["t1"] = data(await c.call_tool("add_plan_task", {
            "plan": "weekly report", "title": "count", "priority": 2, "due": "2027-01-04T09:00:00",
            "steps": [{"tool": "text.count", "parameter_mapping": {"text": {"literal": "a b c"}}}],
        }))  # fmt: skip
        out["t2"] = data(await c.call_tool("add_plan_task", {
            "plan": out["plan"]["plan_id"][:8], "title": "review", "assignee": "local", "effort": "1h",
            "steps": {"goal": "echo it", "steps": [{"tool": "noop.echo"}]},
        }))  # fmt: skip
        out["t3"] = data(await c.call_tool("add_plan_task", {"plan": "weekly report", "title": "think"}))
        return out

    out = call(mcp_url, steps)
    plan = out["plan"]
    assert plan["status"] == "draft" and plan["version"] == 1 and plan["tasks"] == 0
    assert [out[k]["order"] for k in ("t1", "t2", "t3")] == [1, 2, 3]
    assert out["t1"]["steps"] == 1 and out["t2"]["steps"] == 1 and out["t3"]["steps"] == 0
    assert out["t1"]["due"] == "2027-01-04T09:00:00+00:00"  # no offset: UTC
    assert out["t3"]["plan"]["version"] == 4 and out["t3"]["plan"]["tasks"] == 3
    with session_scope() as session:
        row = session.get(Plan, plan["plan_id"])
        assert row is not None and row.memory_context_id == out["seed"]["memory_id"]
        project = session.scalars(sa.select(Project)).one()
        assert project.name == "shop" and row.project_id == project.id
        assert read_tags(session, "plans", row.id) == ["reports"]
        tasks = {t.title: t for t in session.scalars(sa.select(PlanTask))}
        assert tasks["count"].hop_spec == {
            "name": "count",
            "steps": [{"tool": "text.count", "parameter_mapping": {"text": {"literal": "a b c"}}}],
        }
        review = {"name": "review", "goal": "echo it", "steps": [{"tool": "noop.echo"}]}
        assert tasks["review"].hop_spec == review
        assert tasks["review"].assigned_to_entity_id is not None and tasks["review"].estimated_effort == "1h"
        assert tasks["count"].priority == 2 and tasks["think"].hop_spec is None


def test_list_faults_shows_the_fault_a_failed_mission_opened(mcp_url: str) -> None:  # noqa: F811
    async def steps(c: Any) -> dict[str, Any]:
        failed = data(await c.call_tool("start_mission", {"spec": FAIL_SPEC, "wait": True}))
        return {
            "failed": failed,
            "all": data(await c.call_tool("list_faults", {}))["faults"],
            "mine": data(await c.call_tool("list_faults", {"mission": "doomed over mcp", "status": "open"})),
            "fixed": data(await c.call_tool("list_faults", {"status": "fixed"}))["faults"],
            "low": data(await c.call_tool("list_faults", {"severity": "low"}))["faults"],
        }

    out = call(mcp_url, steps)
    assert out["failed"]["status"] == "failed"
    [fault] = out["all"]
    assert out["mine"]["faults"] == [fault]
    assert fault["mission_id"] == out["failed"]["mission_id"] and fault["status"] == "open"
    assert fault["severity"] == "high" and "the disk is on fire" in fault["description"]
    assert fault["tool_step_id"] is not None and out["fixed"] == [] and out["low"] == []


def test_bad_knowledge_arguments_say_what_is_wrong_and_write_nothing(mcp_url: str) -> None:  # noqa: F811
    plan_title = "kept plan"
    with session_scope() as session:
        from hopflow.models.access.plans import create_plan

        create_plan(session, title=plan_title)

    async def steps(c: Any) -> list[str]:
        agent = {"target_type": "agent", "target_id": "scout"}
        deep: list[Any] = []
        for _ in range(40):
            deep = [deep]
        calls = [
            ("remember", {"target_type": "planet", "target_id": "x", "content": "c"}),
            ("remember", {**agent, "content": ""}),
            ("remember", {**agent, "content": "c", "tags": ["Not a tag!"]}),
            ("remember", {**agent, "content": "c", "tags": [f"t{i}" for i in range(40)]}),
            ("search_memories", {"target_id": "scout"}),
            ("search_memories", {"text": "?!"}),
            ("search_memories", {"limit": 0}),
            ("create_plan", {"title": ""}),
            ("create_plan", {"title": "p", "memory": "no-such-memory"}),
            ("add_plan_task", {"plan": "no such plan", "title": "t"}),
            ("add_plan_task", {"plan": plan_title, "title": "t", "steps": [{"tool": "http.get",
                "parameter_mapping": {"url": {"literal": "${env.SECRET_URL}"}}}]}),
            ("add_plan_task", {"plan": plan_title, "title": "t", "steps": [{"tool": "noop.echo",
                "bogus": 1}]}),
            ("add_plan_task", {"plan": plan_title, "title": "t", "steps": {"steps": [], "x": deep}}),
            ("add_plan_task", {"plan": plan_title, "title": "t", "due": "next tuesday"}),
            ("add_plan_task", {"plan": plan_title, "title": "t", "assignee": "nobody"}),
            ("list_faults", {"status": "great"}),
            ("list_faults", {"mission": "no-such-mission"}),
        ]  # fmt: skip
        return [error(await c.call_tool(name, args)) for name, args in calls]

    messages = call(mcp_url, steps)
    expected = [
        "target_type",
        "content",
        "tag 'Not a tag!': use 1-64 characters",
        "tags",
        "search_memories: give target_type and target_id together",
        "has no words to look for",
        "limit",
        "title",
        "seed memory: no memory with id 'no-such-memory'",
        "no plan with id, id prefix or title 'no such plan'",
        "steps: ${env.X} references are not accepted over MCP",
        "task 't' hop.steps.0.bogus",
        "steps: nested deeper than 32 levels",
        "due",
        "no entity (human or agent) with id or name 'nobody'",
        "status",
        "mission: no mission with id or name 'no-such-mission'",
    ]
    for message, wanted in zip(messages, expected, strict=True):
        assert wanted in message, (wanted, message)
    assert count(MemoryContext) == 0 and count(PlanTask) == 0 and count(Fault) == 0
    with session_scope() as session:
        assert [p.title for p in session.scalars(sa.select(Plan))] == [plan_title]
