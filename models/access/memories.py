"""Memories (seed 000 MemoryContext, seed 003 key-value memory): remember, read, forget, and one ranked
full-text search over PostgreSQL (tsvector, GIN index) and SQLite (FTS5), both made by migration 0005."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.tags import delete_tags_of, ids_tagged, normalise_tags, read_tags_of, set_tags
from hopflow.models.enums import MemoryTargetType
from hopflow.models.orm.knowledge import MemoryContext
from sqlalchemy.orm import Session

MAX_CONTENT_CHARS = 100_000
MAX_QUERY_CHARS = 1_000
MAX_TERMS = 32
MAX_LIMIT = 500
TAGGED_AS = "memory_contexts"

# The indexed expression of migration 0005, rendered without parameters so PostgreSQL matches it
# against ix_memory_contexts_fts (a bound parameter inside it would hide the index).
PG_DOCUMENT: sa.ColumnClause[Any] = sa.literal_column(
    "to_tsvector('english'::regconfig, "
    "coalesce(memory_contexts.content, '') || ' ' || coalesce(memory_contexts.category, ''))"
)
_FTS = sa.table("memory_contexts_fts", sa.column("rowid"))
_WORD = re.compile(r"\w+", re.UNICODE)


class MemoryInputError(ValueError):
    """A memory or a search hopflow refuses; the message names the field."""


class MemoryNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no memory with id or id prefix {ref!r}")


@dataclass(frozen=True)
class MemoryHit:
    memory: MemoryContext
    rank: float | None
    tags: list[str]


def parse_target_type(value: str | MemoryTargetType) -> MemoryTargetType:
    try:
        return MemoryTargetType(str(value).strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in MemoryTargetType)
        raise MemoryInputError(f"unknown target type {str(value)[:40]!r} (use one of: {known})") from None


def parse_target(text: str) -> tuple[MemoryTargetType, str]:
    """'TYPE:ID' -> (type, id); the error names what is missing."""
    kind, sep, ident = text.partition(":")
    if not sep or not ident.strip():
        raise MemoryInputError(f"target {text[:80]!r}: write it as TYPE:ID, e.g. agent:scout")
    return parse_target_type(kind), ident.strip()


def _check(content: str, target_id: str, key: str | None, category: str | None) -> None:
    if not content or not content.strip():
        raise MemoryInputError("content: a memory needs some text")
    if len(content) > MAX_CONTENT_CHARS:
        raise MemoryInputError(f"content: {len(content)} characters, at most {MAX_CONTENT_CHARS}")
    for name, value in (("target id", target_id), ("key", key), ("category", category)):
        if value is not None and (not value.strip() or len(value) > 255):
            raise MemoryInputError(f"{name}: 1-255 characters")


def remember(
    session: Session,
    *,
    target_type: str | MemoryTargetType,
    target_id: str,
    content: str,
    important: bool = False,
    category: str | None = None,
    tags: Iterable[str] | None = None,
    key: str | None = None,
) -> MemoryContext:
    """Store a memory; with a key it is a key-value entry, upserted by (target, key).

    Everything is checked before anything is written."""
    kind = parse_target_type(target_type)
    _check(content, target_id, key, category)
    names = normalise_tags(tags)
    memory = None
    if key is not None:
        memory = session.scalars(
            sa.select(MemoryContext).where(
                MemoryContext.target_type == kind,
                MemoryContext.target_id == target_id,
                MemoryContext.key == key,
            )
        ).one_or_none()
    if memory is None:
        memory = MemoryContext(target_type=kind, target_id=target_id, key=key, content=content)
        session.add(memory)
    memory.content = content
    memory.important = important
    memory.category = category
    session.flush()
    set_tags(session, TAGGED_AS, memory.id, names, replace=key is not None and tags is not None)
    return memory


def read_memory(session: Session, ref: str) -> MemoryContext:
    """A memory by id or unique id prefix (at least 4 characters)."""
    memory = session.get(MemoryContext, ref)
    if memory is not None:
        return memory
    if len(ref) >= 4:
        found = list(
            session.scalars(sa.select(MemoryContext).where(MemoryContext.id.startswith(ref)).limit(2))
        )
        if len(found) == 1:
            return found[0]
    raise MemoryNotFound(ref)


def read_memory_value(session: Session, target_type: str, target_id: str, key: str) -> str | None:
    kind = parse_target_type(target_type)
    return session.scalar(
        sa.select(MemoryContext.content).where(
            MemoryContext.target_type == kind, MemoryContext.target_id == target_id, MemoryContext.key == key
        )
    )


def forget_memory(session: Session, ref: str) -> str:
    """Delete a memory and its taggings; returns its id."""
    memory = read_memory(session, ref)
    delete_tags_of(session, TAGGED_AS, memory.id)
    session.delete(memory)
    session.flush()
    return memory.id


def search_terms(text: str) -> list[str]:
    """The words of a search, as both engines will match them (all must occur)."""
    if len(text) > MAX_QUERY_CHARS:
        raise MemoryInputError(f"search text: {len(text)} characters, at most {MAX_QUERY_CHARS}")
    words = [w.lower() for w in _WORD.findall(text)][:MAX_TERMS]
    if not words:
        raise MemoryInputError(f"search text {text[:80]!r} has no words to look for")
    return words


def fts_target_token(kind: MemoryTargetType, ident: str) -> str:
    """The one FTS5 token migration 0010 indexes for a memory's target: 'x' || hex('type:id')."""
    return "x" + f"{kind.value}:{ident}".encode().hex().upper()


