"""The one way a status changes: checked against models.enums.ALLOWED_TRANSITIONS, recorded as an event."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any, Protocol, cast

import sqlalchemy as sa
from hopflow.models.enums import ALLOWED_TRANSITIONS, InvalidTransition, can_transition
from hopflow.models.orm.audit import Event
from sqlalchemy import Connection
from sqlalchemy.orm import Session


class HasStatus(Protocol):
    id: Any
    status: Any


def transition(
    session: Session,
    subject: HasStatus,
    target: StrEnum,
    *,
    actor_entity_id: str | None = None,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Event | None:
    """Move `subject` to `target`, or raise InvalidTransition naming both states.

    Moving to the current status is a no-op (hooks and reconcilers repeat themselves);
    every real change appends one Event row with before and after.
    """
    current = subject.status
    if not isinstance(current, type(target)):
        current = type(target)(current)
    if current == target:
        return None
    subject_name = f"{type(subject).__name__} {subject.id}"
    if not can_transition(current, target):
        raise InvalidTransition(subject_name, current, target)
    subject.status = target
    after: dict[str, Any] = {"status": target.value}
    if extra:
        after.update(extra)
    event = Event(
        action="status_changed",
        description=reason,
        actor_entity_id=actor_entity_id,
        subject_type=getattr(subject, "__tablename__", type(subject).__name__),
        subject_id=str(subject.id),
        before={"status": current.value},
        after=after,
    )
    session.add(event)
    return event


def record_event(
    session: Session,
    *,
    action: str,
    subject_type: str,
    subject_id: str,
    description: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_entity_id: str | None = None,
    actor_user_id: int | None = None,
) -> Event:
    event = Event(
        action=action,
        description=description,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
        actor_entity_id=actor_entity_id,
        actor_user_id=actor_user_id,
    )
    session.add(event)
    return event


def compare_and_set(
    session: Session,
    model: type[Any],
    subject_id: str,
    expected: StrEnum,
    target: StrEnum,
    *,
    where: tuple[Any, ...] = (),
    values: dict[str, Any] | None = None,
    reason: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> bool:
    """Move one row from `expected` to `target` with a single conditional UPDATE; False if it was not there.

    The row changes only if its status is still `expected` (and every clause of `where` holds), so two
    writers racing for it cannot both win, on SQLite or PostgreSQL. The walk from `expected` to
    `target` is checked against the machine (InvalidTransition) and recorded as events, as
    advance_to does. `values` are set in the same UPDATE (SQL expressions allowed, e.g. a counter).
    With `events`, the event rows are appended there for one insert_events at the end of the unit
    of work (the hot path of a step) instead of being added to the session one by one.
    """
    path = transition_path(expected, target)
    statement = (
        sa.update(model)
        .where(model.id == subject_id, model.status == expected, *where)
        .values(status=target, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        return False
    rows = status_event_rows(model.__tablename__, subject_id, expected, path, reason)
    if events is not None:
        events.extend(rows)
    else:
        session.add_all(Event(**row) for row in rows)
    return True


def status_event_rows(
    subject_type: str, subject_id: str, before: StrEnum, path: list[StrEnum], reason: str | None
) -> list[dict[str, Any]]:
    """The events of a walk from `before` along `path` (transition_path's answer), one per move."""
    rows = []
    for state in path:
        rows.append(
            {
                "action": "status_changed",
                "description": reason,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "before": {"status": before.value},
                "after": {"status": state.value},
            }
        )
        before = state
    return rows


_INSERT_EVENTS = sa.insert(cast(sa.Table, Event.__table__))


def insert_events(db: Session | Connection, rows: list[dict[str, Any]]) -> None:
    """Event rows in one INSERT (their ids and times from the columns' defaults)."""
    if rows:
        db.execute(_INSERT_EVENTS, rows)


def transition_path(current: StrEnum, target: StrEnum, subject: str | None = None) -> list[StrEnum]:
    """The states advance_to would walk through from `current` to `target` (target last): the
    shortest chain of allowed moves that passes through no failed/cancelled/error/expired state.

    Raises InvalidTransition (naming `subject`, else the enum) when there is none.
    """
    if current == target:
        return []
    chain = _shortest_chain(current, target)
    if chain is None:
        raise InvalidTransition(subject or type(target).__name__, current, target)
    return list(chain)


@functools.lru_cache(maxsize=1024)
def _shortest_chain(current: StrEnum, target: StrEnum) -> tuple[StrEnum, ...] | None:
    # ALLOWED_TRANSITIONS is a constant table, so each pair's answer is worked out once per process:
    # every step's claim and finish ask for the same few.
    table = ALLOWED_TRANSITIONS[type(target)]
    previous: dict[StrEnum, StrEnum] = {}
    frontier = [current]
    while frontier and target not in previous:
        nxt = []
        for state in frontier:
            for candidate in sorted(table.get(state, frozenset()), key=lambda s: s.value):
                if candidate in previous or candidate == current:
                    continue
                if candidate != target and _is_escape(candidate):
                    continue
                previous[candidate] = state
                nxt.append(candidate)
        frontier = nxt
    if target not in previous:
        return None
    chain = [target]
    while chain[-1] != current:
        chain.append(previous[chain[-1]])
    return tuple(reversed(chain[:-1]))


def _is_escape(state: StrEnum) -> bool:
    # Never pass *through* these on the way elsewhere: they mean something went wrong.
    return state.value in {"failed", "cancelled", "error", "expired"}


def advance_to(
    session: Session,
    subject: HasStatus,
    target: StrEnum,
    *,
    actor_entity_id: str | None = None,
    reason: str | None = None,
) -> list[Event]:
    """Walk `subject` to `target` by the shortest chain of allowed moves, one event per move.

    Raises InvalidTransition when no chain avoiding failed/cancelled/error states exists.
    """
    current = subject.status
    if not isinstance(current, type(target)):
        current = type(target)(current)
    path = transition_path(current, target, f"{type(subject).__name__} {subject.id}")
    events = []
    for state in path:
        event = transition(session, subject, state, actor_entity_id=actor_entity_id, reason=reason)
        if event is not None:
            events.append(event)
    return events
