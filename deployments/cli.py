"""The Typer app behind the `hopflow` console script."""

from __future__ import annotations

import typer

from deployments.commands import db

app = typer.Typer(
    name="hopflow",
    help="Run AI-agent missions as Prefect flows, mirrored into a relational model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")


@app.command()
def status() -> None:
    """Show the configuration and the database's migration state."""
    from deployments.commands.common import console, settings

    cfg = settings()
    console.print(
        f"database      {cfg.database_url.split('@')[-1] if '@' in cfg.database_url else cfg.database_url}"
    )
    console.print(f"logs          {cfg.logs}")
    console.print(f"uploads       {cfg.uploads}")
    console.print(f"data          {cfg.data}")
    console.print(f"prompt store  {cfg.prompt_storage.value}")
    db.current()


@app.command()
def demo() -> None:
    """Set up the embedded default (SQLite) and show where hopflow stands."""
    from deployments.commands.common import clear_errors
    from models import migrations

    with clear_errors():
        migrations.upgrade(None)
    status()


if __name__ == "__main__":
    app()
