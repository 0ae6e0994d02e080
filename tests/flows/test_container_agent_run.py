"""An agent's run that reads a container's logs, on a real Docker Engine and a real Prefect API (SQLite and
PostgreSQL): refused with a fault while the container is not allowlisted for the agent, done once it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.flows.agent_run import agent_run_flow
from hopflow.models.db import session_scope
from hopflow.models.enums import LastRunStatus, ToolExecutionStatus
from hopflow.models.orm import Fault, ToolStep
from hopflow.tasks.agents import configure_agent, register_blueprints
from typer.testing import CliRunner

from tests.docker_engine import docker_client, run_container, wait_for  # noqa: F401 - fixtures
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = [pytest.mark.flows, pytest.mark.docker]
runner = CliRunner()


def test_container_logs_step_is_refused_until_allowlisted(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_container: Any  # noqa: F811
) -> None:
    box = run_container(name="watched")
    wait_for(lambda: b"hello" in box.logs(), "the container's first log line")
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    playbook = {
        "name": "watch",
        "is_default": True,
        "steps": [{
            "name": "tail", "type": "containers.logs",
            "parameter_mapping": {"container": {"literal": box.name}, "tail": {"literal": 5}},
            "result_mapping": {"logs": {"asset": "tail", "role": "output"}},
        }],
    }  # fmt: skip
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint(playbooks=[playbook]))])
    agent = configure_agent("agent_900", "watcher", values=VALUES).id
    box.reload()
    before = box.attrs["State"]["StartedAt"]

    with pytest.raises(Exception, match=r"not allowlisted for containers\.logs of agent 'watcher'"):
        agent_run_flow(agent, "manual", {})
    with session_scope() as session:
        (step,) = session.scalars(sa.select(ToolStep)).all()
        (fault,) = session.scalars(sa.select(Fault)).all()
        assert step.status == ToolExecutionStatus.FAILED and step.execution_result is None
        assert fault.tool_step_id == step.id and "refused" in fault.description
        assert box.name in fault.description
    box.reload()
    assert box.attrs["State"]["StartedAt"] == before and box.status == "running"

    allow = ["containers", "allow", "watcher", box.name, "--tool", "containers.logs"]
    assert runner.invoke(app, allow).exit_code == 0
    outcome = agent_run_flow(agent, "manual", {})
    assert outcome.status == LastRunStatus.SUCCESS
    assert "hello from busybox" in outcome.outputs["tail"]
