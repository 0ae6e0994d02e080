"""`hopflow faults` and `hopflow reflections`: defects found while working, and what missions taught."""

from __future__ import annotations

from typing import Annotated

import typer
from hopflow.deployments.commands.common import clear_errors, console, settings
from hopflow.models.access.faults import assign_fault, fix_fault, list_faults, read_fault
from hopflow.models.access.reflections import list_reflections, read_reflection
from hopflow.models.access.tags import read_tags, read_tags_of
from hopflow.models.db import session_scope
from hopflow.models.enums import FaultSeverity, FaultStatus

faults_app = typer.Typer(help="Faults: open -> fixed, with severity and assignee.", no_args_is_help=True)
reflections_app = typer.Typer(
    help="Reflections written after missions (HOPFLOW_REFLECT).", no_args_is_help=True
)


def out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@faults_app.command("list")
def list_(
    status: Annotated[FaultStatus | None, typer.Option(help="open or fixed.")] = None,
    severity: Annotated[FaultSeverity | None, typer.Option()] = None,
    mission: Annotated[str | None, typer.Option(help="Only this mission's (id).")] = None,
) -> None:
    """Faults, newest first."""
    settings()
    with clear_errors(), session_scope() as session:
        rows = [
            (f.id[:8], f.status.value, f.severity.value, f.description)
            for f in list_faults(session, status=status, severity=severity, mission_id=mission)
        ]
    if not rows:
        out("no faults")
    for ident, st, sev, text in rows:
        out(f"{ident}  {st:<5}  {sev:<8}  {text[:140]}")


@faults_app.command("assign")
def assign(
    fault: Annotated[str, typer.Argument(help="Fault id or id prefix.")],
    entity: Annotated[str, typer.Argument(help="Entity (human or agent) id or name.")],
) -> None:
    """Give a fault to someone."""
    settings()
    with clear_errors(), session_scope() as session:
        row = read_fault(session, fault)
        who = assign_fault(session, row, entity)
        text = f"fault {row.id} assigned to {who.name}"
    out(text)


@faults_app.command("fix")
def fix(
    fault: Annotated[str, typer.Argument(help="Fault id or id prefix.")],
    note: Annotated[str, typer.Option(help="What fixed it.")],
) -> None:
    """Mark a fault fixed, with a note."""
    settings()
    with clear_errors(), session_scope() as session:
        row = read_fault(session, fault)
        fix_fault(session, row, note)
        fault_id = row.id
    out(f"fault {fault_id} fixed")


@reflections_app.command("list")
def reflections_list(
    mission: Annotated[str | None, typer.Option(help="Only this mission's (id).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat for more).")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """Reflections, newest first."""
    settings()
    with clear_errors(), session_scope() as session:
        found = list_reflections(session, mission_id=mission, tags=tag, limit=limit)
        tags = read_tags_of(session, "reflections", [r.id for r in found])
        rows = [(r.id[:8], r.mood or "-", r.summary or r.title, tags.get(r.id, [])) for r in found]
    if not rows:
        out("no reflections")
    for ident, mood, summary, names in rows:
        out(f"{ident}  {mood:<10}  {summary[:140]}  [{', '.join(names)}]")


@reflections_app.command("show")
def reflections_show(reflection: Annotated[str, typer.Argument(help="Reflection id or id prefix.")]) -> None:
    """One reflection in full."""
    settings()
    with clear_errors(), session_scope() as session:
        r = read_reflection(session, reflection)
        lines = [
            f"reflection  {r.title}  ({r.id})",
            f"mission     {r.mission_id or '-'}",
            f"mood        {r.mood or '-'}   important {r.important}",
            f"tags        {', '.join(read_tags(session, 'reflections', r.id)) or '-'}",
            f"memories    {', '.join(m.id[:8] for m in r.related_memories) or '-'}",
            f"summary     {r.summary or '-'}",
            "",
            r.raw_summary or "",
        ]
        if r.llm_summary:
            lines += ["", "llm summary:", r.llm_summary]
    out("\n".join(lines))
