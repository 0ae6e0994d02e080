"""Entities (seed 000's Agent): the humans and agents that plan tasks and faults are assigned to;
create (checked before anything is written), read by id or name, list."""

from __future__ import annotations

import sqlalchemy as sa
from hopflow.models.enums import EntityStatus, EntityType
from hopflow.models.orm.identity import Entity
from sqlalchemy.orm import Session

MAX_NAME = 255
MAX_FIELD = 255


class EntityInputError(ValueError):
    """An entity hopflow refuses; the message names the field."""


class EntityNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no entity (human or agent) with id or name {ref!r}")


def parse_entity_type(value: str | EntityType) -> EntityType:
    try:
        return EntityType(str(value).strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in EntityType)
        raise EntityInputError(f"entity type {str(value)[:40]!r}: use one of {known}") from None


def _optional(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_FIELD:
        raise EntityInputError(f"{what}: 1-{MAX_FIELD} characters")
    return value


def create_entity(
    session: Session,
    *,
    name: str,
    entity_type: str | EntityType,
    specialty: str | None = None,
    contact: str | None = None,
) -> Entity:
    """A new human or agent. Refuses a bad type, an empty or long field, or a name already taken (tasks
    and faults are assigned by name), before anything is written."""
    kind = parse_entity_type(entity_type)
    clean = (name or "").strip()
    if not clean or len(clean) > MAX_NAME:
        raise EntityInputError(f"entity name: 1-{MAX_NAME} characters")
    specialty = _optional(specialty, "specialty")
    contact = _optional(contact, "contact")
    if session.scalar(sa.select(Entity.id).where(Entity.name == clean).limit(1)) is not None:
        raise EntityInputError(f"entity name {clean!r} is taken")
    entity = Entity(
        name=clean, entity_type=kind, specialty=specialty, contact=contact, status=EntityStatus.ACTIVE
    )
    session.add(entity)
    session.flush()
    return entity


def read_entity(session: Session, ref: str) -> Entity:
    """By id, unique name, or unique id prefix (4+ characters)."""
    found = session.get(Entity, ref)
    if found is not None:
        return found
    rows = list(session.scalars(sa.select(Entity).where(Entity.name == ref).limit(2)))
    if not rows and len(ref) >= 4:
        rows = list(session.scalars(sa.select(Entity).where(Entity.id.startswith(ref)).limit(2)))
    if len(rows) != 1:
        raise EntityNotFound(ref)
    return rows[0]


def list_entities(
    session: Session, *, entity_type: str | EntityType | None = None, limit: int = 200
) -> list[Entity]:
    query = sa.select(Entity)
    if entity_type is not None:
        query = query.where(Entity.entity_type == parse_entity_type(entity_type))
    return list(session.scalars(query.order_by(Entity.name, Entity.created_at).limit(limit)))


def entity_names(session: Session, ids: list[str | None]) -> dict[str, str]:
    """{entity id: name} for the given ids (None and unknown ids are left out)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(sa.select(Entity.id, Entity.name).where(Entity.id.in_(wanted))).tuples()
    return dict(rows.all())
