"""Rows that follow others, kept in step by one session hook: a plan task follows the hop it runs as
(in_progress, completed, blocked with its fault), a plan completes with its last task, and a mission
that reaches completed (a resumed one) closes its open faults with a note.

A hook, not call sites: the engine that moves hops and missions needs no knowledge of plans.
Installed on hopflow's session factories (models/db.py); changes go through status.transition.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.access.status import transition
from hopflow.models.enums import FaultStatus, HopStatus, MissionStatus, PlanStatus, PlanTaskStatus
from hopflow.models.orm.base import utcnow
from hopflow.models.orm.execution import Hop, Mission, ToolStep
from hopflow.models.orm.knowledge import Fault, Plan, PlanTask
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

TASK_FOR_HOP = {
    HopStatus.EXECUTING: PlanTaskStatus.IN_PROGRESS,
    HopStatus.COMPLETED: PlanTaskStatus.COMPLETED,
    HopStatus.FAILED: PlanTaskStatus.BLOCKED,
    HopStatus.CANCELLED: PlanTaskStatus.OPEN,
}
RESUMED_NOTE = "closed: the mission was resumed to completion"


def _new_status(obj: Any) -> Any | None:
    history = sa.inspect(obj).attrs["status"].history
    return history.added[0] if history.added else None


def follow_hop(session: Session, hop: Hop, status: HopStatus) -> None:
    target = TASK_FOR_HOP.get(status)
    if target is None:
        return
    for task in session.scalars(sa.select(PlanTask).where(PlanTask.hop_id == hop.id)):
        transition(session, task, target, reason=f"hop {hop.sequence_order}:{hop.name} {status.value}")
        if target == PlanTaskStatus.BLOCKED:
            faults = session.scalars(
                sa.select(Fault)
                .join(ToolStep, ToolStep.id == Fault.tool_step_id)
                .where(
                    ToolStep.hop_id == hop.id, Fault.status == FaultStatus.OPEN, Fault.plan_task_id.is_(None)
                )
            )
            for fault in faults:
                fault.plan_task_id = task.id
        plan = session.get(Plan, task.plan_id) if task.plan_id else None
        if plan is None:
            continue
        plan.version += 1
        done = all(t.status == PlanTaskStatus.COMPLETED for t in plan.tasks)
        if target == PlanTaskStatus.COMPLETED and plan.status == PlanStatus.ACTIVE and done:
            transition(session, plan, PlanStatus.COMPLETED, reason="every task completed")


def close_faults_of(session: Session, mission_id: str, note: str = RESUMED_NOTE) -> int:
    """Mark a mission's open faults fixed with `note`; returns how many."""
    faults = list(
        session.scalars(
            sa.select(Fault).where(Fault.mission_id == mission_id, Fault.status == FaultStatus.OPEN)
        )
    )
    for fault in faults:
        transition(session, fault, FaultStatus.FIXED, reason=note)
        fault.resolution = note
        fault.fixed_at = utcnow()
    return len(faults)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in session.dirty if isinstance(obj, Hop | Mission)]
    if not changed:
        return
    with session.no_autoflush:
        for obj in changed:
            status = _new_status(obj)
            if status is None:
                continue
            if isinstance(obj, Hop):
                follow_hop(session, obj, HopStatus(status))
            elif MissionStatus(status) == MissionStatus.COMPLETED:
                close_faults_of(session, obj.id)


def install(factory: sessionmaker[Session]) -> None:
    if not event.contains(factory, "before_flush", _before_flush):
        event.listen(factory, "before_flush", _before_flush)
