"""One tagging scheme for every taggable row (seed 000 rec. 3): tags by name, read and filtered here."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from hopflow.models.orm.audit import Tag, Tagging
from sqlalchemy.orm import Session

# The tables whose rows carry tags; a tag on anything else is refused.
TAGGABLE = ("memory_contexts", "reflections", "plans", "missions", "agent_definitions")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:/\-]{0,63}$")
MAX_TAGS = 32


class TagError(ValueError):
    """A tag name or a tag target hopflow refuses; the message says which and why."""


def normalise_tags(names: Iterable[str] | None) -> list[str]:
    """Lower-cased, de-duplicated, checked tag names in first-seen order; raises TagError naming a bad one."""
    out: list[str] = []
    for raw in names or ():
        name = str(raw).strip().lower()
        if not TAG_PATTERN.fullmatch(name):
            raise TagError(
                f"tag {str(raw)[:80]!r}: use 1-64 characters a-z 0-9 _ . : / -, "
                "starting with a letter or digit"
            )
        if name not in out:
            out.append(name)
    if len(out) > MAX_TAGS:
        raise TagError(f"{len(out)} tags given; at most {MAX_TAGS} per row")
    return out


def _check_target(target_type: str) -> None:
    if target_type not in TAGGABLE:
        raise TagError(f"{target_type!r} rows cannot be tagged (taggable: {', '.join(TAGGABLE)})")


def _tag_ids(session: Session, names: list[str]) -> dict[str, str]:
    found = {t.name: t.id for t in session.scalars(sa.select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        if name not in found:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            found[name] = tag.id
    return found


def set_tags(
    session: Session, target_type: str, target_id: str, names: Iterable[str] | None, *, replace: bool = False
) -> list[str]:
    """Tag a row (adding to its tags, or replacing them); returns the row's tags afterwards."""
    _check_target(target_type)
    wanted = normalise_tags(names)
    current = read_tags(session, target_type, target_id)
    if replace:
        gone = [n for n in current if n not in wanted]
        if gone:
            ids = _tag_ids(session, gone)
            session.execute(
                sa.delete(Tagging).where(
                    Tagging.target_type == target_type,
                    Tagging.target_id == target_id,
                    Tagging.tag_id.in_(ids.values()),
                )
            )
    new = [n for n in wanted if n not in current]
    if new:
        ids = _tag_ids(session, new)
        for name in new:
            session.add(Tagging(tag_id=ids[name], target_type=target_type, target_id=target_id))
        session.flush()
    return read_tags(session, target_type, target_id)


def read_tags(session: Session, target_type: str, target_id: str) -> list[str]:
    return read_tags_of(session, target_type, [target_id]).get(target_id, [])


def read_tags_of(session: Session, target_type: str, target_ids: Iterable[str]) -> dict[str, list[str]]:
    """Tags of many rows at once: {row id: sorted tag names}."""
    ids = list(target_ids)
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    rows = session.execute(
        sa.select(Tagging.target_id, Tag.name)
        .join(Tag, Tag.id == Tagging.tag_id)
        .where(Tagging.target_type == target_type, Tagging.target_id.in_(ids))
        .order_by(Tag.name)
    )
    for target_id, name in rows:
        out.setdefault(target_id, []).append(name)
    return out


def ids_tagged(target_type: str, names: Iterable[str]) -> sa.Select[tuple[str]]:
    """A subquery of the ids of `target_type` rows carrying every one of `names` (for `.in_(...)`)."""
    _check_target(target_type)
    wanted = normalise_tags(names)
    return (
        sa.select(Tagging.target_id)
        .join(Tag, Tag.id == Tagging.tag_id)
        .where(Tagging.target_type == target_type, Tag.name.in_(wanted))
        .group_by(Tagging.target_id)
        .having(sa.func.count(sa.distinct(Tag.id)) == len(wanted))
    )


def delete_tags_of(session: Session, target_type: str, target_id: str) -> None:
    session.execute(
        sa.delete(Tagging).where(Tagging.target_type == target_type, Tagging.target_id == target_id)
    )
