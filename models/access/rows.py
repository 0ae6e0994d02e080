"""Reading one row that must exist: a clear LookupError naming the table and id when it does not
(what an `assert` would say nothing of, and what `python -O` would strip)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


def require(session: Session, model: type[T], row_id: Any, *, lock: bool = False) -> T:
    """The row of `model` with this primary key; `lock` takes it FOR UPDATE (PostgreSQL)."""
    row = session.get(model, row_id, with_for_update=lock or None)
    if row is None:
        table = getattr(model, "__tablename__", model.__name__)
        raise LookupError(f"no {table} row with id {row_id!r}")
    return row
