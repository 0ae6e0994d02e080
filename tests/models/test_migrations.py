"""Alembic and the ORM agree, migrations go up and down, and bad databases get clear errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hopflow.models import migrations
from hopflow.models.db import get_engine
from hopflow.models.orm import Base
from hopflow.models.settings import SettingsError, normalise_database_url

from tests.conftest import BACKENDS


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_autogenerate_finds_no_difference_between_migrations_and_orm(empty_db_url: str) -> None:
    migrations.upgrade(empty_db_url)
    with get_engine(empty_db_url).connect() as conn:
        opts = {"compare_type": True, "include_object": migrations.include_object}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_upgrade_downgrade_to_base_upgrade_again(empty_db_url: str) -> None:
    assert migrations.upgrade(empty_db_url) == migrations.head_revision()
    engine = get_engine(empty_db_url)
    assert "assets" in sa.inspect(engine).get_table_names()
    assert migrations.downgrade(empty_db_url, "base") is None
    left = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    assert left == set()
    assert migrations.upgrade(empty_db_url) == migrations.head_revision()
    assert set(Base.metadata.tables) <= set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_database_of_a_newer_revision_is_refused_and_left_as_it_was(empty_db_url: str) -> None:
    migrations.upgrade(empty_db_url)
    engine = get_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = 'ffff_from_the_future'"))
    tables_before = set(sa.inspect(engine).get_table_names())
    with pytest.raises(migrations.MigrationError, match=r"ffff_from_the_future.*newer hopflow"):
        migrations.upgrade(empty_db_url)
    with pytest.raises(migrations.MigrationError, match="newer hopflow"):
        migrations.downgrade(empty_db_url, "base")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar_one() == (
            "ffff_from_the_future"
        )
    assert set(sa.inspect(engine).get_table_names()) == tables_before


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "cannot parse"),
        ("mysql://root@localhost/db", "backend 'mysql' is not supported"),
        ("postgresql+asyncpg://u@h/db", "driver 'asyncpg' is not supported"),
        ("postgresql://u@h", "names no database"),
    ],
)
def test_malformed_database_url_names_the_variable_and_the_problem(url: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match="HOPFLOW_DATABASE_URL") as info:
        normalise_database_url(url)
    assert fragment in str(info.value)


def test_postgresql_urls_are_pinned_to_psycopg_3() -> None:
    assert normalise_database_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_database_url("postgres://u@h/db").startswith("postgresql+psycopg://")
