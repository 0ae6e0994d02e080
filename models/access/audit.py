"""The audit trail (seed 000 ActionLog, done once): SQLAlchemy session events turn every create, update
and delete of an audited model into an `events` row with a before/after diff; and reading it back.

Installed on hopflow's session factories (models/db.py); call sites write nothing themselves. Secrets
and prompt text never enter a diff: secret-named fields are masked, prompt-like text is replaced by
its length and a hash prefix, JSON goes through models.secrets.redact, long text is cut.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from hopflow.models.orm.agents import AgentConfiguration, AgentDefinition, Directive, ToolAllowlist
from hopflow.models.orm.audit import Event
from hopflow.models.orm.base import new_id, utcnow
from hopflow.models.orm.knowledge import Fault, MemoryContext, Plan, PlanTask, Project, Reflection
from hopflow.models.secrets import REDACTED, SECRET_KEY_HINTS, redact
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

AUDITED: tuple[type[Any], ...] = (
    AgentDefinition,
    AgentConfiguration,
    Directive,
    ToolAllowlist,
    Project,
    Plan,
    PlanTask,
    MemoryContext,
    Fault,
    Reflection,
)
# Text an LLM is given (or that may hold a literal secret): only its size and a hash prefix are kept.
OPAQUE_FIELDS: dict[str, frozenset[str]] = {
    "directives": frozenset({"text"}),
    "agent_configurations": frozenset({"yaml_config", "last_run_output_preview"}),
    "agent_definitions": frozenset(
        {
            "introduction_text",
            "essence_interpretation",
            "dna_phrase",
            "essence_punch",
            "example_integration_flow",
        }
    ),
}
# Bookkeeping that changes with everything else: never a diff of its own.
IGNORED_FIELDS = frozenset({"updated_at", "created_at"})
MAX_TEXT = 300
ACTOR_ENTITY = "audit_actor_entity_id"
ACTOR_USER = "audit_actor_user_id"


def set_actor(session: Session, *, entity_id: str | None = None, user_id: int | None = None) -> None:
    """Who the session's next changes are attributed to (until changed again)."""
    session.info[ACTOR_ENTITY] = entity_id
    session.info[ACTOR_USER] = user_id


def opaque(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"<{len(text)} chars sha256:{digest}>"


def audit_value(table: str, key: str, value: Any) -> Any:
    """A column value as it may appear in a diff."""
    if value is None:
        return None
    if any(h in key.lower() for h in SECRET_KEY_HINTS):
        return REDACTED
    if key in OPAQUE_FIELDS.get(table, ()):
        return opaque(str(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        value = redact(value)
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"... ({len(value)} chars)"
    if isinstance(value, dict | list):
        return redact(value)
    return value


def _columns(obj: Any) -> list[tuple[str, str]]:
    """(attribute key, column name) of every column attribute."""
    mapper = sa.inspect(type(obj))
    return [(attr.key, attr.columns[0].name) for attr in mapper.column_attrs]


def _snapshot(obj: Any) -> dict[str, Any]:
    table = obj.__tablename__
    state = sa.inspect(obj)
    out = {}
    for key, name in _columns(obj):
        if name in IGNORED_FIELDS or key not in state.dict:
            continue
        out[name] = audit_value(table, name, state.dict[key])
    return out


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    table = obj.__tablename__
    state = sa.inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, name in _columns(obj):
        if name in IGNORED_FIELDS:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[name] = audit_value(table, name, old)
        after[name] = audit_value(table, name, new)
    return before, after


def _update_action(obj: Any, after: dict[str, Any]) -> str:
    if after.get("status") in ("completed", "fixed"):
        return "complete"
    if "assigned_to_entity_id" in after:
        return "assign"
    return "update"


def _subject_id(obj: Any) -> str:
    state = sa.inspect(obj)
    ident = state.identity or (getattr(obj, "id", None),)
    return ":".join(str(i) for i in ident)


def _after_flush(session: Session, _context: Any) -> None:
    rows: list[dict[str, Any]] = []
    base = {
        "actor_entity_id": session.info.get(ACTOR_ENTITY),
        "actor_user_id": session.info.get(ACTOR_USER),
        "created_at": utcnow(),
    }
    for obj in session.new:
        if isinstance(obj, AUDITED):
            action = "reflect" if isinstance(obj, Reflection) else "create"
            rows.append({"action": action, "before": None, "after": _snapshot(obj), "obj": obj})
    for obj in session.dirty:
        if isinstance(obj, AUDITED) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after or before:
                rows.append(
                    {"action": _update_action(obj, after), "before": before, "after": after, "obj": obj}
                )
    for obj in session.deleted:
        if isinstance(obj, AUDITED):
            rows.append({"action": "delete", "before": _snapshot(obj), "after": None, "obj": obj})
    if not rows:
        return
    values = []
    for row in rows:
        obj = row.pop("obj")
        values.append(
            {
                **base,
                **row,
                "id": new_id(),
                "subject_type": obj.__tablename__,
                "subject_id": _subject_id(obj),
                "description": f"{row['action']} {obj.__tablename__}",
            }
        )
    # Core insert on the flush's own connection: part of the same transaction, and no second flush.
    session.connection().execute(sa.insert(Event), values)


def install(factory: sessionmaker[Session]) -> None:
    """Audit every session this factory makes (idempotent)."""
    if not event.contains(factory, "after_flush", _after_flush):
        event.listen(factory, "after_flush", _after_flush)


def read_history(
    session: Session,
    subject: str,
    *,
    since: datetime | None = None,
    limit: int = 200,
) -> list[Event]:
    """Events of a subject, oldest first: SUBJECT is an id, an id prefix (4+ characters) or TABLE:ID."""
    table, sep, ident = subject.partition(":")
    query = sa.select(Event)
    if sep and ident:
        query = query.where(Event.subject_type == table, Event.subject_id == ident)
    elif len(subject) >= 4:
        query = query.where(Event.subject_id.startswith(subject))
    else:
        raise ValueError(f"subject {subject!r}: give an id, an id prefix of 4+ characters, or TABLE:ID")
    if since is not None:
        query = query.where(Event.created_at >= since)
    return list(session.scalars(query.order_by(Event.created_at, Event.id).limit(limit)))
