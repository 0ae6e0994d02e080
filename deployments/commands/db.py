"""`hopflow db`: migrate the configured database and say where it stands."""

from __future__ import annotations

import typer
from hopflow.deployments.commands.common import clear_errors, console, settings
from hopflow.models import migrations
from sqlalchemy.engine import make_url

app = typer.Typer(help="Migrate hopflow's database (HOPFLOW_DATABASE_URL).", no_args_is_help=True)


def _where() -> str:
    return make_url(settings().database_url).render_as_string(hide_password=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    with clear_errors():
        rev = migrations.upgrade(None, revision)
    console.print(f"{_where()}: at revision {rev}")


# `-1` is a relative revision, not an option: let it through as the argument.
@app.command(context_settings={"ignore_unknown_options": True})
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base.")) -> None:
    """Revert migrations down to REVISION."""
    with clear_errors():
        rev = migrations.downgrade(None, revision)
    console.print(f"{_where()}: at revision {rev or 'base (empty)'}")


@app.command()
def current() -> None:
    """Print the database's revision and the newest this hopflow knows."""
    with clear_errors():
        rev = migrations.current_revision(None)
    head = migrations.head_revision()
    state = "up to date" if rev == head else ("not migrated" if rev is None else "behind")
    console.print(f"{_where()}: revision {rev or '-'} (newest {head}, {state})")
