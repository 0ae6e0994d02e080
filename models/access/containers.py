"""The tool allowlist and the container inventory (seed 002): reads and writes that only flush."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.status import record_event
from hopflow.models.orm import ContainerInventory, Event, ToolAllowlist
from sqlalchemy.orm import Session

SNAPSHOT_ACTION = "containers_inventoried"
# What `containers diff` compares between two snapshots of one container.
COMPARED_FIELDS = ("name", "image", "state")


# --- allowlist -----------------------------------------------------------------------------------
def read_allowlist(session: Session, agent_configuration_id: str | None = None) -> list[ToolAllowlist]:
    """Enabled entries, of one configuration or of all, in a stable order."""
    query = sa.select(ToolAllowlist).where(ToolAllowlist.enabled.is_(True))
    if agent_configuration_id is not None:
        query = query.where(ToolAllowlist.agent_configuration_id == agent_configuration_id)
    query = query.order_by(
        ToolAllowlist.agent_configuration_id, ToolAllowlist.tool_id, ToolAllowlist.container_id
    )
    return list(session.scalars(query))


def _matching(
    session: Session, agent_configuration_id: str, tool_id: str, container_id: str | None
) -> sa.Select[tuple[ToolAllowlist]]:
    query = sa.select(ToolAllowlist).where(
        ToolAllowlist.agent_configuration_id == agent_configuration_id, ToolAllowlist.tool_id == tool_id
    )
    # `= NULL` matches nothing: a NULL container is looked up with IS NULL.
    if container_id is None:
        return query.where(ToolAllowlist.container_id.is_(None))
    return query.where(ToolAllowlist.container_id == container_id)


def allow_tool(
    session: Session, agent_configuration_id: str, tool_id: str, container_id: str | None = None
) -> tuple[ToolAllowlist, bool]:
    """Add (or re-enable) one entry; returns it and whether anything changed."""
    row = session.scalars(_matching(session, agent_configuration_id, tool_id, container_id)).first()
    if row is not None and row.enabled:
        return row, False
    if row is None:
        row = ToolAllowlist(
            agent_configuration_id=agent_configuration_id, tool_id=tool_id, container_id=container_id
        )
        session.add(row)
    row.enabled = True
    session.flush()
    record_event(
        session,
        action="tool_allowed",
        subject_type="agent_configurations",
        subject_id=agent_configuration_id,
        after={"tool_id": tool_id, "container_id": container_id},
    )
    return row, True


def deny_tool(
    session: Session, agent_configuration_id: str, tool_id: str, container_id: str | None = None
) -> int:
    """Remove entries: the one naming `container_id`, or with no container every entry of the tool."""
    query = sa.select(ToolAllowlist).where(
        ToolAllowlist.agent_configuration_id == agent_configuration_id, ToolAllowlist.tool_id == tool_id
    )
    if container_id is not None:
        query = query.where(ToolAllowlist.container_id == container_id)
    rows = list(session.scalars(query))
    for row in rows:
        session.delete(row)
        record_event(
            session,
            action="tool_denied",
            subject_type="agent_configurations",
            subject_id=agent_configuration_id,
            before={"tool_id": row.tool_id, "container_id": row.container_id},
        )
    session.flush()
    return len(rows)


# --- inventory -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerRecord:
    """One container as the engine reported it."""

    container_id: str
    name: str | None
    image: str | None
    state: str | None
    labels: Mapping[str, Any]
    created: datetime | None
    ports: Mapping[str, Any]


def record_inventory(session: Session, records: Iterable[ContainerRecord], snapshot_at: datetime) -> int:
    """Store one snapshot (every row shares `snapshot_at`) and an event marking it, so an empty
    snapshot still counts when comparing."""
    count = 0
    for r in records:
        session.add(
            ContainerInventory(
                container_id=r.container_id, name=r.name, image=r.image, state=r.state,
                labels=dict(r.labels), container_created_at=r.created, ports=dict(r.ports),
                snapshot_at=snapshot_at,
            )
        )  # fmt: skip
        count += 1
    session.flush()
    record_event(
        session,
        action=SNAPSHOT_ACTION,
        subject_type="container_inventory",
        subject_id=snapshot_at.isoformat(),
        after={"containers": count, "snapshot_at": snapshot_at.isoformat()},
    )
    return count


def snapshot_times(session: Session) -> list[datetime]:
    """Every snapshot's time, oldest first (from the rows, and from the events for empty snapshots)."""
    times = set(session.scalars(sa.select(ContainerInventory.snapshot_at).distinct()))
    for after in session.scalars(sa.select(Event.after).where(Event.action == SNAPSHOT_ACTION)):
        if after and after.get("snapshot_at"):
            times.add(datetime.fromisoformat(after["snapshot_at"]))
    return sorted(times)


def read_snapshot(session: Session, snapshot_at: datetime) -> dict[str, ContainerInventory]:
    rows = session.scalars(sa.select(ContainerInventory).where(ContainerInventory.snapshot_at == snapshot_at))
    return {row.container_id: row for row in rows}


def latest_snapshot(session: Session) -> tuple[datetime | None, list[ContainerInventory]]:
    times = snapshot_times(session)
    if not times:
        return None, []
    rows = read_snapshot(session, times[-1])
    return times[-1], sorted(rows.values(), key=lambda r: (r.name or "", r.container_id))


@dataclass
class InventoryDiff:
    baseline_at: datetime | None
    current_at: datetime | None
    appeared: list[ContainerInventory]
    disappeared: list[ContainerInventory]
    changed: list[tuple[ContainerInventory, ContainerInventory, list[str]]]


def inventory_diff(session: Session, since: datetime) -> InventoryDiff:
    """Compare the newest snapshot with the one in force at `since` (the newest taken at or before it,
    else the oldest after it)."""
    times = snapshot_times(session)
    if not times:
        return InventoryDiff(None, None, [], [], [])
    before = [t for t in times if t <= since]
    baseline_at = before[-1] if before else times[0]
    current_at = times[-1]
    old, new = read_snapshot(session, baseline_at), read_snapshot(session, current_at)
    changed = []
    for cid in sorted(old.keys() & new.keys()):
        fields = [f for f in COMPARED_FIELDS if getattr(old[cid], f) != getattr(new[cid], f)]
        if fields:
            changed.append((old[cid], new[cid], fields))
    return InventoryDiff(
        baseline_at=baseline_at,
        current_at=current_at,
        appeared=[new[c] for c in sorted(new.keys() - old.keys())],
        disappeared=[old[c] for c in sorted(old.keys() - new.keys())],
        changed=changed,
    )
