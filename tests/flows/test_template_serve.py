"""A mission spec deployed with `hopflow missions deploy` and served by `hopflow serve` (a subprocess) on a
real Prefect server: the deployment carries the spec's inputs as its Run form and its cron with the time
zone; a run created with the parameters the UI's Run form sends completes with the given inputs, bad
inputs fail with a clear message and write nothing, the cron schedule starts runs on its own, and the
in-process reconciler mirrors a run no hook saw without a single sync-run-logs flow run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus, RunStatus
from hopflow.models.orm import AgentRunLog, Asset, Mission
from hopflow.tasks.assets import load_value
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled
from typer.testing import CliRunner

from tests.conftest import PG_URL, postgres_problem
from tests.deployments.servers import prefect_server_on_postgres, start, stop
from tests.flows.test_agent_serve import hopflow_process_env, wait_for
from tests.prefect_api import on_api

pytestmark = [pytest.mark.flows, pytest.mark.slow]
runner = CliRunner()

SPEC = """\
name: words
description: Count the words of an article.
inputs:
  - {name: article, type: text, content: "alpha beta gamma", description: the text to count}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {text: {asset: article}}
        result_mapping: {words: {asset: word_count, role: output}}
"""


@pytest.fixture(scope="module")
def prefect_server(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server on PostgreSQL (its scheduler creates the cron runs), else the harness."""
    if postgres_problem() is not None:
        yield prefect_api
        return
    with prefect_server_on_postgres(PG_URL, tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


def runs_of(client: Any, deployment_id: Any, *states: str) -> list[Any]:
    """Runs of the deployment that are in one of `states` (its cron keeps ~100 future runs scheduled)."""
    return list(
        client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(s) for s in states]))
            ),
            limit=50,
        )
    )


def state_of(run: Any) -> str:
    return run.state.type.value if run.state is not None else "NONE"


def test_deployed_template_runs_from_the_run_form_and_on_its_cron(
    hopflow_env: str, prefect_server: str, tmp_path: Path
) -> None:
    name = f"words-{'pg' if hopflow_env.startswith('postgresql') else 'lite'}"
    spec = tmp_path / "words.yaml"
    spec.write_text(SPEC)
    with on_api(prefect_server):
        result = runner.invoke(
            app,
            [
                "missions",
                "deploy",
                str(spec),
                "--name",
                name,
                "--cron",
                "* * * * *",
                "--timezone",
                "Europe/Lisbon",
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"registered deployment mission-run/{name}" in result.output
        listed = runner.invoke(app, ["missions", "templates"])
        assert name in listed.output and "Europe/Lisbon" in listed.output and "article" in listed.output

    env = hopflow_process_env(prefect_server, hopflow_env)
    logs = [tmp_path / "serve.log"]
    serve = start(
        [sys.executable, "-m", "hopflow.deployments.cli", "serve", "--reconcile-seconds", "2"],
        env,
        logs[0],
        tmp_path,
    )
    try:
        with (
            on_api(prefect_server),
            get_client(sync_client=True) as client,
        ):
            deployment = client.read_deployment_by_name(f"mission-run/{name}")
            # the Run form: the spec's inputs, typed, with defaults and descriptions; the template fixed
            schema = deployment.parameter_openapi_schema
            article = schema["properties"]["inputs"]["properties"]["article"]
            assert (article["type"], article["default"], article["description"]) == (
                "string",
                "alpha beta gamma",
                "the text to count",
            )
            assert schema["properties"]["template"]["enum"] == [name]
            [schedule] = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == ("* * * * *", "Europe/Lisbon")
            assert "europe-lisbon" in (schedule.slug or "") and "Europe/Lisbon" in (
                deployment.description or ""
            )

            # what the UI's Run form posts: the deployment's parameters overlaid with the form's values
            form = {**deployment.parameters, "inputs": {"article": "one two three four"}}
            from_form = client.create_flow_run_from_deployment(deployment.id, parameters=form)
            bad = client.create_flow_run_from_deployment(
                deployment.id, parameters={**deployment.parameters, "inputs": {"article": 42}}
            )
            # a run no hook ever sees: cancelled before anything picks it up; only the reconciler can tell
            unseen = client.create_flow_run_from_deployment(
                deployment.id, parameters=deployment.parameters, state=Cancelled()
            )

            def finished() -> bool:
                states = {r.id: state_of(r) for r in runs_of(client, deployment.id, "COMPLETED", "FAILED")}
                return states.get(from_form.id) == "COMPLETED" and states.get(bad.id) == "FAILED"

            wait_for("the form's run to complete and the bad one to fail", finished, logs, timeout=300)
            assert client.read_flow_run(from_form.id).name == name  # "mission-run > <template>"
            failed = client.read_flow_run(bad.id)
            assert failed.state is not None and "input 'article' (text): expected string, got int" in (
                failed.state.message or ""
            )

            def scheduled_run_completed() -> bool:
                return any(r.auto_scheduled for r in runs_of(client, deployment.id, "COMPLETED"))

            wait_for("a cron run of the template to complete", scheduled_run_completed, logs, timeout=300)

            def mirrored() -> bool:
                with session_scope() as session:
                    row = session.scalars(
                        sa.select(AgentRunLog).where(AgentRunLog.run_id == str(unseen.id))
                    ).first()
                    return row is not None and row.status == RunStatus.CANCELLED

            wait_for("the reconciler thread to mirror the cancelled run", mirrored, logs)
            plumbing = client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=["sync-run-logs"])))
            if plumbing:
                reconciler_runs = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=["sync-run-logs"])), limit=5
                )
                assert reconciler_runs == [], "hopflow serve runs no sync-run-logs flow runs"
    finally:
        stop(serve)

    with session_scope() as session:
        missions = session.scalars(sa.select(Mission).where(Mission.name == name)).all()
        by_run = {(m.mission_metadata or {}).get("template_run_id"): m for m in missions}
        mission = by_run[str(from_form.id)]
        assert mission.status == MissionStatus.COMPLETED
        article_asset = session.scalars(
            sa.select(Asset).where(Asset.scope_id == mission.id, Asset.name == "article")
        ).one()
        assert load_value(article_asset) == "one two three four"
        count = session.scalars(
            sa.select(Asset).where(Asset.scope_id == mission.id, Asset.name == "word_count")
        ).one()
        assert count.content == 4
        assert str(bad.id) not in by_run  # bad inputs: no mission written
        logged = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == str(from_form.id))).one()
        assert logged.flow_name == "mission-run" and logged.status == RunStatus.SUCCESS
