"""`hopflow plans`: projects' plans and their tasks, and `plans run`: open tasks as one mission's hops."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from hopflow.deployments.commands.common import clear_errors, console, quiet_prefect_console, settings
from hopflow.models.access.entities import entity_names
from hopflow.models.access.plans import (
    PlanInputError,
    add_plan_task,
    create_plan,
    create_project,
    list_plans,
    ordered_tasks,
    read_plan,
    read_plan_task,
    set_plan_status,
    set_task_status,
)
from hopflow.models.access.tags import read_tags
from hopflow.models.db import session_scope
from hopflow.models.enums import PlanStatus, PlanTaskStatus

plans_app = typer.Typer(
    help="Plans and plan tasks (seed 000); `plans run` runs a plan.", no_args_is_help=True
)
MAX_STEPS_FILE = 1024 * 1024

TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat for more).")]


def out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def read_steps_file(path: Path) -> dict[str, Any]:
    """A task's hop (YAML or JSON): a mapping with `steps:`, or a bare list of steps. Bounded in size."""
    if not path.is_file():
        raise FileNotFoundError(f"steps file {path}: no such file")
    if path.stat().st_size > MAX_STEPS_FILE:
        raise PlanInputError(f"steps file {path}: larger than {MAX_STEPS_FILE} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlanInputError(f"steps file {path}: not YAML or JSON ({exc})") from None
    if isinstance(data, list):
        data = {"steps": data}
    if not isinstance(data, dict):
        raise PlanInputError(f"steps file {path}: a mapping with `steps:` or a list of steps")
    return data


@plans_app.command("create")
def create(
    title: Annotated[str, typer.Argument(help="The plan's title.")],
    description: Annotated[str | None, typer.Option(help="What the plan is for.")] = None,
    project: Annotated[str | None, typer.Option(help="Project name or id (created if new).")] = None,
    memory: Annotated[str | None, typer.Option(help="Seed memory id.")] = None,
    tag: TagOpt = None,
) -> None:
    """Create a plan (status draft)."""
    settings()
    with clear_errors(), session_scope() as session:
        if project is not None:
            try:
                from hopflow.models.access.plans import read_project

                read_project(session, project)
            except LookupError:
                create_project(session, name=project)
        plan = create_plan(
            session, title=title, description=description, project=project, memory_context_id=memory, tags=tag
        )
        plan_id = plan.id
    out(f"plan {plan_id} created (draft)")


@plans_app.command("add-task")
def add_task(
    plan: Annotated[str, typer.Argument(help="Plan id, id prefix or title.")],
    title: Annotated[str, typer.Argument(help="The task's title (its hop's name when the plan runs).")],
    steps: Annotated[
        Path | None, typer.Option(help="YAML/JSON: the hop this task runs (mission spec format).")
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[int, typer.Option(help="Higher first among tasks of the same order.")] = 0,
    effort: Annotated[str | None, typer.Option(help="Estimated effort, e.g. 2h.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Entity (human or agent) id or name.")] = None,
    due: Annotated[str | None, typer.Option(help="Due date, ISO 8601 (UTC when no offset).")] = None,
    order: Annotated[
        int | None, typer.Option(help="Position among the plan's tasks (default: last).")
    ] = None,
) -> None:
    """Add a task to a plan."""
    settings()
    with clear_errors():
        hop = read_steps_file(steps) if steps is not None else None
        due_date = None
        if due is not None:
            try:
                parsed = datetime.fromisoformat(due)
            except ValueError:
                raise PlanInputError(f"--due {due!r}: not an ISO 8601 date") from None
            due_date = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        with session_scope() as session:
            row = read_plan(session, plan)
            task = add_plan_task(
                session,
                row,
                title=title,
                description=description,
                hop=hop,
                priority=priority,
                estimated_effort=effort,
                assignee=assignee,
                due_date=due_date,
                sort_order=order,
            )
            task_id, version = task.id, row.version
    out(f"task {task_id} added (plan version {version})")


@plans_app.command("show")
def show(plan: Annotated[str, typer.Argument(help="Plan id, id prefix or title.")]) -> None:
    """A plan with its tasks in order."""
    settings()
    with clear_errors(), session_scope() as session:
        row = read_plan(session, plan)
        tags = read_tags(session, "plans", row.id)
        lines = [
            f"plan     {row.title}  ({row.id})",
            f"status   {row.status.value}   version {row.version}",
            f"tags     {', '.join(tags) or '-'}",
        ]
        if row.description:
            lines.append(f"about    {row.description}")
        lines.append("tasks:")
        tasks = ordered_tasks(session, row)
        names = entity_names(session, [t.assigned_to_entity_id for t in tasks])
        for i, task in enumerate(tasks, start=1):
            steps = len((task.hop_spec or {}).get("steps", []))
            extra = f" due {task.due_date.date().isoformat()}" if task.due_date else ""
            if task.assigned_to_entity_id in names:
                extra += f" -> {names[task.assigned_to_entity_id]}"
            lines.append(
                f"  {i}. {task.status.value:<11} {task.title}  [{steps} step(s), priority {task.priority}]"
                f"{extra}  {task.id[:8]}"
            )
    out("\n".join(lines))


@plans_app.command("list")
def list_(
    status: Annotated[PlanStatus | None, typer.Option(help="Only plans in this status.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's plans.")] = None,
    tag: TagOpt = None,
) -> None:
    """Plans, newest first."""
    settings()
    with clear_errors(), session_scope() as session:
        rows = [
            (p.id[:8], p.status.value, p.version, len(p.tasks), p.title)
            for p in list_plans(session, status=status, project=project, tags=tag)
        ]
    if not rows:
        out("no plans")
    for ident, st, version, n, title in rows:
        out(f"{ident}  {st:<9}  v{version:<3}  {n} task(s)  {title}")


@plans_app.command("status")
def status(
    plan: Annotated[str, typer.Argument(help="Plan id, id prefix or title.")],
    new_status: Annotated[str, typer.Argument(metavar="STATUS", help="New status of the plan, or of TASK.")],
    task: Annotated[
        str | None, typer.Option(help="A task (id, prefix, position or title) instead of the plan.")
    ] = None,
) -> None:
    """Move a plan (draft, active, completed, archived) or a task (open, in_progress, completed, blocked)."""
    settings()
    with clear_errors(), session_scope() as session:
        row = read_plan(session, plan)
        if task is None:
            set_plan_status(session, row, _enum(PlanStatus, new_status))
        else:
            set_task_status(session, read_plan_task(session, row, task), _enum(PlanTaskStatus, new_status))
    out(f"{task or plan}: {new_status}")


def _enum(kind: Any, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise PlanInputError(f"status {value!r}: use one of {', '.join(s.value for s in kind)}") from None


@plans_app.command("run")
def run(
    plan: Annotated[str, typer.Argument(help="Plan id, id prefix or title.")],
    verbose: Annotated[bool, typer.Option("--verbose", help="Show Prefect's log lines.")] = False,
) -> None:
    """Run a plan's open tasks as the hops of one mission; each task's status follows its hop."""
    from hopflow.flows.mission import run_mission
    from hopflow.tasks.knowledge.plans import prepare_plan_run

    settings()
    with clear_errors():
        started = prepare_plan_run(plan)
    out(f"plan {started.plan_id}: {len(started.task_ids)} open task(s) -> mission {started.mission_id}")
    failed: BaseException | None = None
    with quiet_prefect_console(verbose):
        try:
            run_mission(started.mission_id)
        except Exception as exc:
            failed = exc
    with session_scope() as session:
        row = read_plan(session, started.plan_id)
        out(f"plan {row.title}: {row.status.value}")
        for task in ordered_tasks(session, row):
            if task.id in started.task_ids:
                out(f"  {task.status.value:<11} {task.title}")
    if failed is not None:
        console.print(f"error: {type(failed).__name__}: {failed}", markup=False, highlight=False)
        raise typer.Exit(1)
