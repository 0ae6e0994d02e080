"""The Typer app behind the `hopflow` console script."""

from __future__ import annotations

import os
import sys

# Before anything imports prefect: the first start of Prefect's ephemeral API on a new 2-core machine
# takes 17-21 s, past Prefect's 20 s default time-out; and no analytics from a CLI.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Long-running commands whose Prefect lines are their log; every other command keeps Prefect's INFO
# lines ("Stopping temporary server ...", a flow's "Finished in state ...") off the terminal unless
# --verbose is given. The lines still reach the Prefect API: only the console handler is quieted.
LOUD_COMMANDS = {"serve", "webhooks", "deploy"}


def _quiet_prefect_by_default(argv: list[str]) -> None:
    words = [a for a in argv[1:] if not a.startswith("-")]
    if "--verbose" in argv or "-v" in argv or (words and words[0] in LOUD_COMMANDS):
        os.environ["HOPFLOW_VERBOSE"] = "1"
        return
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")


import typer  # noqa: E402
from hopflow.deployments.commands import (  # noqa: E402
    agents,
    containers,
    db,
    help,
    knowledge,
    living,
    mcp,
    missions,
    runs,
    templates,
    webhooks,
)
from hopflow.deployments.commands.common import cell, console, settings  # noqa: E402

help.install()

app = typer.Typer(
    name="hopflow",
    help="Run AI-agent missions as Prefect flows, mirrored into a relational model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"hopflow {version('hopflow')}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print hopflow's version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also print Prefect's own log lines (any command)."
    ),
) -> None:
    """Run AI-agent missions as Prefect flows, mirrored into a relational model."""
    if verbose:
        os.environ["HOPFLOW_VERBOSE"] = "1"


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
    console.print(cell(f"database      {make_url(cfg.database_url).render_as_string(hide_password=True)}"))
    console.print(cell(f"logs          {cfg.logs}"))
    console.print(cell(f"uploads       {cfg.uploads}"))
    console.print(cell(f"data          {cfg.data}"))
    console.print(cell(f"prompt store  {cfg.prompt_storage.value}"))
    db.current()


def run() -> None:
    """The console script's and `python -m hopflow.deployments`' entry (deployments/__main__.py).
    Importing this module does not import prefect, so the quieting still comes first."""
    _quiet_prefect_by_default(sys.argv)
    app()


if __name__ == "__main__":
    run()
