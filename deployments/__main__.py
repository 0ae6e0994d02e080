"""`hopflow` (the console script) and `python -m hopflow.deployments`: start the CLI, imported on call.

This module is the main module of `hopflow serve`, and Prefect's runner starts every served run in a
fresh interpreter (multiprocessing spawn) that first re-runs the parent's main module. So it imports
nothing at module level: a run does not build the whole CLI (typer, every command module) before it can
go RUNNING. Under `python -m hopflow.deployments`, spawn skips the main module altogether.
"""

from __future__ import annotations


def main() -> None:
    from hopflow.deployments.cli import run

    run()


if __name__ == "__main__":
    main()
