"""The knowledge commands as a user types them, on SQLite and PostgreSQL: memory, plans, faults,
reflections, audit, thoughts, prune; bad input gives one clear line and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.thoughts import ensure_agent_entity, record_thought
from hopflow.models.db import session_scope
from hopflow.models.enums import FaultSeverity, MissionStatus
from hopflow.models.orm import (
    AgentRunLog,
    Event,
    Fault,
    LLMCall,
    MemoryContext,
    Mission,
    Plan,
    PlanTask,
    RunArtifact,
    utcnow,
)
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec

from tests.deployments.cli import count, invoke, refused


def test_memory_add_search_show_forget(hopflow_env: str) -> None:
    invoke(
        "memory",
        "add",
        "--target",
        "agent:scout",
        "--content",
        "the supplier ships on mondays",
        "--tag",
        "ops",
    )
    invoke("memory", "add", "--target", "agent:scout", "--content", "holiday: no shipping", "--important")
    invoke("memory", "add", "--target", "agent:other", "--content", "the supplier is slow")
    found = invoke("memory", "search", "supplier", "--target", "agent:scout")
    assert "mondays" in found and "slow" not in found and "[ops]" in found
    assert "mondays" in invoke("memory", "search", "--tag", "ops")
    memory_id = found.split()[0]
    shown = invoke("memory", "show", memory_id)
    assert "agent:scout" in shown and "the supplier ships on mondays" in shown
    invoke("memory", "forget", memory_id)
    assert "no memory matches" in invoke("memory", "search", "mondays")


def test_memory_content_is_printed_as_data(hopflow_env: str) -> None:
    invoke("memory", "add", "--target", "other:x", "--content", "[bold red]not markup[/] ${env.HOME}")
    assert "[bold red]not markup[/] ${env.HOME}" in invoke("memory", "search", "markup")


def test_unknown_target_type_is_a_clear_error_and_writes_nothing(hopflow_env: str) -> None:
    output = refused("memory", "add", "--target", "planet:mars", "--content", "red")
    assert "unknown target type 'planet'" in output
    assert "TYPE:ID" in refused("memory", "add", "--target", "agent", "--content", "x")
    assert count(MemoryContext) == 0 and count(Event) == 0


def steps_file(tmp_path: Path) -> Path:
    path = tmp_path / "steps.yaml"
    path.write_text(
        "steps:\n  - tool: noop.echo\n    parameter_mapping: {value: {literal: 1}}\n"
        "    result_mapping: {value: {asset: one}}\n"
    )
    return path


def test_plans_create_add_task_show_list_and_version_bumps(hopflow_env: str, tmp_path: Path) -> None:
    invoke("plans", "create", "launch", "--description", "ship it", "--project", "apollo", "--tag", "q4")
    invoke("plans", "add-task", "launch", "build", "--steps", str(steps_file(tmp_path)), "--priority", "2")
    invoke("plans", "add-task", "launch", "test", "--due", "2027-01-15", "--effort", "2h")
    shown = invoke("plans", "show", "launch")
    assert "1. open        build  [1 step(s), priority 2]" in shown
    assert "2. open        test  [0 step(s), priority 0] due 2027-01-15" in shown
    assert "version 3" in shown and "q4" in shown
    assert "launch" in invoke("plans", "list", "--tag", "q4")
    assert "no plans" in invoke("plans", "list", "--tag", "other")
    invoke("plans", "status", "launch", "active")
    invoke("plans", "status", "launch", "in_progress", "--task", "1")
    with session_scope() as session:
        plan = session.scalars(sa.select(Plan)).one()
        assert plan.version == 5
    history = invoke("audit", plan.id)
    assert "create" in history and "status_changed" in history and 'status: "draft" -> "active"' in history


def test_illegal_status_moves_and_unknown_plan_or_task_are_refused(hopflow_env: str, tmp_path: Path) -> None:
    invoke("plans", "create", "p1")
    invoke("plans", "add-task", "p1", "only")
    events = count(Event)
    assert "cannot change status from 'draft' to 'completed'" in refused("plans", "status", "p1", "completed")
    assert "no plan with id, id prefix or title 'nope'" in refused("plans", "show", "nope")
    assert "has no task" in refused("plans", "status", "p1", "completed", "--task", "7")
    assert "status 'done'" in refused("plans", "status", "p1", "done")
    assert "no plan" in refused("plans", "add-task", "nope", "t")
    assert count(Event) == events and count(PlanTask) == 1


def test_plan_without_open_runnable_task_is_refused_and_writes_nothing(hopflow_env: str) -> None:
    invoke("plans", "create", "empty")
    assert "has no open task to run" in refused("plans", "run", "empty")
    invoke("plans", "add-task", "empty", "no steps")
    assert "without steps to run: no steps" in refused("plans", "run", "empty")
    assert count(Mission) == 0
    with session_scope() as session:
        assert session.scalars(sa.select(Plan)).one().status.value == "draft"


def test_bad_steps_file_names_the_field(hopflow_env: str, tmp_path: Path) -> None:
    invoke("plans", "create", "p")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - tool: noop.echo\n    bogus: 1\n")
    assert "task 'x' hop.steps.0.bogus" in refused("plans", "add-task", "p", "x", "--steps", str(bad))
    assert count(PlanTask) == 0


def failed_mission_with_fault() -> tuple[str, str]:
    spec = {"name": "m", "hops": [{"name": "h", "steps": [{"tool": "noop.echo"}]}]}
    with session_scope() as session:
        mission = create_mission_from_spec(session, parse_mission_spec(spec), user_id=ensure_user(session).id)
        mission.status = MissionStatus.FAILED
        fault = Fault(mission_id=mission.id, description="step 1.1 failed", severity=FaultSeverity.HIGH)
        session.add(fault)
        session.flush()
        return mission.id, fault.id


def test_faults_list_assign_fix(hopflow_env: str) -> None:
    _, fault_id = failed_mission_with_fault()
    assert "step 1.1 failed" in invoke("faults", "list", "--status", "open")
    assert "assigned to local" in invoke("faults", "assign", fault_id[:8], "local")
    assert "fixed" in invoke("faults", "fix", fault_id[:8], "--note", "bumped the timeout")
    assert "no faults" in invoke("faults", "list", "--status", "open")
    assert "already fixed (bumped the timeout)" in refused("faults", "fix", fault_id, "--note", "again")
    history = invoke("audit", f"faults:{fault_id}")
    assert "assign" in history and "complete" in history


def test_thoughts_of_an_entity(hopflow_env: str) -> None:
    with session_scope() as session:
        planner = ensure_agent_entity(session, "planner.llm")
        record_thought(session, entity_id=planner.id, thought="read the sales first", stage="plan")
    assert "plan       read the sales first" in invoke("thoughts", "planner.llm")
    assert "no entity" in refused("thoughts", "nobody")


def test_prune_dry_run_counts_then_deletes_only_finished_and_old(hopflow_env: str, tmp_path: Path) -> None:
    old = utcnow() - timedelta(days=120)
    log_file = tmp_path / "logs" / "run.log"
    log_file.write_text("old log")
    finished_id, _ = failed_mission_with_fault()
    with session_scope() as session:
        mission = session.get(Mission, finished_id)
        mission.completed_at = old
        running = create_mission_from_spec(
            session,
            parse_mission_spec({"name": "live", "hops": [{"name": "h", "steps": [{"tool": "noop.echo"}]}]}),
            user_id=ensure_user(session).id,
        )
        for mid in (finished_id, running.id):
            session.add(LLMCall(provider="p", model="m", mission_id=mid, created_at=old))
        session.add(
            AgentRunLog(run_id="r-old", status="success", end_time=old, created_at=old, updated_at=old)
        )
        session.flush()
        session.add(RunArtifact(run_id="r-old", kind="log", path=str(log_file), created_at=old))
        session.add(Event(action="x", subject_type="missions", subject_id=running.id, created_at=old))
        session.add(Event(action="x", subject_type="missions", subject_id=finished_id, created_at=old))
    before = count(Event)
    dry = invoke("prune", "--older-than", "90d", "--dry-run")
    assert "would delete" in dry
    assert "agent_run_logs     1" in dry and "llm_calls          1" in dry and "events             1" in dry
    assert count(LLMCall) == 2 and count(Event) == before and log_file.exists()
    done = invoke("prune", "--older-than", "90d")
    assert "files removed      1" in done
    assert count(LLMCall) == 1 and count(AgentRunLog) == 0 and not log_file.exists()
    with session_scope() as session:
        kept = session.scalars(sa.select(Event).where(Event.action == "x")).one()
        assert kept.subject_id == running.id
    assert "positive age" in refused("prune", "--older-than", "soon")
