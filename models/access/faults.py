"""Faults (seed 000): defects found while working, opened by a failed ToolStep; open -> fixed through
status.transition, with severity, an assignee and the note that closed them."""

from __future__ import annotations

import sqlalchemy as sa
from hopflow.models.access.entities import read_entity
from hopflow.models.access.status import transition
from hopflow.models.enums import FaultSeverity, FaultStatus
from hopflow.models.orm.base import utcnow
from hopflow.models.orm.identity import Entity
from hopflow.models.orm.knowledge import Fault
from sqlalchemy.orm import Session

MAX_NOTE = 2_000


class FaultNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no fault with id or id prefix {ref!r}")


def read_fault(session: Session, ref: str) -> Fault:
    fault = session.get(Fault, ref)
    if fault is None and len(ref) >= 4:
        rows = list(session.scalars(sa.select(Fault).where(Fault.id.startswith(ref)).limit(2)))
        fault = rows[0] if len(rows) == 1 else None
    if fault is None:
        raise FaultNotFound(ref)
    return fault


def list_faults(
    session: Session,
    *,
    status: FaultStatus | str | None = None,
    severity: FaultSeverity | str | None = None,
    mission_id: str | None = None,
    limit: int = 100,
) -> list[Fault]:
    query = sa.select(Fault)
    if status is not None:
        query = query.where(Fault.status == FaultStatus(status))
    if severity is not None:
        query = query.where(Fault.severity == FaultSeverity(severity))
    if mission_id is not None:
        query = query.where(Fault.mission_id == mission_id)
    return list(session.scalars(query.order_by(Fault.created_at.desc()).limit(limit)))


def assign_fault(session: Session, fault: Fault, entity_ref: str) -> Entity:
    entity = read_entity(session, entity_ref)
    fault.assigned_to_entity_id = entity.id
    session.flush()
    return entity


def fix_fault(session: Session, fault: Fault, note: str, *, actor_entity_id: str | None = None) -> None:
    """open -> fixed, with the note saying how. Fixing a fixed fault is refused: its first note stays."""
    note = (note or "").strip()
    if not note or len(note) > MAX_NOTE:
        raise ValueError(f"fix note: 1-{MAX_NOTE} characters saying what fixed it")
    if fault.status == FaultStatus.FIXED:
        raise ValueError(f"fault {fault.id} is already fixed ({fault.resolution or 'no note'})")
    transition(session, fault, FaultStatus.FIXED, actor_entity_id=actor_entity_id, reason=note[:500])
    fault.resolution = note
    fault.fixed_at = utcnow()
    session.flush()


def reopen_fault(session: Session, fault: Fault, reason: str) -> None:
    transition(session, fault, FaultStatus.OPEN, reason=reason[:500])
    fault.fixed_at = None
    session.flush()
