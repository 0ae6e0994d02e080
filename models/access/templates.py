"""Mission templates: create or replace one by name, read one, list them. Functions only flush."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.access.status import record_event
from hopflow.models.orm import MissionTemplate
from sqlalchemy.orm import Session


class MissionTemplateNotFound(LookupError):
    def __init__(self, ref: str, known: list[str]) -> None:
        hint = f"known: {', '.join(known)}" if known else "none is deployed (hopflow missions deploy SPEC)"
        super().__init__(f"no mission template named {ref!r}; {hint}")


def upsert_mission_template(
    session: Session,
    *,
    name: str,
    spec: dict[str, Any],
    description: str | None = None,
    source: str | None = None,
    base_dir: str | None = None,
    cron: str | None = None,
    timezone: str | None = None,
    interval_seconds: int | None = None,
    user_id: int | None = None,
) -> MissionTemplate:
    """The template `name`, created, or replaced with a new version (runs keep the version they used)."""
    template = session.scalars(sa.select(MissionTemplate).where(MissionTemplate.name == name)).one_or_none()
    fields: dict[str, Any] = {
        "spec": spec,
        "description": description,
        "source": source,
        "base_dir": base_dir,
        "cron": cron,
        "timezone": timezone,
        "interval_seconds": interval_seconds,
    }
    if template is None:
        template = MissionTemplate(name=name, version=1, created_by_user_id=user_id, **fields)
        session.add(template)
        action = "mission_template_created"
    else:
        for key, value in fields.items():
            setattr(template, key, value)
        template.version += 1
        action = "mission_template_updated"
    session.flush()
    record_event(
        session,
        action=action,
        subject_type="mission_templates",
        subject_id=template.id,
        after={"name": name, "version": template.version, "cron": cron, "interval_seconds": interval_seconds},
    )
    return template


def read_mission_template(session: Session, ref: str) -> MissionTemplate:
    """By name, else by id; LookupError naming the known templates."""
    template = session.scalars(sa.select(MissionTemplate).where(MissionTemplate.name == ref)).one_or_none()
    if template is None:
        template = session.get(MissionTemplate, ref)
    if template is None:
        raise MissionTemplateNotFound(ref, list(session.scalars(sa.select(MissionTemplate.name))))
    return template


def read_mission_templates(session: Session) -> list[MissionTemplate]:
    return list(session.scalars(sa.select(MissionTemplate).order_by(MissionTemplate.name)))
