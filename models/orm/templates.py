"""Mission templates: a checked mission spec stored under a name, deployed as `mission-run/<name>`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.orm.base import Base, Timestamped, uuid_pk
from sqlalchemy.orm import Mapped, mapped_column


class MissionTemplate(Timestamped, Base):
    """A spec a deployment runs: every run creates a fresh mission from it, its inputs overridable."""

    __tablename__ = "mission_templates"

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # The spec as JSON, file inputs read in (up to a bound) so a worker elsewhere needs no file.
    spec: Mapped[dict[str, Any]]
    source: Mapped[str | None] = mapped_column(sa.String(1024))
    base_dir: Mapped[str | None] = mapped_column(sa.String(1024))
    cron: Mapped[str | None] = mapped_column(sa.String(255))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    interval_seconds: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
