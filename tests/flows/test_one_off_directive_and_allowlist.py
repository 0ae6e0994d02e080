"""Runs with a one-off directive (CLI, webhook body field) that leave the stored directive alone, and the
tool allowlist enforced on an agent's run steps (a refused step: a fault, the step failed, nothing run);
on a real Prefect API, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hopflow.deployments import signatures
from hopflow.deployments.cli import app
from hopflow.deployments.webhooks import DIRECTIVE_FIELD, create_webhook_app
from hopflow.flows.agent_run import agent_run_flow
from hopflow.models.access.directives import create_directive, read_current_directive
from hopflow.models.db import session_scope
from hopflow.models.enums import LastRunStatus, ToolExecutionStatus
from hopflow.models.orm import AgentRunLog, Fault, ToolStep
from hopflow.models.settings import Settings
from hopflow.tasks.agents import configure_agent, register_blueprints
from typer.testing import CliRunner

from tests.deployments.servers import serving
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows
runner = CliRunner()


@pytest.fixture
def agent(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configuration_id = configure_agent("agent_900", "shop-a", values=VALUES).id
    with session_scope() as session:
        create_directive(session, configuration_id, "the stored directive", name="v1")
    return configuration_id


def run_logs() -> list[AgentRunLog]:
    with session_scope() as session:
        query = sa.select(AgentRunLog).where(AgentRunLog.flow_name == "agent-run")
        rows = list(session.scalars(query.order_by(AgentRunLog.created_at)))
        for row in rows:
            session.expunge(row)
        return rows


def stored_directive(configuration_id: str) -> tuple[int, str]:
    with session_scope() as session:
        d = read_current_directive(session, configuration_id)
        assert d is not None
        return d.version, d.text


def test_trigger_with_directive_text_snapshots_a_one_off_and_keeps_the_stored_one(agent: str) -> None:
    args = ["trigger", "shop-a", "--local", "--payload", "{}", "--directive-text", "focus on refunds today"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (row,) = run_logs()
    assert row.directive_snapshot == {"version": None, "name": None, "text": "focus on refunds today",
                                      "one_off": True}  # fmt: skip
    assert row.directive_id is None and "directive: focus on refunds today" in (row.output_preview or "")
    assert stored_directive(agent) == (1, "the stored directive")

    outcome = agent_run_flow(agent, "manual", {})  # the next run uses the stored one again
    assert "directive: the stored directive" in outcome.outputs["brief"]

    for bad, why in ((f"${{env.{SECRET_ENV}}}", "env"), ("", "empty"), ("x" * 16_001, "at most 16000")):
        result = runner.invoke(app, ["trigger", "shop-a", "--local", "--directive-text", bad])
        assert result.exit_code == 1 and why in result.output and "Traceback" not in result.output
    assert len(run_logs()) == 2  # nothing written for the refused ones
    assert SECRET_VALUE not in json.dumps([r.directive_snapshot for r in run_logs()])


def test_webhook_body_field_becomes_the_runs_one_off_directive(
    agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, Any]] = []

    async def start_run(deployment: str, parameters: dict[str, Any], idempotency_key: str) -> str:
        started.append(parameters)
        return "00000000-0000-0000-0000-000000000000"

    secret = signatures.new_secret()
    monkeypatch.setenv("SHOP_A_SECRET", secret)
    web = create_webhook_app(Settings(), start_run=start_run)
    with serving(web) as url, httpx.Client(base_url=url) as client:

        def post(body: dict[str, Any]) -> httpx.Response:
            raw = json.dumps(body).encode()
            headers = signatures.sign(signatures.parse_secret(secret), raw, f"msg_{uuid.uuid4().hex}")
            return client.post("/hooks/shop-a/orders", content=raw, headers=headers)

        assert post({DIRECTIVE_FIELD: "only big orders", "order": {"id": 1, "total": 5}}).status_code == 202
        bad = post({DIRECTIVE_FIELD: "${env.HOME}"})
        assert bad.status_code == 422 and "_directive_text" in bad.json()["detail"]
    assert len(started) == 1
    assert started[0]["directive_text"] == "only big orders"
    assert started[0]["payload"] == {"order": {"id": 1, "total": 5}}
    outcome = agent_run_flow(**{k: v for k, v in started[0].items()})
    assert "directive: only big orders" in outcome.outputs["brief"]
    assert stored_directive(agent) == (1, "the stored directive")


def test_allowlist_with_entries_refuses_other_tools_with_a_fault(agent: str) -> None:
    # the default playbook calls text.count, noop.echo and report.build
    assert runner.invoke(app, ["agents", "allow-tool", "shop-a", "text.count"]).exit_code == 0
    with pytest.raises(Exception, match=r"ToolNotAllowed: tool 'noop\.echo' is not on the allowlist"):
        agent_run_flow(agent, "manual", {})
    with session_scope() as session:
        steps = {s.tool_id: s for s in session.scalars(sa.select(ToolStep))}
        faults = list(session.scalars(sa.select(Fault)))
    assert steps["text.count"].status == ToolExecutionStatus.COMPLETED
    echo = steps["noop.echo"]
    assert echo.status == ToolExecutionStatus.FAILED and echo.execution_result is None
    assert steps["report.build"].status != ToolExecutionStatus.COMPLETED
    assert len(faults) == 1 and "not on the allowlist of agent 'shop-a'" in faults[0].description

    for tool in ("noop.echo", "report.build"):
        assert runner.invoke(app, ["agents", "allow-tool", "shop-a", tool]).exit_code == 0
    assert agent_run_flow(agent, "manual", {}).status == LastRunStatus.SUCCESS
