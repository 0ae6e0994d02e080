"""`hopflow deploy --work-pool`: mission templates keep the Run form `hopflow serve` gives them, both as
registered and when the generated prefect.yaml is deployed with `prefect deploy --all` (its entrypoint
flow carries the form); a worker runs the template from that entrypoint; the reconciler
is registered hourly plus a trigger on crashed and cancelled runs, not every minute."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hopflow.deployments.cli import app
from hopflow.flows.reconciler import MISSED_HOOK_EVENTS
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import Asset, Mission
from hopflow.tasks.templates import parameter_schema, read_template, store_template
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from typer.testing import CliRunner

from tests.tasks.test_mission_templates import SPEC

pytestmark = pytest.mark.flows
RECONCILER = "sync-run-logs/sync-run-logs"


def deployed_form(name: str) -> dict[str, Any]:
    """The registered form; an empty `definitions` is the same form (`prefect deploy` leaves it out)."""
    with get_client(sync_client=True) as client:
        form = dict(client.read_deployment_by_name(f"mission-run/{name}").parameter_openapi_schema or {})
    if form.get("definitions") == {}:
        del form["definitions"]
    return form


def test_work_pool_templates_keep_their_run_form_and_the_reconciler_runs_hourly(
    hopflow_env: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = "pg" if hopflow_env.startswith("postgresql") else "lite"
    name, pool = f"nightly-{backend}", f"pool-{backend}"
    spec = tmp_path / "words.yaml"
    spec.write_text(SPEC)
    store_template(spec, name=name, cron="0 3 * * *", timezone="Europe/Lisbon")
    view, parsed = read_template(name)
    served_form = parameter_schema(view, parsed)  # what `hopflow serve` registers
    del served_form["definitions"]
    assert served_form["properties"]["inputs"]["properties"]["article"]["default"] == "alpha beta gamma"

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    target = tmp_path / "prefect.yaml"
    result = CliRunner().invoke(app, ["deploy", "--work-pool", pool, "--prefect-yaml", str(target)])
    assert result.exit_code == 0, result.output
    assert deployed_form(name) == served_form

    # the reconciler: once an hour (24 flow runs a day, not 1,440), and at once after a run of
    # hopflow's flows crashed or was cancelled (the runs whose hooks may not have run)
    with get_client(sync_client=True) as client:
        reconciler = client.read_deployment_by_name(RECONCILER)
        automations = client.read_automations_by_name("hopflow: mirror crashed and cancelled runs")
    assert reconciler.work_pool_name == pool
    [schedule] = reconciler.schedules
    assert schedule.schedule.interval == timedelta(hours=1)  # type: ignore[union-attr]
    assert "every 3600 s" in (reconciler.description or "")
    [automation] = [
        a for a in automations if any(getattr(x, "deployment_id", None) == reconciler.id for x in a.actions)
    ]
    assert set(automation.trigger.expect) == set(MISSED_HOOK_EVENTS)  # type: ignore[union-attr]
    assert "crashed or cancelled" in automation.description

    document = yaml.safe_load(target.read_text())
    entries = {d["name"]: d for d in document["deployments"]}
    assert set(entries) == {name, "sync-run-logs"}
    assert entries["sync-run-logs"]["schedules"] == [{"interval": 3600, "active": True}]
    assert set(entries["sync-run-logs"]["triggers"][0]["expect"]) == set(MISSED_HOOK_EVENTS)
    entrypoint = entries[name]["entrypoint"]
    assert entrypoint.endswith(f"template_flows.py:{name}")

    # `prefect deploy --all` makes the Run form from the entrypoint's flow: the same form
    with get_client(sync_client=True) as client:
        client.delete_deployment(client.read_deployment_by_name(f"mission-run/{name}").id)
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "HOPFLOW_DATABASE_URL": hopflow_env}
    deployed = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert deployed_form(name) == served_form

    # a worker runs it: it loads the flow from that entrypoint in a process of its own
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"mission-run/{name}")
        form = {**deployment.parameters, "inputs": {"article": "one two three four"}}  # the Run form posts
        run = client.create_flow_run_from_deployment(deployment.id, parameters=form)
    worker = subprocess.run(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--run-once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
    said = worker.stdout[-3000:] + worker.stderr[-3000:]
    assert finished.state is not None and finished.state.is_completed(), said
    assert finished.name == name  # "mission-run > <template>"
    with session_scope() as session:
        [mission] = session.scalars(sa.select(Mission).where(Mission.name == name)).all()
        assert mission.status == MissionStatus.COMPLETED
        count = session.scalars(
            sa.select(Asset).where(Asset.scope_id == mission.id, Asset.name == "word_count")
        ).one()
        assert count.content == 4
