"""Pushing events into a living agent's inbox: checked, bounded, idempotent per (agent, event id); a new event
wakes the agent's `think/<agent>` deployment through a Prefect event, sent after the row is committed."""

from __future__ import annotations

import json
import logging
from typing import Any

from hopflow.models.access import living as access
from hopflow.models.db import session_scope
from hopflow.models.enums import InboxEventType
from pydantic import BaseModel

logger = logging.getLogger("hopflow.living")

MAX_EVENT_BYTES = 64 * 1024
MAX_EVENT_DEPTH = 32
MAX_EVENT_ID_CHARS = 255
PUSHED_EVENT = "hopflow.inbox.pushed"  # emitted by hopflow: wakes the agent's deployment
PUSH_EVENT = "hopflow.inbox.push"  # emitted by anyone: its payload is pushed, then the agent thinks


class InboxError(ValueError):
    """An event that cannot be pushed: the message names agent, field and problem. Nothing was written."""


class InboxAgentNotFound(InboxError):
    """No living agent of that name: the event is fine, its destination is missing."""


class PushResult(BaseModel):
    agent: str
    event_id: str
    new: bool


def agent_resource_id(agent: str) -> str:
    return f"hopflow.living.{agent}"


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_EVENT_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


def check_event(
    agent: str, event_id: Any, event_type: Any, data: Any
) -> tuple[str, InboxEventType, dict[str, Any]]:
    where = f"inbox of {agent!r}"
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID_CHARS:
        raise InboxError(
            f"{where}: event_id must be a non-empty string of at most {MAX_EVENT_ID_CHARS} characters"
        )
    try:
        kind = InboxEventType(event_type)
    except ValueError:
        allowed = ", ".join(t.value for t in InboxEventType)
        raise InboxError(
            f"{where}: event {event_id!r}: type {event_type!r} is not one of {allowed}"
        ) from None
    if not isinstance(data, dict):
        raise InboxError(
            f"{where}: event {event_id!r}: data must be a JSON object, got {type(data).__name__}"
        )
    if _depth(data) > MAX_EVENT_DEPTH:
        raise InboxError(f"{where}: event {event_id!r}: data is nested deeper than {MAX_EVENT_DEPTH} levels")
    try:
        size = len(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise InboxError(f"{where}: event {event_id!r}: data is not JSON: {exc}") from None
    if size > MAX_EVENT_BYTES:
        raise InboxError(f"{where}: event {event_id!r}: data is {size} bytes; at most {MAX_EVENT_BYTES}")
    return event_id, kind, data


def parse_event_data(text: str, agent: str, event_id: str) -> dict[str, Any]:
    """`--data` from a command line: bounded JSON object, or an InboxError saying where it is wrong."""
    if len(text.encode("utf-8")) > MAX_EVENT_BYTES:
        raise InboxError(f"inbox of {agent!r}: event {event_id!r}: --data is over {MAX_EVENT_BYTES} bytes")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InboxError(f"inbox of {agent!r}: event {event_id!r}: --data is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InboxError(f"inbox of {agent!r}: event {event_id!r}: --data must be a JSON object")
    return value


def store_event(agent: str, event_id: str, event_type: str, data: dict[str, Any]) -> PushResult:
    """The database half of a push: one row, or nothing for a duplicate. No Prefect call."""
    event_id, kind, data = check_event(agent, event_id, event_type, data)
    with session_scope() as session:
        row = access.read_living_agent(session, agent)
        if row is None:
            raise InboxAgentNotFound(
                f"no living agent {agent!r} (hopflow living create {agent} --config ...)"
            )
        new = access.push_event(
            session, entity_id=row.entity_id, event_id=event_id, event_type=kind.value, data=data
        )
    return PushResult(agent=agent, event_id=event_id, new=new)


def wake_agent(agent: str, event_id: str) -> None:
    """The Prefect event the agent's deployment listens to (with a Prefect API configured); a failure is
    logged, the row being saved already."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        # An ephemeral API lives in this process only: no `hopflow serve` could hear the event, and
        # starting one just to emit it costs a minute on a loaded machine.
        logger.debug("inbox of %r: no PREFECT_API_URL, nothing to wake", agent)
        return
    try:
        from prefect.events import emit_event

        emit_event(
            event=PUSHED_EVENT,
            resource={"prefect.resource.id": agent_resource_id(agent)},
            payload={"event_id": event_id},
        )
    except Exception:
        logger.warning(
            "inbox of %r: event %r saved but the wake-up event was not sent", agent, event_id, exc_info=True
        )


def push_event(
    agent: str, event_id: str, event_type: str, data: dict[str, Any], *, wake: bool = True
) -> PushResult:
    """Push one event into `agent`'s inbox: stored once per event id; a new one wakes the agent."""
    result = store_event(agent, event_id, event_type, data)
    if result.new and wake:
        wake_agent(agent, event_id)
    return result
