"""Fixtures shared by every test: a clean database per test on SQLite and on a real PostgreSQL.

PostgreSQL tests run wherever one is reachable at HOPFLOW_TEST_POSTGRES_URL (default: this
machine's 127.0.0.1:5432, database test, trust auth). With CI=true or HOPFLOW_REQUIRE_POSTGRES=1
an unreachable PostgreSQL fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

# The fake OpenAI-compatible server's fixture, for any test that needs an LLM over HTTP.
pytest_plugins = ["tests.fakes"]

PG_URL = os.environ.get("HOPFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CI", "").lower() == "true" or os.environ.get("HOPFLOW_REQUIRE_POSTGRES") == "1"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@lru_cache(maxsize=1)
def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}: {exc}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Million-row checks (marker `million`) run in CI and on request (HOPFLOW_TEST_MILLION=1)."""
    if os.environ.get("CI", "").lower() == "true" or os.environ.get("HOPFLOW_TEST_MILLION") == "1":
        return
    if "million" in (config.getoption("markexpr", "") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("million") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("million")])
        items[:] = kept


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if REQUIRE_PG:
        pytest.fail(problem + " (CI=true requires the PostgreSQL tests to run)")
    pytest.skip(problem)


def pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated with Alembic, copied for every test that wants a migrated SQLite."""
    from hopflow.models import migrations

    path = tmp_path_factory.mktemp("template") / "hopflow.db"
    migrations.upgrade(f"sqlite:///{path}")
    _dispose(f"sqlite:///{path}")
    return path


def _dispose(url: str) -> None:
    from hopflow.models.db import _engines
    from hopflow.models.settings import normalise_database_url

    engine = _engines.pop(normalise_database_url(url), None)
    if engine is not None:
        engine.dispose()


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) on the backend of the test's parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'hopflow.db'}"
        yield url
        _dispose(url)
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = pg_schema_url(schema)
    try:
        yield url
    finally:
        _dispose(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        admin.dispose()


def _pg_database_url(database: str) -> str:
    return sa.engine.make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One PostgreSQL database migrated with Alembic per session; each test gets a copy of it.

    CREATE DATABASE ... TEMPLATE copies it in ~50 ms, where migrating a fresh schema took 1-3 s a test.
    """
    require_postgres()
    name = f"hopflow_tmpl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = _pg_database_url(name)
    from hopflow.models import migrations

    try:
        migrations.upgrade(url)
        _dispose(url)  # a template must have no open connections
        yield name
    finally:
        _dispose(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty hopflow database: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "hopflow.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        yield url
        _dispose(url)
        return
    require_postgres()
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}" template "{template}"'))
    url = _pg_database_url(name)
    try:
        yield url
    finally:
        _dispose(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    from hopflow.models.db import get_session_factory

    s = get_session_factory(db_url)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def hopflow_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point hopflow's settings (and so every task and flow in this process) at the test database."""
    from hopflow.models.settings import reset_settings

    monkeypatch.setenv("HOPFLOW_DATABASE_URL", db_url)
    for name in ("logs", "uploads", "data"):
        (tmp_path / name).mkdir(exist_ok=True)
        monkeypatch.setenv(f"HOPFLOW_{name.upper()}", str(tmp_path / name))
    monkeypatch.chdir(tmp_path)
    reset_settings()
    yield db_url
    reset_settings()
