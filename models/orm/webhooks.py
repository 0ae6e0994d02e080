"""Webhook deliveries: one row per (route, Standard Webhooks `webhook-id`), so a replayed or retried
call gets the first answer again instead of a second run."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from hopflow.models.orm.base import Base, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column

WEBHOOK_ID_MAX = 255


class WebhookDelivery(Base):
    """A webhook call that passed its signature check. `flow_run_id` is empty while the receiver that
    claimed it is still starting the run; `claimed_at` lets another take over a claim left behind."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("route_key", "webhook_id"),)

    id: Mapped[uuid_pk]
    # SHA-256 (hex) of "<METHOD> <path>": paths have no length bound, a unique key must.
    route_key: Mapped[str] = mapped_column(sa.String(64))
    route: Mapped[str] = mapped_column(sa.Text)  # "<METHOD> <path>", for people
    webhook_id: Mapped[str] = mapped_column(sa.String(WEBHOOK_ID_MAX))
    configuration_id: Mapped[str | None] = mapped_column(sa.String(36))
    deployment_name: Mapped[str]
    flow_run_id: Mapped[str | None] = mapped_column(sa.String(36))
    received_at: Mapped[datetime] = mapped_column(index=True)
    claimed_at: Mapped[datetime]
