"""`hopflow mcp --stdio` as a desktop client starts it: a subprocess driven by the official SDK's stdio
client, on SQLite and PostgreSQL: agents and missions read, resources, errors that say what is wrong."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from mcp import Client, StdioServerParameters

from tests.tasks.agents.factories import SECRET_ENV, VALUES, blueprint, write_yaml


def stdio_session(db_url: str, home: Path, steps: Any) -> Any:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HOPFLOW_DATABASE_URL": db_url,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        SECRET_ENV: "tok",
    }
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hopflow.deployments.cli", "mcp", "--stdio"],
        env=env,
        cwd=str(home),
    )

    async def main() -> Any:
        async with Client(server, cache=None, read_timeout_seconds=120) as client:
            return await steps(client)

    return anyio.run(main)


def test_stdio_server_lists_agents_and_reads_missions(
    hopflow_env: str, tmp_path: Path, monkeypatch: Any
) -> None:
    from hopflow.tasks.agents import configure_agent, register_blueprints

    monkeypatch.setenv(SECRET_ENV, "tok-long-enough-1")
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "shop-a", values=VALUES)
    spec = {
        "name": "stored",
        "inputs": [{"name": "article", "type": "text", "content": "a b c"}],
        "hops": [{"name": "count", "steps": [{"tool": "text.count", "parameter_mapping": {
            "text": {"asset": "article"}}, "result_mapping": {"words": {"asset": "n", "role": "output"}}}]}],
    }  # fmt: skip
    with session_scope() as session:
        mission_id = create_mission_from_spec(
            session, parse_mission_spec(spec), user_id=ensure_user(session).id
        ).id

    async def steps(c: Any) -> dict[str, Any]:
        agents = await c.call_tool("list_agents", {})
        status = await c.call_tool("mission_status", {"mission": "stored"})
        missing = await c.call_tool("get_asset", {"mission": mission_id, "name": "nope"})
        pending = await c.call_tool("get_asset", {"mission": mission_id, "name": "n", "content": True})
        resource = await c.read_resource("hopflow://agents/shop-a")
        templates = await c.list_resource_templates()
        return {
            "agents": agents,
            "status": status,
            "missing": missing,
            "pending": pending,
            "resource": resource,
            "templates": templates,
        }

    out = stdio_session(hopflow_env, tmp_path, steps)
    assert [a["name"] for a in json.loads(out["agents"].content[0].text)["agents"]] == ["shop-a"]
    status = json.loads(out["status"].content[0].text)
    assert status["mission_id"] == mission_id and status["status"] == "proposed"
    assert status["hops"][0]["steps"][0]["tool"] == "text.count"
    assert (
        out["missing"].is_error
        and "has no asset 'nope' (it has: article, n)" in out["missing"].content[0].text
    )
    assert out["pending"].is_error and "asset 'n' is" in out["pending"].content[0].text
    assert "not ready: no content" in out["pending"].content[0].text
    assert json.loads(out["resource"].contents[0].text)["definition"]["id"] == "agent_900"
    assert {t.uri_template for t in out["templates"].resource_templates} == {
        "hopflow://missions/{mission_id}", "hopflow://runs/{run_id}", "hopflow://assets/{asset_id}",
        "hopflow://agents/{name}",
    }  # fmt: skip
