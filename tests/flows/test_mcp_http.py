"""`hopflow mcp` over streamable HTTP, driven by the official SDK's own client on a real uvicorn (loopback,
free port) and a real Prefect API, on SQLite and PostgreSQL: start a mission and wait for it with progress,
read an asset and a run detail, start a mission from a deployed template with inputs, resources, tool errors
that say what is wrong, and the bearer token."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import sqlalchemy as sa
import uvicorn
from hopflow.deployments.mcp import create_http_app
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentRunLog, Mission
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.deployments.servers import free_port
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows
TOKEN = "mcp-test-token-5f1c"

SPEC = """
name: words over mcp
inputs:
  - {name: article, type: text, content: "one two three. four five."}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {text: {asset: article}}
        result_mapping: {words: {asset: word_count, role: output}}
      - tool: text.split
        parameter_mapping: {text: {asset: article}, separator: {literal: ". "}}
        result_mapping: {parts: {asset: sentences, role: output}}
"""

FILE_SPEC = "name: x\ninputs: [{name: f, file: /etc/passwd}]\nhops: [{name: h, steps: [{tool: noop.echo}]}]"


@contextmanager
def mcp_server(app: Any) -> Iterator[str]:
    """uvicorn in a thread, with its lifespan on (the SDK's session manager lives there)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="mcp-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the MCP server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def mcp_url(hopflow_env: str, prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # the server's threads do not inherit the harness's context: they read the API URL from the environment
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with mcp_server(create_http_app("127.0.0.1", TOKEN)) as url:
        yield url


def call(url: str, steps: Any, token: str = TOKEN) -> Any:
    """Run `steps(client)` in one MCP session (the SDK's client, over HTTP, with the bearer token)."""

    async def main() -> Any:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=300)
        async with http, Client(streamable_http_client(url, http_client=http), cache=None) as client:
            return await steps(client)

    return anyio.run(main)


