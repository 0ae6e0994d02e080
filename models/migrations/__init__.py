"""Schema migrations (Alembic is the only source of schema changes) and the calls behind `hopflow db`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hopflow.models.settings import get_settings, normalise_database_url

# Alembic is imported where it is used: the CLI imports this module for MigrationError, and a run
# served by `hopflow serve` re-imports the CLI in its fresh interpreter (multiprocessing spawn).
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


class MigrationError(RuntimeError):
    """The database cannot be migrated as asked; the message says why and what to do."""


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would eat '%' in passwords.
    cfg.set_main_option(
        "sqlalchemy.url", normalise_database_url(url or get_settings().database_url).replace("%", "%%")
    )
    return cfg


# Full-text search objects live outside the ORM (a PostgreSQL expression index, an SQLite FTS5
# table and its shadow tables): comparisons of ORM and database leave them out.
FULL_TEXT_PREFIXES = ("memory_contexts_fts", "ix_memory_contexts_fts")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's include_object hook: everything but the full-text search objects."""
    return not (name or "").startswith(FULL_TEXT_PREFIXES)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("hopflow's migrations have no head revision")
    return head


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from hopflow.models.db import get_engine

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _check_known(url: str | None) -> None:
    from alembic.script import ScriptDirectory

    rev = current_revision(url)
    if rev is None:
        return
    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        script.get_revision(rev)
    except Exception as exc:  # alembic raises several kinds for an unknown id
        raise MigrationError(
            f"database {_display(url)} is at revision {rev!r}, which this hopflow does not know "
            f"(its newest is {head_revision()!r}): the database was migrated by a newer hopflow; "
            "upgrade hopflow instead of migrating"
        ) from exc


def _display(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    return make_url(normalise_database_url(url or get_settings().database_url)).render_as_string(
        hide_password=True
    )


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate up to `revision`; returns the revision the database is at afterwards."""
    from alembic import command
    from alembic.util.exc import CommandError

    _check_known(url)
    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(f"cannot upgrade {_display(url)} to {revision!r}: {exc}") from exc
    return current_revision(url)


def downgrade(url: str | None = None, revision: str = "-1") -> str | None:
    from alembic import command
    from alembic.util.exc import CommandError

    _check_known(url)
    try:
        command.downgrade(alembic_config(url), revision)
    except CommandError as exc:
        raise MigrationError(f"cannot downgrade {_display(url)} to {revision!r}: {exc}") from exc
    return current_revision(url)
