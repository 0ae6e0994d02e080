"""`plans run` end to end on a real Prefect API, SQLite and PostgreSQL: a plan's open tasks run as the
hops of one mission, each task's status following its hop; a resumed mission closes its faults."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hopflow.flows.mission import run_mission
from hopflow.models.access.plans import add_plan_task, create_plan, read_plan
from hopflow.models.access.tags import read_tags
from hopflow.models.db import session_scope
from hopflow.models.enums import FaultStatus, MissionStatus, PlanStatus, PlanTaskStatus
from hopflow.models.orm import Event, Fault, Mission, PlanTask, Reflection
from hopflow.tasks.knowledge.plans import prepare_plan_run

pytestmark = pytest.mark.flows


def step(tool: str, params: dict, results: dict) -> dict:
    return {"steps": [{"tool": tool, "parameter_mapping": params, "result_mapping": results}]}


def make_plan(title: str, hops: list[tuple[str, dict]]) -> str:
    with session_scope() as session:
        plan = create_plan(session, title=title, description="a plan run as a mission", tags=["demo"])
        for name, hop in hops:
            add_plan_task(session, plan, title=name, hop=hop)
        return plan.id


def task_history(session, task_id: str) -> list[tuple[str, str]]:
    events = session.scalars(
        sa.select(Event)
        .where(
            Event.subject_type == "plan_tasks", Event.subject_id == task_id, Event.action == "status_changed"
        )
        .order_by(Event.created_at)
    )
    return [(e.before["status"], e.after["status"]) for e in events]


THREE = [
    ("write", step("noop.echo", {"value": {"literal": "alpha beta gamma"}}, {"value": {"asset": "text"}})),
    (
        "count",
        step("text.count", {"text": {"asset": "text"}}, {"words": {"asset": "words", "role": "output"}}),
    ),
    (
        "copy",
        step("noop.echo", {"value": {"asset": "words"}}, {"value": {"asset": "copy", "role": "output"}}),
    ),
]


def test_three_task_plan_runs_as_a_mission_with_task_statuses_following(hopflow_env: str) -> None:
    plan_id = make_plan("three steps", THREE)
    run = prepare_plan_run("three steps")
    result = run_mission(run.mission_id)

    assert result.status == MissionStatus.COMPLETED
    assert result.hop_count == 3
    assert result.outputs["words"].startswith("3")
    with session_scope() as session:
        plan = read_plan(session, plan_id)
        assert plan.status == PlanStatus.COMPLETED
        tasks = session.scalars(
            sa.select(PlanTask).where(PlanTask.plan_id == plan_id).order_by(PlanTask.sort_order)
        )
        for task in tasks:
            assert task.status == PlanTaskStatus.COMPLETED
            assert task.hop_id is not None
            assert task_history(session, task.id) == [("open", "in_progress"), ("in_progress", "completed")]
        mission = session.get(Mission, run.mission_id)
        assert mission.mission_metadata["plan_id"] == plan_id
        # HOPFLOW_REFLECT defaults to raw: one reflection, written when the mission ended.
        reflection = session.scalars(sa.select(Reflection).where(Reflection.mission_id == mission.id)).one()
        assert "hops (3):" in reflection.raw_summary and reflection.llm_summary is None
        assert reflection.mood == "satisfied"
        assert set(read_tags(session, "reflections", reflection.id)) >= {"mission", "completed", "demo"}


def test_failed_task_is_blocked_with_its_fault_and_a_resume_closes_the_fault(
    hopflow_env: str, tmp_path: Path
) -> None:
    hops = [
        THREE[0],
        ("read", step("files.read", {"path": {"literal": "later.txt"}}, {"text": {"asset": "read"}})),
        ("copy", step("noop.echo", {"value": {"asset": "read"}}, {"value": {"asset": "out"}})),
    ]
    plan_id = make_plan("needs a file", hops)
    run = prepare_plan_run(plan_id)
    with pytest.raises(Exception, match=r"later\.txt"):
        run_mission(run.mission_id)
    with session_scope() as session:
        write, read, copy = (session.get(PlanTask, i) for i in run.task_ids)
        assert (write.status, read.status, copy.status) == (
            PlanTaskStatus.COMPLETED,
            PlanTaskStatus.BLOCKED,
            PlanTaskStatus.OPEN,
        )
        fault = session.scalars(sa.select(Fault).where(Fault.mission_id == run.mission_id)).one()
        assert fault.plan_task_id == read.id and fault.status == FaultStatus.OPEN

    (tmp_path / "uploads" / "later.txt").write_text("now it exists")
    assert run_mission(run.mission_id).status == MissionStatus.COMPLETED
    with session_scope() as session:
        assert {session.get(PlanTask, i).status for i in run.task_ids} == {PlanTaskStatus.COMPLETED}
        fault = session.scalars(sa.select(Fault).where(Fault.mission_id == run.mission_id)).one()
        assert fault.status == FaultStatus.FIXED
        assert "resumed to completion" in (fault.resolution or "")
        assert read_plan(session, plan_id).status == PlanStatus.COMPLETED


def test_plans_run_command_prints_each_task_status(hopflow_env: str, tmp_path: Path) -> None:
    from hopflow.deployments.cli import app
    from typer.testing import CliRunner

    steps = tmp_path / "echo.yaml"
    steps.write_text("- tool: noop.echo\n  parameter_mapping: {value: {literal: 5}}\n")
    runner = CliRunner()
    for args in (
        ["plans", "create", "cli plan"],
        ["plans", "add-task", "cli plan", "only", "--steps", str(steps)],
    ):
        assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["plans", "run", "cli plan"])
    assert result.exit_code == 0, result.output
    assert "1 open task(s) -> mission" in result.output
    assert "plan cli plan: completed" in result.output and "completed   only" in result.output


def test_retention_days_add_a_daily_prune_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hopflow.deployments.build import retention_support
    from hopflow.models.settings import reset_settings

    monkeypatch.delenv("HOPFLOW_RETENTION_DAYS", raising=False)
    reset_settings()
    assert retention_support() == []
    monkeypatch.setenv("HOPFLOW_RETENTION_DAYS", "30")
    reset_settings()
    [deployment] = retention_support()
    reset_settings()
    assert deployment.name == "retention" and deployment.parameters == {"older_than_days": 30}
    assert deployment.schedules[0].schedule.interval.total_seconds() == 86400
