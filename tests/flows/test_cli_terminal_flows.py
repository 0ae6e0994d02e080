"""The front door with real flows on a real Prefect API (the session's test harness): `hopflow run`
output, Ctrl-C and resume, `trigger --wait`'s error, scheduled runs the reconciler leaves out, LLM
calls attributed to their agent configuration, and Prefect's INFO lines kept off the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus, ToolExecutionStatus
from hopflow.models.orm import AgentConfiguration, AgentDefinition, AgentRunLog, LLMCall, Mission, ToolStep
from prefect import flow, get_client
from typer.testing import CliRunner

pytestmark = [pytest.mark.flows]
runner = CliRunner()
BRACKETED = "cols [order_id: int64] [/] [b]x[/b]"


def step(tool: str, params: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    return {"tool": tool, "parameter_mapping": params, "result_mapping": results}


def write_spec(path: Path, name: str, steps: list[dict[str, Any]], content: str = BRACKETED) -> Path:
    spec = {
        "name": name,
        "inputs": [{"name": "seed", "type": "text", "content": content}],
        "hops": [{"name": "only", "steps": steps}],
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_run_prints_bracketed_data_verbatim_and_counts_in_words(hopflow_env: str, tmp_path: Path) -> None:
    echo = step("noop.echo", {"value": {"asset": "seed"}}, {"value": {"asset": "out", "role": "output"}})
    spec = write_spec(tmp_path / "echo.yaml", "echo-brackets", [echo])
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    assert "(1 hop, 1 step, 0+0 tokens)" in result.output
    assert BRACKETED in result.output  # the asset summaries, markup off
    # Piped (not a terminal): the outcome is a line of its own, after the progress table.
    assert any(line.startswith("mission echo-brackets completed") for line in result.output.splitlines())


def test_ctrl_c_during_run_marks_the_mission_and_says_how_to_resume(
    hopflow_env: str, tmp_path: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_spec(tmp_path / "slow.yaml", "interruptible", [
        step("noop.echo", {"value": {"asset": "seed"}}, {"value": {"asset": "a"}}),
        step("noop.sleep", {"seconds": {"literal": "${env.HOPFLOW_TEST_SLEEP}"}},
             {"slept_seconds": {"asset": "slept", "role": "output"}}),
    ])  # fmt: skip
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "HOPFLOW_TEST_SLEEP": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hopflow.deployments.cli", "run", str(spec)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        sleeping = None
        while time.monotonic() < deadline and sleeping is None:
            assert proc.poll() is None, proc.communicate()
            with session_scope() as session:
                sleeping = session.scalars(sa.select(ToolStep).where(
                    ToolStep.tool_id == "noop.sleep", ToolStep.status == ToolExecutionStatus.EXECUTING
                )).first()  # fmt: skip
            time.sleep(0.2)
        assert sleeping is not None, "the mission never reached its sleeping step"
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == 130, (out, err)
    said = " ".join(out.split())
    assert "interrupted: mission interruptible" in said and "hopflow missions resume" in said
    with session_scope() as session:
        mission = session.scalars(sa.select(Mission).where(Mission.name == "interruptible")).one()
        assert mission.status == MissionStatus.FAILED and "interrupted" in (mission.error_message or "")
        mission_id = mission.id
    listed = runner.invoke(app, ["missions", "list", "--status", "failed"])
    assert mission_id[:8] in listed.output
    # Resume (short sleep now); piped, its outcome is a line of its own, not glued to the table.
    monkeypatch.setenv("HOPFLOW_TEST_SLEEP", "0.1")
    resumed = runner.invoke(app, ["missions", "resume", mission_id])
    assert resumed.exit_code == 0, resumed.output
    assert any(line.startswith("mission interruptible completed") for line in resumed.output.splitlines())
    again = runner.invoke(app, ["missions", "resume", mission_id])
    assert again.exit_code == 0 and "nothing to do" in " ".join(again.output.split())


class MissingSecretError(RuntimeError):
    pass


@flow(name="trigger-wait-probe")
def failing_probe() -> None:
    raise MissingSecretError("${env.SHOP_TOKEN} is referenced but SHOP_TOKEN is not set")


def test_trigger_wait_failure_names_the_runs_error(hopflow_env: str) -> None:
    from hopflow.deployments.commands.agents import run_failure

    state = failing_probe(return_state=True)
    run_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(uuid.UUID(run_id)).state
    message = run_failure(run_id, final)
    assert message.startswith(f"flow run {run_id} FAILED: ")
    assert "MissingSecretError" in message and "SHOP_TOKEN is not set" in message
    assert f"hopflow runs show {run_id}" in message


def test_sync_leaves_out_scheduled_runs_nobody_started(hopflow_env: str) -> None:
    from datetime import UTC, datetime, timedelta

    from hopflow.flows.mission import mission_flow
    from hopflow.flows.reconciler import sync_run_logs
    from prefect.states import Scheduled

    with get_client(sync_client=True) as client:
        future = client.create_flow_run(
            mission_flow,
            parameters={"mission_id": str(uuid.uuid4())},
            state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=2)),
        )
    for since in (None, datetime(1970, 1, 1, tzinfo=UTC)):  # first sync (no watermark) and --full
        sync_run_logs(since=since, export_logs=False)
        with session_scope() as session:
            row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == str(future.id))).first()
            assert row is None


def test_llm_calls_of_an_agent_mission_name_the_agent_configuration(hopflow_env: str, tmp_path: Path) -> None:
    from hopflow.flows.mission import run_mission
    from hopflow.models.access.identity import ensure_user
    from hopflow.tasks.missions import create_mission_from_spec
    from hopflow.tasks.specs import load_mission_spec

    spec = write_spec(tmp_path / "llm.yaml", "agent-llm", [
        step("llm.complete", {"prompt": {"asset": "seed"}}, {"text": {"asset": "answer", "role": "output"}}),
    ], content="Count the orders. Then stop.")  # fmt: skip
    with session_scope() as session:
        definition = AgentDefinition(id="agent_078", name="Asker", version="1.0")
        session.add(definition)
        config = AgentConfiguration(name="asker-a", agent_definition_id=definition.id)
        session.add(config)
        session.flush()
        user = ensure_user(session)
        mission = create_mission_from_spec(session, load_mission_spec(spec), user_id=user.id,
                                           base_dir=tmp_path, agent_configuration_id=config.id)  # fmt: skip
        mission_id, config_id = mission.id, config.id
    run_mission(mission_id)
    with session_scope() as session:
        calls = session.scalars(sa.select(LLMCall).where(LLMCall.mission_id == mission_id)).all()
        assert calls and all(c.agent_configuration_id == config_id for c in calls)


def test_runs_sync_keeps_prefect_info_lines_off_the_terminal_unless_verbose(
    hopflow_env: str, prefect_api: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"}
    env["PREFECT_API_URL"] = prefect_api
    hopflow = Path(sys.executable).with_name("hopflow")

    def sync(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(hopflow), *extra, "runs", "sync", "--no-logs"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    quiet = sync()
    assert quiet.returncode == 0, quiet.stderr
    assert "synced" in quiet.stdout and "| INFO" not in quiet.stderr + quiet.stdout
    loud = sync("--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "| INFO" in loud.stderr + loud.stdout