def search_query(
    dialect: str,
    *,
    text: str | None = None,
    target: tuple[str | MemoryTargetType, str] | str | None = None,
    tags: Iterable[str] | None = None,
    category: str | None = None,
    important: bool | None = None,
    limit: int = 20,
) -> sa.Select[tuple[MemoryContext, Any]]:
    """The statement search_memories runs on `dialect` (benchmarks EXPLAIN it); checks every filter."""
    if not 1 <= limit <= MAX_LIMIT:
        raise MemoryInputError(f"limit: {limit} is outside 1..{MAX_LIMIT}")
    query = sa.select(MemoryContext)
    if target is not None:
        kind, ident = (
            parse_target(target) if isinstance(target, str) else (parse_target_type(target[0]), target[1])
        )
        query = query.where(MemoryContext.target_type == kind, MemoryContext.target_id == ident)
    names = normalise_tags(tags)
    if names:
        query = query.where(MemoryContext.id.in_(ids_tagged(TAGGED_AS, names)))
    if category is not None:
        query = query.where(MemoryContext.category == category)
    if important is not None:
        query = query.where(MemoryContext.important.is_(important))
    if text is None:
        return (
            query.add_columns(sa.null().label("rank")).order_by(MemoryContext.created_at.desc()).limit(limit)
        )
    terms = search_terms(text)
    rank: sa.ColumnElement[Any]
    if dialect == "postgresql":
        tsquery = sa.func.plainto_tsquery(sa.literal_column("'english'::regconfig"), " ".join(terms))
        rank = sa.func.ts_rank(PG_DOCUMENT, tsquery)
        query = query.where(PG_DOCUMENT.op("@@")(tsquery))
    else:
        # Every word quoted: FTS5 syntax in the user's text is data, not operators. Words are matched in
        # content and category; the target column (migration 0010) weighs 0 in bm25.
        words = "{content category} : (" + " ".join('"' + t.replace('"', '""') + '"' for t in terms) + ")"
        fts: Any = sa.literal_column("memory_contexts_fts")
        bm25 = -sa.func.bm25(fts, 1.0, 1.0, 0.0)
        on_row = _FTS.c.rowid == sa.literal_column("memory_contexts.rowid")
        if target is not None:
            # One FTS5 query for the words AND the target's token, materialised first: FTS5 intersects
            # the doclists and bm25 counts a common word's documents once. (One FTS5 lookup per memory
            # of the target recounted them per memory: over a second at 1M rows.) The token narrows;
            # the exact target filter above still decides.
            match = f'{words} AND target : "{fts_target_token(kind, ident)}"'
            hits = (
                sa.select(_FTS.c.rowid.label("hit_rowid"), bm25.label("hit_rank"))
                .select_from(_FTS)
                .where(fts.op("MATCH")(match))
                .cte("memory_hits")
                .prefix_with("MATERIALIZED")
            )
            query = query.join(hits, hits.c.hit_rowid == sa.literal_column("memory_contexts.rowid"))
            rank = hits.c.hit_rank
        else:
            query = query.join(_FTS, on_row).where(fts.op("MATCH")(words))
            rank = bm25
    return (
        query.add_columns(rank.label("rank"))
        .order_by(sa.desc("rank"), MemoryContext.created_at.desc())
        .limit(limit)
    )


def search_memories(
    session: Session,
    *,
    text: str | None = None,
    target: tuple[str | MemoryTargetType, str] | str | None = None,
    tags: Iterable[str] | None = None,
    category: str | None = None,
    important: bool | None = None,
    limit: int = 20,
) -> list[MemoryHit]:
    """Memories matching every filter; with `text`, ranked best first by the database's full-text engine
    (ts_rank on PostgreSQL, bm25 on SQLite), otherwise newest first."""
    query = search_query(
        session.get_bind().dialect.name,
        text=text,
        target=target,
        tags=tags,
        category=category,
        important=important,
        limit=limit,
    )
    rows = session.execute(query).all()
    tag_map = read_tags_of(session, TAGGED_AS, [m.id for m, _ in rows])
    return [
        MemoryHit(memory=m, rank=None if r is None else float(r), tags=tag_map.get(m.id, [])) for m, r in rows
    ]
