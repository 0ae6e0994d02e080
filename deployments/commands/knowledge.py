"""The knowledge layer's commands (seed 000), registered on the `hopflow` app in one call."""

from __future__ import annotations

import typer
from hopflow.deployments.commands import audit, entities, faults, memory, plans


def register(app: typer.Typer) -> None:
    app.add_typer(memory.memory_app, name="memory")
    app.add_typer(plans.plans_app, name="plans")
    app.add_typer(entities.entities_app, name="entities")
    app.add_typer(faults.faults_app, name="faults")
    app.add_typer(faults.reflections_app, name="reflections")
    app.command()(audit.audit)
    app.command()(audit.thoughts)
    app.command()(audit.prune)
