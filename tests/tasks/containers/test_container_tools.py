"""Container tools, inventory and allowlist on a real Docker Engine (busybox containers, no network),
with the inventory stored in SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.orm import ContainerInventory, ToolAllowlist
from hopflow.tasks.tools import ToolContext, get_tool, load_builtin_tools
from hopflow.tasks.tools.allowlist import Allowlist, ToolNotAllowed
from typer.testing import CliRunner

from tests.docker_engine import docker_client, run_container, wait_for  # noqa: F401 - fixtures
from tests.tasks.agents.factories import VALUES, blueprint, write_yaml

pytestmark = pytest.mark.docker
runner = CliRunner()


def started_at(container: Any) -> str:
    container.reload()
    return container.attrs["State"]["StartedAt"]


def ctx_for(allowlist: Allowlist | None) -> ToolContext:
    return ToolContext.from_settings(allowlist=allowlist)


@pytest.fixture
def agent(hopflow_env: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    from hopflow.tasks.agents import configure_agent, register_blueprints

    monkeypatch.setenv("HOPFLOW_TEST_SHOP_TOKEN", "tok-long-enough-1")
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    return configure_agent("agent_900", "shop-a", values=VALUES).name


def test_inventory_snapshots_every_container_and_diff_sees_state_changes(
    hopflow_env: str, run_container: Any  # noqa: F811
) -> None:
    running = run_container(name="keeps")
    result = runner.invoke(app, ["containers", "inventory", "--json"])
    assert result.exit_code == 0, result.output
    listed = {c["id"]: c for c in json.loads(result.output)["containers"]}
    assert listed[running.id]["state"] == "running" and listed[running.id]["image"].startswith("hopflow-test")
    assert listed[running.id]["labels"]["hopflow-test"] and listed[running.id]["created"]
    with session_scope() as session:
        query = sa.select(ContainerInventory).where(ContainerInventory.container_id == running.id)
        row = session.scalars(query).one()
        assert row.name == running.name and row.state == "running" and row.snapshot_at is not None
        assert row.container_created_at is not None and row.labels == running.labels

    running.stop(timeout=1)
    newcomer = run_container(name="new")
    assert runner.invoke(app, ["containers", "inventory"]).exit_code == 0
    result = runner.invoke(app, ["containers", "diff", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)
    # the first snapshot of this database is the baseline: the newcomer appeared, the other one exited
    assert [c["id"] for c in diff["appeared"]] == [newcomer.id]
    changed = {c["id"]: c["changes"] for c in diff["changed"]}
    assert changed[running.id] == {"state": ["running", "exited"]}
    text = runner.invoke(app, ["containers", "diff", "--since", "1h"]).output
    assert f"+ {newcomer.id[:12]}" in text and f"~ {running.id[:12]}" in text

    newcomer.remove(force=True)
    runner.invoke(app, ["containers", "inventory"])
    diff = json.loads(runner.invoke(app, ["containers", "diff", "--since", "1h", "--json"]).output)
    assert diff["appeared"] == []  # created and gone within the window


def test_logs_and_restart_refused_unless_the_container_is_allowlisted(
    docker_client: Any, run_container: Any  # noqa: F811
) -> None:
    load_builtin_tools()
    box = run_container(name="box")
    other = run_container(name="other")
    wait_for(lambda: b"hello" in box.logs(), "the container's first log line")
    logs, restart = get_tool("containers.logs"), get_tool("containers.restart")
    before = started_at(box)

    for allowlist in (None, Allowlist("shop-a"), Allowlist("shop-a", (("containers.logs", other.id),))):
        with pytest.raises(ToolNotAllowed, match="refused"):
            restart.run({"container": box.name}, ctx_for(allowlist))
        with pytest.raises(ToolNotAllowed, match=f"container {box.name!r}"):
            logs.run({"container": box.id[:12]}, ctx_for(allowlist))
    assert started_at(box) == before  # nothing done

    allowed = Allowlist("shop-a", (("containers.logs", box.id), ("containers.restart", box.id)))
    out = logs.run({"container": box.name, "tail": 5}, ctx_for(allowed))
    assert out.container_id == box.id and "hello from busybox" in out.logs and not out.truncated
    # logs on the box do not allow restarting the other container
    with pytest.raises(ToolNotAllowed):
        restart.run({"container": other.name}, ctx_for(allowed))
    assert restart.run({"container": box.name, "timeout_seconds": 1}, ctx_for(allowed)).state == "running"
    assert started_at(box) != before


def test_logs_are_bounded_and_bad_arguments_say_what_is_wrong(
    docker_client: Any, run_container: Any  # noqa: F811
) -> None:
    from hopflow.tasks.containers import MAX_LOG_BYTES, ContainerNotFound
    from pydantic import ValidationError

    load_builtin_tools()
    script = "i=0; while [ $i -lt 3000 ]; do echo line-$i-" + "x" * 100 + "; i=$((i+1)); done; sleep 3600"
    noisy = run_container(script, name="noisy")
    wait_for(lambda: b"line-2999" in noisy.logs(tail=1), "3000 log lines")
    allowed = Allowlist("a", (("containers.logs", noisy.id),))
    out = get_tool("containers.logs").run({"container": noisy.id, "tail": 1000}, ctx_for(allowed))
    assert out.truncated and len(out.logs.encode()) <= MAX_LOG_BYTES and out.logs.endswith("xx\n")
    assert "line-2999" in out.logs and "line-1999" not in out.logs
    with pytest.raises(ValidationError, match="tail"):
        get_tool("containers.logs").run({"container": noisy.id, "tail": 10**6}, ctx_for(allowed))
    with pytest.raises(ContainerNotFound, match="no container 'hopflow-no-such'"):
        get_tool("containers.logs").run({"container": "hopflow-no-such"}, ctx_for(allowed))


def test_allowlist_commands_store_resolved_ids_and_list_them(
    agent: str, run_container: Any  # noqa: F811
) -> None:
    box = run_container(name="box")
    result = runner.invoke(app, ["containers", "allow", agent, box.name])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["agents", "allow-tool", agent, "text.count"]).exit_code == 0
    again = runner.invoke(app, ["agents", "allow-tool", agent, "text.count"])
    assert "already allowed" in again.output
    with session_scope() as session:
        rows = {(r.tool_id, r.container_id) for r in session.scalars(sa.select(ToolAllowlist))}
    assert rows == {("containers.logs", box.id), ("containers.restart", box.id), ("text.count", None)}
    listed = json.loads(runner.invoke(app, ["containers", "list", agent, "--json"]).output)
    assert {(i["tool"], i["container_id"]) for i in listed} == rows

    bad = runner.invoke(app, ["agents", "allow-tool", agent, "text.cout"])
    assert bad.exit_code == 1 and "did you mean 'text.count'" in bad.output
    missing = runner.invoke(app, ["containers", "allow", agent, "hopflow-no-such-container"])
    assert missing.exit_code == 1 and "no container 'hopflow-no-such-container'" in missing.output

    deny = ["containers", "deny", agent, box.id, "--tool", "containers.restart"]
    assert runner.invoke(app, deny).exit_code == 0
    assert runner.invoke(app, ["agents", "deny-tool", agent, "text.count"]).exit_code == 0
    with session_scope() as session:
        rows = {(r.tool_id, r.container_id) for r in session.scalars(sa.select(ToolAllowlist))}
    assert rows == {("containers.logs", box.id)}
    nothing = runner.invoke(app, ["agents", "deny-tool", agent, "text.count"])
    assert nothing.exit_code == 1 and "no allowlist entry" in nothing.output
