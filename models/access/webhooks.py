"""Webhook deliveries: claim a (route, webhook-id) once, record the run it started, prune old rows.

Concurrent copies of one call race on the unique (route_key, webhook_id) index: an
INSERT ... ON CONFLICT DO NOTHING lets exactly one of them in; the others read the winner's row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

import sqlalchemy as sa
from hopflow.models.orm import WebhookDelivery, utcnow
from hopflow.models.orm.base import new_id
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_DELIVERIES = cast(sa.Table, WebhookDelivery.__table__)


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this caller starts the run
    STARTED = "started"  # seen before and its run exists: answer with it
    IN_FLIGHT = "in_flight"  # seen before, another caller is starting its run right now


@dataclass(frozen=True)
class DeliveryClaim:
    outcome: ClaimOutcome
    delivery_id: str
    flow_run_id: str | None
    deployment_name: str


def route_key(method: str, path: str) -> str:
    return hashlib.sha256(f"{method.upper()} {path}".encode()).hexdigest()


def claim_delivery(
    session: Session,
    *,
    method: str,
    path: str,
    webhook_id: str,
    deployment_name: str,
    configuration_id: str | None,
    abandoned_after: timedelta,
    now: datetime | None = None,
) -> DeliveryClaim:
    """Claim the delivery `webhook_id` on this route, or say who has it.

    A claim whose run was never recorded within `abandoned_after` (its receiver died between the
    claim and Prefect's answer) is taken over by a compare-and-set on `claimed_at`.
    """
    now = now or utcnow()
    key = route_key(method, path)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for _ in range(3):
        fresh_id = new_id()
        inserted = session.execute(
            insert(_DELIVERIES)
            .values(
                id=fresh_id,
                route_key=key,
                route=f"{method.upper()} {path}",
                webhook_id=webhook_id,
                configuration_id=configuration_id,
                deployment_name=deployment_name,
                flow_run_id=None,
                received_at=now,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["route_key", "webhook_id"])
            .returning(_DELIVERIES.c.id)
        ).scalar_one_or_none()
        # RETURNING, not rowcount: psycopg reports no rowcount for an INSERT ... ON CONFLICT here.
        if inserted is not None:
            return DeliveryClaim(ClaimOutcome.CLAIMED, fresh_id, None, deployment_name)
        columns = _DELIVERIES.c
        row = session.execute(
            sa.select(columns.id, columns.flow_run_id, columns.claimed_at, columns.deployment_name).where(
                columns.route_key == key, columns.webhook_id == webhook_id
            )
        ).one_or_none()
        if row is not None:
            break
        # released (its start failed) between our insert and this read: try to claim it again
    else:
        return DeliveryClaim(ClaimOutcome.IN_FLIGHT, "", None, deployment_name)
    if row.flow_run_id is not None:
        return DeliveryClaim(ClaimOutcome.STARTED, row.id, row.flow_run_id, row.deployment_name)
    if row.claimed_at <= now - abandoned_after:
        taken = session.execute(
            sa.update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == row.id,
                _DELIVERIES.c.flow_run_id.is_(None),
                _DELIVERIES.c.claimed_at == row.claimed_at,
            )
            .values(claimed_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return DeliveryClaim(ClaimOutcome.CLAIMED, row.id, None, row.deployment_name)
    return DeliveryClaim(ClaimOutcome.IN_FLIGHT, row.id, None, row.deployment_name)


def read_delivery_run(session: Session, delivery_id: str) -> str | None:
    """The flow run id recorded for a delivery (None while it is being started or if it is gone)."""
    return session.execute(
        sa.select(_DELIVERIES.c.flow_run_id).where(_DELIVERIES.c.id == delivery_id)
    ).scalar_one_or_none()


def record_delivery_run(session: Session, delivery_id: str, flow_run_id: str) -> None:
    session.execute(
        sa.update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id).values(flow_run_id=flow_run_id)
    )


def release_delivery(session: Session, delivery_id: str) -> None:
    """Forget a claim whose run could not be started, so the sender's retry can start it."""
    session.execute(
        sa.delete(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id, _DELIVERIES.c.flow_run_id.is_(None))
    )


def prune_deliveries(session: Session, *, received_before: datetime) -> int:
    """Delete deliveries received before the cutoff; returns how many."""
    result = session.execute(sa.delete(_DELIVERIES).where(_DELIVERIES.c.received_at < received_before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
