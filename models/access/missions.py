"""Listing stored missions: newest first, by status and by tags (the one tags/taggings scheme)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from hopflow.models.access.tags import ids_tagged, normalise_tags
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import Hop, Mission
from sqlalchemy.orm import Session


def list_missions(
    session: Session,
    *,
    status: MissionStatus | None = None,
    tags: Iterable[str] | None = None,
    limit: int = 20,
) -> list[tuple[Mission, int]]:
    """(mission, number of hops), newest first; with `tags`, only missions carrying all of them.
    A bad tag name raises TagError before any query."""
    names = normalise_tags(tags)
    stmt = (
        sa.select(Mission, sa.func.count(Hop.id))
        .outerjoin(Hop, Hop.mission_id == Mission.id)
        .group_by(Mission.id)
        .order_by(Mission.created_at.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(Mission.status == status)
    if names:
        stmt = stmt.where(Mission.id.in_(ids_tagged("missions", names)))
    return [(mission, hops) for mission, hops in session.execute(stmt).tuples()]
