"""End to end on a real Prefect API: a blueprint with cron, event and webhook triggers is registered,
configured and served by `hopflow serve` (a subprocess); an emitted event, a signed webhook call (to
`hopflow webhooks`, a subprocess) and an API trigger (`hopflow trigger`) each start a run that completes;
the deployment carries the cron schedule and its timezone. Also `hopflow deploy --work-pool`."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from hopflow.deployments import signatures
from hopflow.deployments.cli import app
from hopflow.deployments.webhooks import HEALTH_PATH, create_webhook_app
from hopflow.models.db import session_scope
from hopflow.models.enums import LastRunStatus, TriggerType
from hopflow.models.orm import AgentConfiguration, AgentRunLog
from hopflow.tasks.agents import configure_agent, env_var_name, register_blueprints
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from typer.testing import CliRunner

from tests.conftest import PG_URL, postgres_problem
from tests.deployments.servers import free_port, prefect_server_on_postgres, serving, start, stop, wait_http
from tests.prefect_api import on_api
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = [pytest.mark.flows, pytest.mark.slow]
runner = CliRunner()
WEBHOOK_SECRET = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LTMyLWJ5dGVzLW9rIQ=="
TRIGGERS = {"event", "webhook", "api"}


@dataclass(frozen=True)
class Agent:
    id: str
    name: str

    @property
    def deployment(self) -> str:
        return f"agent-run/{self.name}"

    @property
    def webhook(self) -> str:
        return f"/hooks/{self.name}/orders"


@pytest.fixture
def configure(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Agent]:
    """Configurations named per test and backend: a Prefect server (and its deployments) outlives a
    test, so two tests never share a deployment."""
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    backend = "pg" if hopflow_env.startswith("postgresql") else "lite"

    def make(role: str) -> Agent:
        name = f"{role}-{backend}"
        monkeypatch.setenv(env_var_name(f"{name}_SECRET"), WEBHOOK_SECRET)
        return Agent(configure_agent("agent_900", name, values=VALUES).id, name)

    return make


@pytest.fixture(scope="module")
def prefect_server(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server on PostgreSQL when one is reachable, else the session's harness (SQLite)."""
    if postgres_problem() is not None:
        yield prefect_api
        return
    with prefect_server_on_postgres(PG_URL, tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


def hopflow_process_env(api: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api,
        "HOPFLOW_DATABASE_URL": database_url,
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def wait_for(what: str, check: Callable[[], Any], logs: list[Path], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    shown = "\n".join(f"--- {log.name} ---\n{log.read_text()[-5000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{shown}")


def emit(agent: Agent) -> float:
    """Emit the event the agent's event trigger expects and wait until it has left this process."""
    emit_event(
        event="test.order.created",
        resource={"prefect.resource.id": f"test.{agent.name}"},
        payload={"order": {"id": 1, "total": 500}},
    )
    EventsWorker.drain_all(timeout=30)
    return time.monotonic()


def test_served_agent_runs_from_event_webhook_and_api(
    configure: Callable[[str], Agent], hopflow_env: str, prefect_server: str, tmp_path: Path
) -> None:
    agent = configure("shop")
    env = hopflow_process_env(prefect_server, hopflow_env)
    logs = [tmp_path / "serve.log", tmp_path / "webhooks.log"]
    cli = [sys.executable, "-m", "hopflow.deployments.cli"]
    port = free_port()
    serve = start([*cli, "serve"], env, logs[0], tmp_path)
    receiver = start([*cli, "webhooks", "--port", str(port)], env, logs[1], tmp_path)
    try:
        with (
            on_api(prefect_server),
            get_client(sync_client=True) as client,
        ):

            def deployment() -> Any:
                try:
                    return client.read_deployment_by_name(agent.deployment)
                except Exception:
                    return None

            found = wait_for("the served deployment", deployment, logs)
            automation = f"{agent.name}: test.order.created (trigger 1)"
            wait_for(
                "the event trigger's automation", lambda: client.read_automations_by_name(automation), logs
            )

            # the cron schedule is on the deployment in Prefect, with its timezone
            [schedule] = found.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == ("*/5 * * * *", "Europe/Lisbon")
            assert schedule.parameters == {"trigger_type": "schedule"}
            assert found.global_concurrency_limit is not None and found.global_concurrency_limit.limit == 2
            assert found.concurrency_options is not None
            assert found.concurrency_options.collision_strategy.value == "ENQUEUE"
            assert found.parameters == {"configuration_id": agent.id}
            assert "agent:TestSentinel" in found.tags and found.version == "1.0.0"

            # (a) an event matching the event trigger
            emitted = [emit(agent)]
            # (b) a signed webhook call to `hopflow webhooks`, sent 50 times at once (a replay storm):
            # one flow run, every copy answered with its id
            wait_http(f"http://127.0.0.1:{port}{HEALTH_PATH}", "hopflow webhooks", receiver, logs[1])
            body = json.dumps({"order": {"id": 2, "total": 5}}).encode()
            headers = signatures.sign(signatures.parse_secret(WEBHOOK_SECRET), body, f"msg_{agent.name}")

            def send(_: int) -> httpx.Response:
                url = f"http://127.0.0.1:{port}{agent.webhook}"
                return httpx.post(url, content=body, headers=headers, timeout=60)

            with ThreadPoolExecutor(max_workers=50) as pool:
                responses = list(pool.map(send, range(50)))
            assert {r.status_code for r in responses} == {202}, [
                r.text for r in responses if r.status_code != 202
            ]
            assert {r.json()["deployment"] for r in responses} == {agent.deployment}
            [webhook_run] = {r.json()["flow_run_id"] for r in responses}
            # (c) the API, as `hopflow trigger`
            result = runner.invoke(
                app, ["trigger", agent.name, "--payload", json.dumps({"order": {"id": 3, "total": 7}})]
            )
            assert result.exit_code == 0, result.output
            assert f"of {agent.deployment}" in result.output

            def completed() -> dict[str, Any]:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])), limit=50
                )
                bad = [r for r in runs if r.state is not None and r.state.type.value in ("FAILED", "CRASHED")]
                assert not bad, [(r.name, r.state and r.state.message) for r in bad]
                done = {
                    r.parameters.get("trigger_type"): r
                    for r in runs
                    if r.state is not None and r.state.type.value == "COMPLETED"
                }
                # Prefect's trigger service loads a new automation asynchronously (a PostgreSQL
                # NOTIFY): an event that lands before that is not matched. Emit again, bounded.
                event_runs = [r for r in runs if r.parameters.get("trigger_type") == "event"]
                if not event_runs and time.monotonic() - emitted[-1] > 10 and len(emitted) < 6:
                    emitted.append(emit(agent))
                return done if set(done) >= TRIGGERS else {}

            # a cron run may join in when the test crosses a 5-minute mark: only ours are checked
            by_trigger = wait_for("three completed runs (event, webhook, api)", completed, logs, timeout=300)
    finally:
        stop(receiver)
        stop(serve)

    with (
        on_api(prefect_server),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])), limit=200
        )
    assert [str(r.id) for r in runs if r.parameters.get("trigger_type") == "webhook"] == [webhook_run]
    assert by_trigger["event"].parameters["payload"] == {
        "order": {"id": 1, "total": 500}
    }  # an object, templated
    assert str(by_trigger["webhook"].id) == webhook_run
    latencies = {
        t: (r.start_time - r.created).total_seconds() for t, r in by_trigger.items() if t in TRIGGERS
    }
    print("flow run created -> running (s):", {t: round(s, 2) for t, s in sorted(latencies.items())})
    with session_scope() as session:
        rows = session.scalars(
            sa.select(AgentRunLog).where(
                AgentRunLog.flow_name == "agent-run", AgentRunLog.agent_configuration_id == agent.id
            )
        ).all()
        mine = {r.trigger_type: r for r in rows if r.trigger_type.value in TRIGGERS}
        assert [r.run_id for r in rows if r.trigger_type == TriggerType.WEBHOOK] == [webhook_run]
        assert set(mine) == {TriggerType.EVENT, TriggerType.WEBHOOK, TriggerType.API}
        assert "alert: # Big order 1" in (mine[TriggerType.EVENT].output_preview or "")  # 500 >= threshold
        assert "skipped: alert" in (mine[TriggerType.WEBHOOK].output_preview or "")  # 5 < threshold
        config = session.get(AgentConfiguration, agent.id)
        assert config is not None
        last = {r.run_id: r for r in rows}[config.last_run_id]  # an agent run, never its mission subflow
        if last.trigger_type == TriggerType.SCHEDULE:
            # A cron run joined in at a 5-minute mark, after ours: it may still have been running when
            # `hopflow serve` stopped, and then that is what the configuration honestly says.
            started = last.start_time or last.created_at
            assert all(started >= (r.start_time or r.created_at) for r in mine.values())
        else:
            assert last.run_id in {r.run_id for r in mine.values()}
            assert config.last_run_status == LastRunStatus.SUCCESS


