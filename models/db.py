"""Engines and sessions from settings: built on first use, never at import; one unit of work per scope."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import weakref
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
# The (device, inode) of each SQLite file when first opened: a unit of work on a file that was
# deleted or replaced since would write into a ghost (the open connection keeps the old inode).
_sqlite_files: weakref.WeakKeyDictionary[Engine, tuple[int, int]] = weakref.WeakKeyDictionary()


class DatabaseUnavailable(RuntimeError):
    """hopflow's database is gone or unreachable; the message names it and says what happened."""


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


_LONG_DIGITS = re.compile(r"\d{19}")


def json_loads(value: Any) -> Any:
    """The other way; SQLite may hand back a JSON scalar already typed (a column's numeric affinity)."""
    if isinstance(value, int | float):
        return value
    text = (
        bytes(value).decode() if isinstance(value, bytes | bytearray | memoryview) else value
    )
    if _LONG_DIGITS.search(text):
        return json.loads(text)  # orjson reads integers past 64 bits as floats; json keeps them exact
    try:
        return orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return json.loads(value)


def create_db_engine(url: str) -> Engine:
    """A new engine for `url` (normalised: psycopg 3 for PostgreSQL, pragmas for SQLite)."""
    url = normalise_database_url(url)
    codec: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **codec)
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        engine = sa.create_engine(url, pool_size=5, max_overflow=10, **codec)
        _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out (the server
# may have restarted or dropped it meanwhile); one reused at once is not, which saves a round trip on
# each of a step's back-to-back units of work (pool_pre_ping pings every checkout).
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("checked_in", 0.0) <= IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            # The pool discards this connection and checks out another (a fresh one if need be).
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping")


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


def _sqlite_path(engine: Engine) -> str | None:
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return os.path.abspath(database)


def check_database_file(engine: Engine) -> None:
    """Refuse a unit of work on a SQLite file that was deleted or replaced since it was first opened."""
    path = _sqlite_path(engine)
    if path is None:
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if engine in _sqlite_files:
            raise DatabaseUnavailable(
                f"hopflow's SQLite database {path} was deleted while in use; nothing more is written to it"
            ) from None
        return  # not created yet: the first connection creates it
    identity = (st.st_dev, st.st_ino)
    known = _sqlite_files.setdefault(engine, identity)
    if known != identity:
        raise DatabaseUnavailable(
            f"hopflow's SQLite database {path} was replaced by another file while in use; "
            "nothing more is written to either"
        )


def describe_database(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {_sqlite_path(engine) or url.database}"
    return f"PostgreSQL database {url.database!r} on {url.host or 'localhost'}:{url.port or 5432}"


def _unavailable(engine: Engine, exc: sa.exc.DBAPIError) -> DatabaseUnavailable | None:
    """An error that means the database itself is gone or unreachable, as one clear error; else None."""
    if not isinstance(exc, sa.exc.OperationalError) and not exc.connection_invalidated:
        return None
    text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lowered = text.lower()
    signs = (
        "does not exist",
        "terminating connection",
        "connection refused",
        "server closed the connection",
        "connection is closed",
        "could not connect",
        "unable to open database",
        "disk i/o error",
    )
    if not exc.connection_invalidated and not any(sign in lowered for sign in signs):
        return None
    return DatabaseUnavailable(
        f"hopflow's {describe_database(engine)} is unavailable: {text} (check HOPFLOW_DATABASE_URL)"
    )


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises, always close.

    A database that is gone (a SQLite file deleted or replaced, a PostgreSQL database dropped or
    unreachable) raises one DatabaseUnavailable naming it, not the driver's traceback.
    """
    factory = get_session_factory(url)
    engine = factory.kw["bind"]
    check_database_file(engine)
    session = factory()
    try:
        yield session
        session.commit()
    except sa.exc.DBAPIError as exc:
        _rollback_quietly(session)
        gone = _unavailable(engine, exc)
        if gone is None:
            raise
        raise gone from None
    except BaseException:
        _rollback_quietly(session)
        raise
    finally:
        session.close()


@contextmanager
def statement_scope(url: str | None = None) -> Iterator[sa.Connection]:
    """A unit of work of Core statements on a bare connection (no Session, no ORM), for the hot
    path: commit if the block succeeds, roll back if it raises; DatabaseUnavailable as in
    session_scope.

    On PostgreSQL the connection is in autocommit, with no BEGIN and COMMIT around the block: each
    statement is its own transaction, one round trip instead of three. So a block that writes
    there writes in one statement, atomic by itself (models/access/step_runs.py). Elsewhere the
    block is one transaction.
    """
    engine = get_engine(url)
    check_database_file(engine)
    autocommit = engine.dialect.name == "postgresql"
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    try:
        with engine.connect().execution_options(**options) as conn:
            if autocommit:
                yield conn
            else:
                with conn.begin():
                    yield conn
    except sa.exc.DBAPIError as exc:
        gone = _unavailable(engine, exc)
        if gone is None:
            raise
        raise gone from None


def _rollback_quietly(session: Session) -> None:
    # The connection may have died with the database; closing the session discards it.
    with contextlib.suppress(sa.exc.DBAPIError):
        session.rollback()


def dispose_engines() -> None:
    """Close every cached engine (tests, and processes that fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()
        _sqlite_files.clear()
