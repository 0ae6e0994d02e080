"""`hopflow entities`: the humans and agents (seed 000's Agent) that plan tasks and faults are assigned to."""

from __future__ import annotations

from typing import Annotated

import typer
from hopflow.deployments.commands.common import clear_errors, console, settings
from hopflow.models.access.entities import create_entity, list_entities, parse_entity_type, read_entity
from hopflow.models.access.plans import tasks_assigned_to
from hopflow.models.db import session_scope

entities_app = typer.Typer(
    help="Entities: the humans and agents that tasks and faults are assigned to.", no_args_is_help=True
)


def out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@entities_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A unique name (tasks are assigned by it).")],
    type_: Annotated[str, typer.Option("--type", help="human or agent.")],
    specialty: Annotated[str | None, typer.Option(help="What it is good at, e.g. research.")] = None,
    contact: Annotated[str | None, typer.Option(help="How to reach it, e.g. an email address.")] = None,
) -> None:
    """Create a human or an agent (status active)."""
    settings()
    with clear_errors(), session_scope() as session:
        entity = create_entity(session, name=name, entity_type=type_, specialty=specialty, contact=contact)
        text = f"entity {entity.id} created ({entity.entity_type.value} {entity.name})"
    out(text)


@entities_app.command("list")
def list_(
    type_: Annotated[str | None, typer.Option("--type", help="Only humans or only agents.")] = None,
) -> None:
    """Entities by name."""
    settings()
    with clear_errors():
        kind = parse_entity_type(type_) if type_ is not None else None
        with session_scope() as session:
            rows = [
                (e.id[:8], e.entity_type.value, e.status.value, e.name, e.specialty or "-")
                for e in list_entities(session, entity_type=kind)
            ]
    if not rows:
        out("no entities")
    for ident, kind_text, status, name, specialty in rows:
        out(f"{ident}  {kind_text:<5}  {status:<8}  {name}  ({specialty})")


@entities_app.command("show")
def show(entity: Annotated[str, typer.Argument(help="Entity id, id prefix or name.")]) -> None:
    """An entity and the plan tasks assigned to it."""
    settings()
    with clear_errors(), session_scope() as session:
        row = read_entity(session, entity)
        lines = [
            f"entity     {row.name}  ({row.id})",
            f"type       {row.entity_type.value}",
            f"status     {row.status.value}",
            f"specialty  {row.specialty or '-'}",
            f"contact    {row.contact or '-'}",
            "tasks:",
        ]
        tasks = tasks_assigned_to(session, row)
        for task in tasks:
            plan = task.plan.title if task.plan is not None else "-"
            due = f" due {task.due_date.date().isoformat()}" if task.due_date else ""
            lines.append(f"  {task.status.value:<11} {task.title}  (plan {plan}){due}  {task.id[:8]}")
        if not tasks:
            lines.append("  none")
    out("\n".join(lines))
