"""Mission leases: one runner (a flow run) works on a mission at a time, taken and renewed with
conditional UPDATEs so that two runners racing on SQLite or PostgreSQL cannot both hold it."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from hopflow.models.orm import Mission
from sqlalchemy.orm import Session


class LeaseLost(RuntimeError):
    """This runner no longer holds the mission's lease (it expired and another runner took it)."""

    def __init__(self, mission_id: str, owner: str, holder: str | None) -> None:
        where = f"flow run {holder} holds it now" if holder else "nobody holds it now"
        super().__init__(f"mission {mission_id}: runner {owner} lost its lease ({where})")
        self.holder = holder


def acquire_lease(
    session: Session, mission_id: str, owner: str, *, seconds: float, now: datetime
) -> str | None:
    """Take the mission's lease for `owner` if it is free, expired or already `owner`'s.

    Returns None when taken, else the live holder's id. The UPDATE is the whole decision: on
    PostgreSQL a racing UPDATE waits for the row lock and re-checks the condition; on SQLite
    writers are serialised. Both see the winner's lease and change nothing.
    """
    taken = session.execute(
        sa.update(Mission)
        .where(
            Mission.id == mission_id,
            sa.or_(
                Mission.lease_owner.is_(None),
                Mission.lease_owner == owner,
                Mission.lease_expires_at.is_(None),
                Mission.lease_expires_at <= now,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if taken == 1:
        return None
    return read_lease_holder(session, mission_id) or "?"


def renew_lease(session: Session, mission_id: str, owner: str, *, seconds: float, now: datetime) -> bool:
    """Push the lease's expiry on while `owner` still holds it and it has not expired; False otherwise.

    Also the fence of every unit of work of a runner: on PostgreSQL it takes the mission row's lock
    and on SQLite the write lock, so a takeover cannot interleave with the rest of the transaction.
    """
    renewed = session.execute(
        sa.update(Mission)
        .where(Mission.id == mission_id, Mission.lease_owner == owner, Mission.lease_expires_at > now)
        .values(lease_expires_at=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(renewed == 1)


def release_lease(session: Session, mission_id: str, owner: str) -> bool:
    """Give the lease up (the mission finished, failed or was left); only its holder can."""
    released = session.execute(
        sa.update(Mission)
        .where(Mission.id == mission_id, Mission.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(released == 1)


def read_lease_holder(session: Session, mission_id: str) -> str | None:
    return session.scalar(sa.select(Mission.lease_owner).where(Mission.id == mission_id))


def require_lease(session: Session, mission_id: str, owner: str, *, seconds: float, now: datetime) -> None:
    """renew_lease, or raise LeaseLost naming the current holder."""
    if not renew_lease(session, mission_id, owner, seconds=seconds, now=now):
        raise LeaseLost(mission_id, owner, read_lease_holder(session, mission_id))
