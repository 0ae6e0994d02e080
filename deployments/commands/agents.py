"""`hopflow agents ...`, `hopflow serve`, `hopflow deploy`, `hopflow trigger`, `hopflow webhooks`."""

from __future__ import annotations

import typer

agents_app = typer.Typer(help="Agent blueprints and their configurations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the top-level agent commands (serve, deploy, trigger, webhooks) to the main app."""
