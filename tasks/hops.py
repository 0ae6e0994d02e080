"""Run one Hop (the hop task's work): its ToolSteps in sequence_order, each through a nested task run."""

from __future__ import annotations

from collections.abc import Callable

from hopflow.models.access.rows import require
from hopflow.models.access.status import advance_to
from hopflow.models.access.step_runs import StepRead, read_hop_steps_to_run
from hopflow.models.db import session_scope
from hopflow.models.enums import HopStatus, MissionStatus, RunOutcome
from hopflow.models.orm import Hop, Mission, utcnow
from hopflow.tasks.missions import hold_lease, step_run_name
from hopflow.tasks.steps import StepOutcome, drop_reads, leave_reads
from prefect.runtime import flow_run as runtime_flow_run
from prefect.runtime import task_run as runtime_task_run
from pydantic import BaseModel


class StepPlan(BaseModel):
    step_id: str
    run_name: str
    retries: int
    retry_delay_seconds: float
    timeout_seconds: float | None


class HopOutcome(BaseModel):
    hop_id: str
    status: RunOutcome
    is_final: bool
    steps: list[StepOutcome] = []


def begin_hop(hop_id: str, task_run_id: str | None, owner: str | None = None) -> tuple[bool, list[StepPlan]]:
    """executing_hop / executing; returns (already completed, the steps to run). Its read of the
    steps, once committed, is left for their claims (leave_reads)."""
    done, plans, reads = _begin_hop(hop_id, task_run_id, owner)
    leave_reads(reads)
    return done, plans


def _begin_hop(
    hop_id: str, task_run_id: str | None, owner: str | None
) -> tuple[bool, list[StepPlan], dict[str, StepRead]]:
    with session_scope() as session:
        hop = session.get(Hop, hop_id)
        if hop is None:
            raise LookupError(f"no hop with id {hop_id!r}")
        hold_lease(session, hop.mission_id, owner)
        mission = require(session, Mission, hop.mission_id)
        if hop.status == HopStatus.COMPLETED:
            return True, [], {}
        if hop.status == HopStatus.EXECUTING:
            advance_to(session, hop, HopStatus.READY_TO_EXECUTE, reason="resume after crash")
        advance_to(session, hop, HopStatus.EXECUTING)
        advance_to(session, mission, MissionStatus.EXECUTING_HOP)
        hop.started_at = hop.started_at or utcnow()
        hop.task_run_id = task_run_id
        hop.error_message = None
        reads = read_hop_steps_to_run(session, hop.id)  # in sequence_order
        plans = []
        for step, _ in reads.values():
            cfg = step.resource_configs
            plans.append(
                StepPlan(
                    step_id=step.id,
                    run_name=step_run_name(hop, step),
                    retries=int(cfg.get("retries") or 0),
                    retry_delay_seconds=float(cfg.get("retry_delay_seconds") or 0),
                    timeout_seconds=cfg.get("timeout_seconds"),
                )
            )
        return False, plans, reads


def finish_hop(hop_id: str, error: str | None, owner: str | None = None) -> bool:
    """completed (mission back to ready_for_next_hop unless final) or failed; returns is_final."""
    with session_scope() as session:
        hop = require(session, Hop, hop_id)
        hold_lease(session, hop.mission_id, owner)
        mission = require(session, Mission, hop.mission_id)
        hop.completed_at = utcnow()
        if error is not None:
            hop.error_message = error
            advance_to(session, hop, HopStatus.FAILED, reason=error[:500])
            return hop.is_final
        advance_to(session, hop, HopStatus.COMPLETED)
        if not hop.is_final:
            advance_to(session, mission, MissionStatus.READY_FOR_NEXT_HOP)
        return hop.is_final


def execute_hop(hop_id: str, run_step: Callable[[StepPlan], StepOutcome]) -> HopOutcome:
    """Run one hop (the body of the hop task, flows/hop_tasks.py): begin it, run each step through
    `run_step` (a nested task run) in sequence_order, finish it; a hop already done is skipped."""
    try:
        task_run_id, owner = runtime_task_run.id, runtime_flow_run.id
    except Exception:
        task_run_id = owner = None
    done, plans = begin_hop(hop_id, task_run_id, owner)
    if done:
        with session_scope() as session:
            hop = require(session, Hop, hop_id)
            return HopOutcome(hop_id=hop_id, status=RunOutcome.SKIPPED, is_final=hop.is_final)
    outcomes: list[StepOutcome] = []
    try:
        for plan in plans:
            try:
                outcomes.append(run_step(plan))
            except Exception as exc:
                finish_hop(hop_id, f"step {plan.run_name} failed: {type(exc).__name__}: {exc}", owner)
                raise
    finally:
        drop_reads([plan.step_id for plan in plans])
    is_final = finish_hop(hop_id, None, owner)
    return HopOutcome(hop_id=hop_id, status=RunOutcome.COMPLETED, is_final=is_final, steps=outcomes)
