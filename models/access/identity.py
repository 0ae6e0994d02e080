"""Users and entities: the local default user every CLI mission runs as."""

from __future__ import annotations

import sqlalchemy as sa
from hopflow.models.enums import EntityType
from hopflow.models.orm.identity import Entity, User
from sqlalchemy.orm import Session

LOCAL_USER_EMAIL = "local@hopflow"


def ensure_user(session: Session, email: str = LOCAL_USER_EMAIL, name: str | None = "local") -> User:
    """The user with this email, created (with its human entity) on first use."""
    user = session.scalars(sa.select(User).where(User.email == email)).one_or_none()
    if user is not None:
        return user
    entity = Entity(name=name or email, entity_type=EntityType.HUMAN, contact=email)
    session.add(entity)
    session.flush()
    user = User(email=email, name=name, entity_id=entity.id)
    session.add(user)
    session.flush()
    return user
