"""The one declarative Base: naming convention, column types shared by every table, id helpers."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends; a naive datetime is refused, never guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: hopflow stores timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite keeps text; store it without offset so ordering compares like for like.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), JSON on SQLite.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _RandomPool:
    """os.urandom read 4 KiB at a time, handed out 16 bytes per id.

    Each os.urandom call releases the GIL around its getrandom(2); inside a Prefect flow, whose
    background threads (events, logs) are busy, taking it back cost 30-100 µs a call, and a step
    writes five events. The bytes are the same kernel randomness, read 256 ids at a time; a forked
    child starts a pool of its own, so parent and child never hand out the same bytes.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._start()
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        # A new lock too: a thread of the parent may have held the old one at the fork.
        self._lock = threading.Lock()
        self._refill()

    def _refill(self) -> None:
        self._buffer, self._offset = os.urandom(self.SIZE), 0

    def take16(self) -> bytes:
        with self._lock:
            if self._offset == self.SIZE:
                self._refill()
            chunk = self._buffer[self._offset : self._offset + 16]
            self._offset += 16
            return chunk


_pool = _RandomPool()


def new_id() -> str:
    """A random (version 4) UUID, as text."""
    return str(uuid.UUID(bytes=_pool.take16(), version=4))


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """A StrEnum stored by value as VARCHAR + CHECK on both backends (no native PG enum to migrate)."""
    return sa.Enum(
        enum,
        name=enum.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(m.value) for m in enum) + 8,
        values_callable=lambda e: [m.value for m in e],
    )


uuid_pk = Annotated[str, mapped_column(sa.String(36), primary_key=True, default=new_id)]
created_at_col = Annotated[datetime, mapped_column(UTCDateTime(), nullable=False, default=utcnow)]
updated_at_col = Annotated[
    datetime, mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)
]


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
        str: sa.String(255),
    }

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} {ident}>"


class Timestamped:
    created_at: Mapped[created_at_col]
    updated_at: Mapped[updated_at_col]
