"""`hopflow runs ...` and `hopflow directives ...`: the mirrored run log."""

from __future__ import annotations

import typer

runs_app = typer.Typer(help="The run log mirrored from Prefect.", no_args_is_help=True)
directives_app = typer.Typer(help="Versioned directives of agent configurations.", no_args_is_help=True)