def leaves(exc: BaseException) -> str:
    """Every message in an exception (group), as one text."""
    if isinstance(exc, BaseExceptionGroup):
        return " | ".join(leaves(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def data(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def error(result: Any) -> str:
    assert result.is_error
    text = result.content[0].text
    assert "Traceback" not in text and 'File "' not in text
    return text


def test_without_the_token_or_with_a_wrong_one_is_401_and_no_token_means_loopback_only(
    mcp_url: str,
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.post(mcp_url, json=body, headers={"Accept": "application/json", **headers})
        assert response.status_code == 401 and "HOPFLOW_MCP_TOKEN" in response.json()["error"]
    with pytest.raises(BaseException) as refused:  # the SDK's client gets the 401 too
        call(mcp_url, lambda c: c.list_tools(), token="wrong")
    assert "Server returned an error response" in leaves(refused.value)
    with pytest.raises(ValueError, match=r"refusing to listen on 0\.0\.0\.0 without a token"):
        create_http_app("0.0.0.0", None)
    create_http_app("0.0.0.0", TOKEN)  # with a token it may


def test_start_mission_waits_with_progress_then_asset_and_run_detail(mcp_url: str) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def steps(c: Any) -> dict[str, Any]:
        tools = {t.name for t in (await c.list_tools()).tools}
        assert {
            "start_mission",
            "mission_status",
            "list_missions",
            "get_asset",
            "list_runs",
            "run_detail",
            "trigger_agent",
            "list_agents",
        } <= tools
        out: dict[str, Any] = {}
        started = await c.call_tool(
            "start_mission", {"spec": SPEC, "wait": True}, progress_callback=on_progress
        )
        out["mission"] = data(started)
        mission_id = out["mission"]["mission_id"]
        out["summary"] = data(await c.call_tool("get_asset", {"mission": mission_id, "name": "word_count"}))
        out["content"] = data(
            await c.call_tool(
                "get_asset", {"mission": "words over mcp", "name": "sentences", "content": True}
            )
        )
        out["status"] = data(await c.call_tool("mission_status", {"mission": mission_id}))
        out["missions"] = data(await c.call_tool("list_missions", {}))["missions"]
        out["runs"] = data(await c.call_tool("list_runs", {}))["runs"]
        run_id = next(r["run_id"] for r in out["runs"] if r["flow_name"] == "mission")
        out["detail"] = data(await c.call_tool("run_detail", {"run": run_id}))
        res = await c.read_resource(f"hopflow://missions/{mission_id}")
        out["mission_resource"] = json.loads(res.contents[0].text)
        res = await c.read_resource(f"hopflow://runs/{run_id}")
        out["run_resource"] = json.loads(res.contents[0].text)
        res = await c.read_resource(f"hopflow://assets/{out['summary']['asset_id']}")
        out["asset_resource"] = json.loads(res.contents[0].text)
        out["run_id"] = run_id
        return out

    out = call(mcp_url, steps)
    mission = out["mission"]
    assert mission["status"] == "completed" and mission["waited"] is True
    assert mission["outputs"] == {"word_count": "5", "sentences": '["one two three","four five."]'}
    assert progress and progress[-1][:2] == (2, 2) and "completed" in (progress[-1][2] or "")
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert out["summary"]["summary"] == "5" and "content" not in out["summary"]
    assert json.loads(out["content"]["content"]) == ["one two three", "four five."]
    assert out["content"]["encoding"] == "json" and out["content"]["truncated"] is False
    assert [h["status"] for h in out["status"]["hops"]] == ["completed"]
    assert out["missions"][0]["mission_id"] == mission["mission_id"]
    detail = out["detail"]
    assert detail["detail"]["run_id"] == out["run_id"] and detail["detail"]["status"] == "success"
    assert detail["tokens"] == {"prompt": 0, "completion": 0, "total": 0, "by_model": []}
    assert out["run_id"] in detail["markdown"] and detail["markdown"].startswith("#")
    assert out["mission_resource"]["status"] == "completed"
    assert out["run_resource"]["mission"]["id"] == mission["mission_id"]
    assert out["asset_resource"]["name"] == "word_count"


def test_bad_arguments_give_tool_errors_that_say_what_is_wrong_and_write_nothing(mcp_url: str) -> None:
    async def steps(c: Any) -> list[str]:
        calls = [
            ("start_mission", {}),
            ("start_mission", {"spec": SPEC, "template": "t"}),
            ("start_mission", {"template": "weekly"}),
            ("start_mission", {"spec": "name: x\nhops: [{name: h, steps: [{tool: text.cout}]}]"}),
            ("start_mission", {"spec": "a: &a [1]\nb: *a"}),
            (
                "start_mission",
                {"spec": FILE_SPEC},
            ),
            ("start_mission", {"spec": SPEC, "inputs": {"nope": 1}}),
            ("start_mission", {"spec": SPEC.replace('literal: ". "', 'literal: "${env.HOME}"')}),
            ("mission_status", {"mission": "no-such-mission"}),
            ("get_asset", {"mission": "no-such-mission", "name": "x"}),
            ("get_asset", {"mission": "x", "name": "y", "max_bytes": 10**9}),
            ("run_detail", {"run": "ffffffff"}),
            ("list_runs", {"status": "great"}),
            ("trigger_agent", {"configuration": "nobody"}),
        ]
        return [error(await c.call_tool(name, args)) for name, args in calls]

    messages = call(mcp_url, steps)
    expected = [
        "give either `spec`",
        "give either `spec`",
        "template: no mission template named 'weekly'; none is deployed",
        "text.cout",
        "YAML aliases",
        "input files are not accepted over MCP",
        "inputs.nope: unknown input 'nope'; the mission's inputs: article",
        "spec.hops.0.steps.1.parameter_mapping.separator.literal: ${env.X} references are not accepted",
        "no mission with id or name 'no-such-mission'",
        "no mission with id or name",
        "max_bytes",
        "no run 'ffffffff'",
        "status: 'great' is not one of",
        "nobody",
    ]
    for message, wanted in zip(messages, expected, strict=True):
        assert wanted in message, (wanted, message)
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0


def test_trigger_agent_runs_with_a_one_off_directive_and_agents_are_listed(
    mcp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hopflow.tasks.agents import configure_agent, register_blueprints

    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "shop-a", values=VALUES)

    async def steps(c: Any) -> dict[str, Any]:
        agents = data(await c.call_tool("list_agents", {}))["agents"]
        bad = error(await c.call_tool("trigger_agent", {"configuration": "shop-a", "payload": {"loud": "x"}}))
        env = error(
            await c.call_tool("trigger_agent", {"configuration": "shop-a", "directive_text": "${env.X}"})
        )
        started = data(
            await c.call_tool(
                "trigger_agent",
                {"configuration": "shop-a", "payload": {}, "directive_text": "mcp one-off", "local": True},
            )
        )
        agent = json.loads((await c.read_resource("hopflow://agents/shop-a")).contents[0].text)
        return {"agents": agents, "bad": bad, "env": env, "started": started, "agent": agent}

    out = call(mcp_url, steps)
    assert [a["name"] for a in out["agents"]] == ["shop-a"] and out["agent"]["definition"][
        "id"
    ] == "agent_900"
    assert "payload.loud" in out["bad"] and "env" in out["env"]
    run_id = out["started"]["flow_run_id"]

    def finished() -> AgentRunLog | None:
        with session_scope() as session:
            row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).first()
            return row if row is not None and row.status.value in ("success", "error") else None

    deadline = time.monotonic() + 300
    while (row := finished()) is None:
        assert time.monotonic() < deadline, "the agent run did not finish"
        time.sleep(0.5)
    assert row.status.value == "success" and row.trigger_type.value == "api"
    assert row.directive_snapshot == {"version": None, "name": None, "text": "mcp one-off", "one_off": True}
    assert "directive: mcp one-off" in (row.output_preview or "")


TEMPLATE_SPEC = """
name: split words
inputs:
  - {name: article, type: text, content: "the template's own text"}
  - {name: separator, type: text, content: " "}
hops:
  - name: split
    steps:
      - tool: text.split
        parameter_mapping: {text: {asset: article}, separator: {asset: separator}}
        result_mapping: {parts: {asset: parts, role: output}}
"""


def test_start_mission_from_a_deployed_template_with_inputs_and_refuses_bad_inputs(
    mcp_url: str, tmp_path: Path
) -> None:
    from hopflow.tasks.templates import store_template

    path = tmp_path / "split.yaml"
    path.write_text(TEMPLATE_SPEC)
    store_template(path, name="splitter")

    async def steps(c: Any) -> dict[str, Any]:
        start = "start_mission"
        listed = data(await c.call_tool("list_templates", {}))["templates"]
        refused = [
            error(await c.call_tool(start, {"template": "nope", "inputs": {}})),
            error(await c.call_tool(start, {"template": "splitter", "inputs": {"colour": "red"}})),
            error(await c.call_tool(start, {"template": "splitter", "inputs": {"article": 5}})),
            error(await c.call_tool(start, {"template": "splitter", "inputs": {"separator": "${env.HOME}"}})),
        ]
        with session_scope() as session:  # nothing written by a refused start
            assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0
        inputs = {"article": "a;b;c", "separator": ";"}
        done = data(await c.call_tool(start, {"template": "splitter", "inputs": inputs, "wait": True}))
        own = data(await c.call_tool(start, {"template": "splitter", "wait": True}))
        return {"refused": refused, "done": done, "own": own, "listed": listed}

    out = call(mcp_url, steps)
    [listed] = out["listed"]
    assert (listed["name"], listed["version"]) == ("splitter", 1)
    assert listed["deployment"] == "mission-run/splitter"
    assert set(listed["inputs"]) == {"article", "separator"}
    assert listed["inputs"]["article"]["type"] == "string"
    unknown, extra, typed, env = out["refused"]
    assert "template: no mission template named 'nope'; known: splitter" in unknown
    assert "inputs.colour: unknown input 'colour'; the mission's inputs: article, separator" in extra
    assert "inputs.article: input 'article' (text): expected string, got int" in typed
    assert "inputs.separator: ${env.X} references are not accepted" in env
    done = out["done"]
    assert done["status"] == "completed" and done["name"] == "splitter"  # --name renames it
    assert done["outputs"] == {"parts": '["a","b","c"]'}
    assert out["own"]["status"] == "completed"  # no inputs: the template's own values
    assert out["own"]["outputs"] == {"parts": '["the","template\'s","own","text"]'}
    with session_scope() as session:
        mission = session.get(Mission, done["mission_id"])
        assert mission is not None
        meta = mission.mission_metadata
        assert meta["template"] == "splitter" and meta["template_version"] == 1 and meta["via"] == "mcp"