def test_webhook_for_an_agent_nobody_serves_is_503(configure: Callable[[str], Agent]) -> None:
    idle = configure("idle")
    body = b"{}"
    with serving(create_webhook_app()) as url:
        headers = signatures.sign(signatures.parse_secret(WEBHOOK_SECRET), body, "msg_idle")
        response = httpx.post(f"{url}{idle.webhook}", content=body, headers=headers)
    assert response.status_code == 503 and "not registered" in response.text


def test_deploy_registers_agents_for_a_work_pool_and_writes_prefect_yaml(
    configure: Callable[[str], Agent], prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = configure("pooled")
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    pool = f"agents-{pooled.id[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    target = tmp_path / "prefect.yaml"
    result = runner.invoke(app, ["deploy", "--work-pool", pool, "--prefect-yaml", str(target)])
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(pooled.deployment)
        reconciler = client.read_deployment_by_name("sync-run-logs/sync-run-logs")
    assert deployment.work_pool_name == pool
    assert deployment.entrypoint == "hopflow.flows.agent_run.agent_run_flow"
    assert [s.schedule.cron for s in deployment.schedules] == ["*/5 * * * *"]
    assert reconciler.work_pool_name == pool  # the run-log reconciler goes with the agents
    document = yaml.safe_load(target.read_text())
    assert [d["name"] for d in document["deployments"]] == [pooled.name, "sync-run-logs"]
    assert document["deployments"][0]["work_pool"]["name"] == pool
