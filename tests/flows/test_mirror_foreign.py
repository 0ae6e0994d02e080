"""The reconciler on a shared Prefect server, SQLite and PostgreSQL: runs of flows named like hopflow's but
started by another project (no hopflow tag, or a mission or configuration this database does not hold)
are not mirrored; this database's own runs are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.flows.reconciler import sync_run_logs
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentRunLog
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from prefect import flow, get_client
from prefect.states import Completed, Failed, Running

pytestmark = pytest.mark.flows


def foreign_mission(mission_id: str = "", configuration_id: str = "") -> None:
    """Another project's flow that happens to be called "mission" (or "agent-run")."""


def finished_run(flow_name: str, parameters: dict[str, Any], tags: list[str], message: str) -> str:
    probe = flow(name=flow_name)(foreign_mission)
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, parameters=parameters, tags=tags)
        client.set_flow_run_state(run.id, Running(), force=True)
        client.set_flow_run_state(run.id, Failed(message=message), force=True)
        return str(run.id)


def test_sync_mirrors_only_this_databases_own_runs(hopflow_env: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    with session_scope() as session:
        user = ensure_user(session)
        spec = parse_mission_spec({"name": "ours", "hops": [{"name": "h", "steps": [{"tool": "noop.echo"}]}]})
        ours_mission = create_mission_from_spec(session, spec, user_id=user.id).id
    secret_text = f"other project's error {uuid.uuid4().hex}"
    foreign = [
        finished_run("mission", {}, [], secret_text),  # no tag, no parameter of ours
        finished_run("mission", {}, ["other-project"], secret_text),
        finished_run("mission", {"mission_id": str(uuid.uuid4())}, ["hopflow"], secret_text),  # another db's
        finished_run("agent-run", {"configuration_id": "their-shop"}, ["hopflow"], secret_text),
    ]
    ours = [
        finished_run("mission", {"mission_id": ours_mission}, [], "ours failed"),  # e.g. created by the API
        finished_run("mission", {}, ["hopflow"], "ours too"),
    ]
    sync_run_logs(since=since, flow_names=["mission", "agent-run"], export_logs=False)
    with session_scope() as session:
        rows = {r.run_id: r for r in session.scalars(sa.select(AgentRunLog))}
    assert not set(foreign) & set(rows)
    assert set(ours) <= set(rows)
    assert rows[ours[0]].error_message == "ours failed" and rows[ours[0]].mission_id == ours_mission
    assert all(secret_text not in (r.error_message or "") for r in rows.values())


def test_completed_foreign_run_does_not_move_a_configuration(hopflow_env: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    probe = flow(name="agent-run")(foreign_mission)
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, parameters={"configuration_id": "acme-shop"}, tags=["hopflow"])
        client.set_flow_run_state(run.id, Completed(), force=True)
    report = sync_run_logs(since=since, flow_names=["agent-run"], export_logs=False)
    assert report.read >= 1  # Prefect's run was read, and left alone
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AgentRunLog)) == 0
