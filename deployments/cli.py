"""The Typer app behind the `hopflow` console script."""

from __future__ import annotations

import os

# Before anything imports prefect: the first ephemeral API start on a new machine takes 17-21 s,
# past Prefect's 20 s default (PREFECT_NOTES.md trap 1); and no analytics from a CLI.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer
from hopflow.deployments.commands import (
    agents,
    containers,
    db,
    knowledge,
    living,
    mcp,
    missions,
    runs,
    templates,
    webhooks,
)
from hopflow.deployments.commands.common import console, settings

app = typer.Typer(
    name="hopflow",
    help="Run AI-agent missions as Prefect flows, mirrored into a relational model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(missions.missions_app, name="missions")
app.add_typer(missions.assets_app, name="assets")
app.add_typer(agents.agents_app, name="agents")
app.add_typer(runs.runs_app, name="runs")
app.add_typer(runs.directives_app, name="directives")
app.command()(missions.run)
app.command()(missions.demo)
# Top-level agent commands (serve, deploy, trigger, webhooks) register themselves on `app` here.
agents.register(app)
living.register(app)  # `hopflow living ...`, `hopflow inbox ...`
knowledge.register(app)
containers.register(app, agents.agents_app)
app.command("mcp")(mcp.mcp)
app.command("webhook-secret")(webhooks.webhook_secret)
templates.register(missions.missions_app)


@app.command()
def status() -> None:
    """Show the configuration and the database's migration state."""
    from sqlalchemy.engine import make_url

    cfg = settings()
    console.print(f"database      {make_url(cfg.database_url).render_as_string(hide_password=True)}")
    console.print(f"logs          {cfg.logs}")
    console.print(f"uploads       {cfg.uploads}")
    console.print(f"data          {cfg.data}")
    console.print(f"prompt store  {cfg.prompt_storage.value}")
    db.current()


if __name__ == "__main__":
    app()
