"""What a Prefect user reads about a run: step logs that name the tool, its parameters and outputs; a
failed step's error with its context (the URL) and the tool's own frames in the traceback; a mission
summary that says what failed; an agent run whose task inputs the UI can render (no subflow result
passed into a task) and whose mission subflow carries its tags; and `hopflow run` that fails quietly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hopflow.flows.agent_run import agent_run_flow
from hopflow.flows.mission import run_mission
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.orm import Mission
from hopflow.tasks.agents import configure_agent, register_blueprints
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from prefect import get_client, tags
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)

from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failing_spec(url: str) -> dict[str, Any]:
    return {
        "name": "fetch",
        "inputs": [{"name": "note", "type": "text", "content": "a note"}],
        "hops": [
            {
                "name": "get",
                "steps": [
                    {"tool": "text.count", "parameter_mapping": {"text": {"asset": "note"}},
                     "result_mapping": {"words": {"asset": "note_words", "role": "output"}}},
                    {"tool": "http.get", "parameter_mapping": {"url": {"literal": url}},
                     "result_mapping": {"status_code": {"asset": "status", "role": "output"}}},
                ],
            }
        ],
    }  # fmt: skip


def logs_of(client: Any, flow_run_id: str) -> list[Any]:
    run = uuid.UUID(flow_run_id)
    return list(client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run]))))


def wait_logs(client: Any, flow_run_id: str, needle: str, *, flow_level: bool = False) -> list[Any]:
    """Log lines reach the API about a second after the run. `flow_level`: the needle in a line of
    the flow run itself (task lines can arrive before it)."""
    import time

    deadline = time.monotonic() + 60
    logs: list[Any] = []
    while time.monotonic() < deadline:
        logs = logs_of(client, flow_run_id)
        if any(needle in log.message and not (flow_level and log.task_run_id) for log in logs):
            return logs
        time.sleep(0.5)
    return logs


def test_failed_step_logs_its_context_and_the_tools_own_frames(hopflow_env: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/orders"
    with session_scope() as session:
        mission_id = create_mission_from_spec(
            session, parse_mission_spec(failing_spec(url)), user_id=ensure_user(session).id
        ).id
    with pytest.raises(Exception, match="ConnectError"):
        run_mission(mission_id)
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.flow_run_id is not None
        flow_run_id = mission.flow_run_id
        # the error names what the step was working on
        step = mission.hops[0].tool_steps[1]
        assert step.error_message is not None and f"url={url}" in step.error_message

    with get_client(sync_client=True) as client:
        logs = wait_logs(client, flow_run_id, "Finished in state Failed", flow_level=True)
        messages = [log.message for log in logs]
        # the step says which tool ran, with what, and what it produced
        assert any("tool text.count" in m and "text = asset note: a note" in m for m in messages)
        assert any("tool text.count done in" in m and "output note_words: 2" in m for m in messages)
        assert any("tool http.get" in m and f"url = {url}" in m for m in messages)
        # the error once per attempt (http.get is retried twice), the last one final
        retried = [m for m in messages if m.startswith("tool http.get failed on attempt")]
        failed = [m for m in messages if m.startswith("tool http.get failed after")]
        assert len(retried) == 2 and len(failed) == 1 and url in failed[0]
        # one traceback in the whole flow run, the step's, and it reaches into the tool (httpx's
        # frames), not Prefect's engine
        [traceback] = [m for m in messages if "Traceback" in m]
        assert traceback == failed[0] and "ToolStepError" in traceback
        assert "httpx" in traceback and "tasks/tools" in traceback and "prefect" not in traceback
        # the error text only in the step's own lines (2 retries + the final one); the step's
        # Prefect lines, the hop, fail-mission and the flow refer to it in one line each
        error = "Connection refused"
        assert [m for m in messages if error in m] == [*retried, failed[0]]
        step_task = next(log.task_run_id for log in logs if log.message == failed[0])
        references = [log for log in logs if "logged once by step-1.2:http.get" in log.message]
        assert {log.task_run_id for log in references} >= {step_task, None}  # step and flow
        assert len({log.task_run_id for log in references}) >= 4  # + the hop and fail-mission
        assert all("\n" not in log.message for log in references)

        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(flow_run_id)]))
        )
        summary = next(a for a in artifacts if a.key == "fetch-summary")
        assert summary.task_run_id is None
        text = str(summary.data)
        assert "# mission fetch: failed" in text and "## What failed" in text
        assert "step-1.2:http.get in hop-1:get" in text and url in text
        # fail-mission is red like the mission it records
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)]))
        )
        fail_task = next(t for t in task_runs if t.name == "fail-mission")
        assert fail_task.state is not None and fail_task.state.is_failed()


def test_agent_run_task_inputs_render_and_its_mission_carries_its_tags(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    agent = configure_agent("agent_900", "shop-tags", values=VALUES).id
    with tags("agent:TestSentinel"):
        outcome = agent_run_flow(agent, "api", {"order": {"id": 5, "total": 300}})
    assert outcome.status.value == "success" and "alert" in outcome.outputs
    run_id = uuid.UUID(outcome.run_id)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        assert {t.name for t in task_runs} >= {
            "snapshot-agent-run",
            "create-agent-mission",
            "finish-agent-run",
        }
        # a subflow result in a task's inputs is what Prefect's UI cannot render ("Invalid TaskInputResponse")
        kinds = {i.input_type for t in task_runs for inputs in t.task_inputs.values() for i in inputs}
        assert "flow_run" not in kinds, kinds
        [subflow] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
        )
        assert "agent:TestSentinel" in subflow.tags and subflow.name == "shop-tags:order_brief"
        # "agent-run > shop-tags/api" and "mission > shop-tags:order_brief": no name said twice
        agent_run = client.read_flow_run(run_id)
        assert agent_run.name == "shop-tags/api" and client.read_flow(agent_run.flow_id).name == "agent-run"
        assert client.read_flow(subflow.flow_id).name == "mission"
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        # the mission's summary on the agent run too; its assets keyed by configuration
        assert "shop-tags-summary" in {a.key for a in artifacts}
        mission_artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[subflow.id]))
        )
        assert {"shop-tags-alert", "shop-tags-brief"} <= {a.key for a in mission_artifacts}


FAIL_SPEC = """\
name: doomed
hops:
  - name: only
    steps:
      - tool: noop.fail
        parameter_mapping: {message: {literal: "the tool broke"}}
"""


@pytest.mark.slow
def test_hopflow_run_failure_shows_one_error_and_tracebacks_only_when_verbose(
    hopflow_env: str, prefect_api: str, tmp_path: Path
) -> None:
    spec = tmp_path / "doomed.yaml"
    spec.write_text(FAIL_SPEC)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "HOPFLOW_DATABASE_URL": hopflow_env,
        "COLUMNS": "200",
    }
    cli = [sys.executable, "-m", "hopflow.deployments.cli", "run", str(spec)]
    quiet = subprocess.run(cli, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    said = quiet.stdout + quiet.stderr
    assert quiet.returncode == 1, said
    assert "Traceback" not in said, said
    assert said.count("error:") == 1 and "the tool broke" in said and "hopflow missions resume" in said
    verbose = subprocess.run(
        [*cli, "--verbose"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert verbose.returncode == 1 and "Traceback" in verbose.stdout + verbose.stderr
