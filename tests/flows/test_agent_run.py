"""agent_run_flow on a real Prefect API, on SQLite and PostgreSQL: the playbook runs as a mission subflow,
the run log holds the redacted input snapshot, the directive and the since-last-success window, the
configuration its last_run_* fields, and the secret is stored nowhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.flows.agent_run import agent_run_flow
from hopflow.models.access.directives import create_directive
from hopflow.models.db import session_scope
from hopflow.models.enums import AgentConfigurationStatus, LastRunStatus, RunStatus, TriggerType
from hopflow.models.orm import AgentConfiguration, AgentRunLog, Base, Mission, ToolStep
from hopflow.models.secrets import MissingSecretError
from hopflow.tasks.agents import AgentSpecError, configure_agent, register_blueprints, set_agent_status
from typer.testing import CliRunner

from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows
runner = CliRunner()


@pytest.fixture
def agent(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    return configure_agent("agent_900", "shop-a", values=VALUES).id


def run_log(run_id: str) -> AgentRunLog:
    with session_scope() as session:
        row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).one()
        session.expunge(row)
        return row


def everything_stored() -> str:
    """Every row of every table, as text: where a leaked secret would show."""
    with session_scope() as session:
        return "\n".join(
            json.dumps([list(r) for r in session.execute(sa.select(table))], default=str)
            for table in Base.metadata.sorted_tables
        )


def test_agent_run_snapshots_runs_the_playbook_and_records_the_outcome(agent: str) -> None:
    with session_scope() as session:
        create_directive(session, agent, "old directive")
        directive = create_directive(
            session, agent, "watch orders above 100", name="v2"
        )
        directive_id = directive.id
    order = {"id": 42, "total": 250}
    outcome = agent_run_flow(agent, "webhook", {"order": order})

    assert outcome.status == LastRunStatus.SUCCESS and outcome.skipped_steps == []
    assert set(outcome.outputs) == {"alert", "brief"}
    assert outcome.outputs["alert"].startswith("# Big order 42")
    assert "directive: watch orders above 100" in outcome.outputs["brief"]
    first = run_log(outcome.run_id)
    assert first.flow_name == "agent-run" and first.agent_configuration_id == agent
    assert first.trigger_type == TriggerType.WEBHOOK and first.status == RunStatus.SUCCESS
    snapshot = first.input_params_snapshot or {}
    assert snapshot["inputs"]["token"] == "***"  # redacted: neither the reference nor the value
    assert snapshot["inputs"]["shop"] == "Test Shop" and snapshot["payload"] == {"order": order}
    assert (first.directive_id, first.directive_snapshot) == (
        directive_id,
        {"version": 2, "text": "watch orders above 100", "name": "v2"},
    )
    assert first.window_start is None and first.window_end is not None  # no earlier successful run
    assert first.mission_id == outcome.mission_id
    assert first.full_output_ref == f"hopflow://missions/{outcome.mission_id}"
    assert first.output_preview is not None and "brief: # Brief for Test Shop" in first.output_preview

    with session_scope() as session:
        mission = session.get(Mission, outcome.mission_id)
        assert mission is not None and mission.agent_configuration_id == agent
        assert mission.status.value == "completed" and [h.name for h in mission.hops] == [
            "auth",
            "order",
            "alert",
            "brief",
        ]
        auth = session.scalars(sa.select(ToolStep).where(ToolStep.tool_id == "text.count")).one()
        # the mission row holds the reference; the step resolved it only while the tool ran
        assert f"Bearer ${{env.{SECRET_ENV}}}" in json.dumps(auth.parameter_mapping["text"])
        config = session.get(AgentConfiguration, agent)
        assert config is not None
        assert (config.last_run_id, config.last_run_status) == (outcome.run_id, LastRunStatus.SUCCESS)
        assert config.last_run_full_output_ref == f"hopflow://missions/{outcome.mission_id}"
        assert (
            config.last_run_output_preview is not None
            and "alert: # Big order 42" in config.last_run_output_preview
        )

    # a second run, from the CLI in this process: its window starts where the first run ended
    result = runner.invoke(
        app, ["trigger", "shop-a", "--local", "--payload", json.dumps({"order": {"id": 43, "total": 5}})]
    )
    assert result.exit_code == 0, result.output
    second_id = result.output.split()[1].rstrip(":")
    second = run_log(second_id)
    assert second.trigger_type == TriggerType.MANUAL
    assert second.window_start == first.end_time and second.window_end is not None
    assert second.window_end > second.window_start  # type: ignore[operator]
    assert "skipped: alert" in (
        second.output_preview or ""
    )  # 5 < threshold 100: the alert step is not created

    assert SECRET_VALUE not in everything_stored()


def test_invalid_payload_fails_the_run_before_any_mission(agent: str) -> None:
    refused = r"payload\.threshold: input 'threshold' cannot be set by a trigger"
    with pytest.raises(AgentSpecError, match=refused):
        agent_run_flow(agent, "api", {"threshold": "high"})
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0


def test_missing_secret_fails_naming_the_variable(agent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(MissingSecretError, match=SECRET_ENV):
        agent_run_flow(agent, "api", {})


def test_inactive_configuration_is_not_run(agent: str) -> None:
    set_agent_status(agent, AgentConfigurationStatus.INACTIVE)
    with pytest.raises(ValueError, match="'shop-a' is inactive: not run"):
        agent_run_flow(agent, "schedule", None)


def test_failed_mission_records_an_error_on_the_configuration(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    doc: dict[str, Any] = blueprint(triggers=[])
    doc["playbooks"][0]["steps"] = [
        {"type": "noop.fail", "name": "boom", "parameter_mapping": {"message": {"literal": "shop closed"}}}
    ]
    register_blueprints([write_yaml(tmp_path / "agent.yaml", doc)])
    config_id = configure_agent("agent_900", "shop-f", values=VALUES).id
    with pytest.raises(Exception, match="shop closed"):
        agent_run_flow(config_id, "api", {"order": {"id": 1}})
    with session_scope() as session:
        config = session.get(AgentConfiguration, config_id)
        assert config is not None and config.last_run_status == LastRunStatus.ERROR
        assert "shop closed" in (config.last_run_output_preview or "")
        row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == config.last_run_id)).one()
        assert row.flow_name == "agent-run" and row.status == RunStatus.ERROR
