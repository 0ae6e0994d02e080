"""Engines and sessions from settings: built on first use, never at import; one unit of work per scope."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from hopflow.models.settings import get_settings, normalise_database_url
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers (the CLI, the reconciler)
    # work while a flow writes; the busy timeout waits for a writer instead of failing.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def json_dumps(value: Any) -> str:
    """JSON columns through orjson (a 10,000-message consciousness is one value); json for what it refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def create_db_engine(url: str) -> Engine:
    """A new engine for `url` (normalised: psycopg 3 for PostgreSQL, pragmas for SQLite)."""
    url = normalise_database_url(url)
    codec: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **codec)
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, **codec)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The cached engine for `url`, or for HOPFLOW_DATABASE_URL."""
    key = normalise_database_url(url or get_settings().database_url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_db_engine(key)
            _factories[key] = factory = sessionmaker(bind=engine, expire_on_commit=False)
            install_session_hooks(factory)
        return engine


def install_session_hooks(factory: sessionmaker[Session]) -> None:
    """The knowledge layer's session hooks: the audit trail, and rows that follow others."""
    from hopflow.models.access import audit, following

    audit.install(factory)
    following.install(factory)


def get_session_factory(url: str | None = None) -> sessionmaker[Session]:
    key = normalise_database_url(url or get_settings().database_url)
    get_engine(key)
    return _factories[key]


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises, always close."""
    session = get_session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every cached engine (tests, and processes that fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()
