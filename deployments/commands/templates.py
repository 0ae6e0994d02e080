"""`hopflow missions deploy SPEC` and `hopflow missions templates`: mission specs as deployments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from hopflow.deployments.commands.common import clear_errors, console, prefect_api_url, settings
from rich.markup import escape


def deploy(
    spec: Annotated[Path, typer.Argument(help="Mission spec (YAML or JSON).")],
    name: Annotated[str | None, typer.Option("--name", help="Template name (default: the spec's).")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Run on this cron schedule.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Time zone of --cron (UTC).")] = None,
    interval: Annotated[int | None, typer.Option("--interval", help="Run every this many seconds.")] = None,
) -> None:
    """Store SPEC as a mission template and register its deployment `mission-run/<name>`.

    Each run of the deployment (schedule, the UI's Run form, the API) creates a fresh mission from
    the template; the spec's inputs are the run's parameters. `hopflow serve` runs them.
    """
    from hopflow.models import migrations
    from hopflow.tasks.templates import store_template

    settings()
    with clear_errors():
        migrations.upgrade(None)
        view = store_template(spec, name=name, cron=cron, timezone=timezone, interval_seconds=interval)
    when = _when(view)
    console.print(
        f"stored mission template [bold]{escape(view.name)}[/] v{view.version} "
        f"(inputs: {escape(', '.join(view.inputs) or 'none')}); {escape(when)}",
        highlight=False,
    )
    if not prefect_api_url():
        console.print(
            f"PREFECT_API_URL is not set: `hopflow serve` registers {view.deployment} when it starts",
            markup=False,
        )
        return
    from hopflow.deployments.templates import apply_template_deployment

    with clear_errors():
        deployment_id = apply_template_deployment(view.name)
    console.print(
        f"registered deployment {view.deployment} ({deployment_id}); `hopflow serve` runs it", markup=False
    )


def templates() -> None:
    """Stored mission templates with their schedules, inputs and deployments."""
    from hopflow.tasks.templates import read_templates

    settings()
    with clear_errors():
        views = read_templates()
    if not views:
        console.print("no mission template: hopflow missions deploy SPEC [--cron ... --timezone ...]")
        return
    for v in views:
        console.print(
            f"{v.name}  v{v.version}  {_when(v)}  inputs: {', '.join(v.inputs) or 'none'}  "
            f"-> {v.deployment}  ({v.source or 'no source'})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _when(v: Any) -> str:
    if v.cron:
        return f"cron {v.cron} ({v.timezone})"
    return f"every {v.interval_seconds} s" if v.interval_seconds else "on demand"


def print_served_templates() -> None:
    """The mission templates `hopflow serve` serves, one line each."""
    from hopflow.tasks.templates import read_templates

    with clear_errors():
        views = read_templates()
    for v in views:
        when = (
            f"cron {v.cron} ({v.timezone})"
            if v.cron
            else f"every {v.interval_seconds} s"
            if v.interval_seconds
            else "API only"
        )
        console.print(f"  {v.deployment}: {when}", markup=False)


def register(missions_app: typer.Typer) -> None:
    """Add `deploy` and `templates` to the `hopflow missions` group."""
    missions_app.command("deploy")(deploy)
    missions_app.command("templates")(templates)
