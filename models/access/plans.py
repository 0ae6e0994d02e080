"""Projects, plans and plan tasks (seed 000): create, read, change (every change bumps the plan's
version and records who), and their status machines, always through status.transition."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hopflow.models.access.entities import read_entity
from hopflow.models.access.status import transition
from hopflow.models.access.tags import ids_tagged, normalise_tags, set_tags
from hopflow.models.enums import PlanStatus, PlanTaskStatus
from hopflow.models.orm.identity import Entity
from hopflow.models.orm.knowledge import MemoryContext, Plan, PlanTask, Project
from hopflow.models.schemas.specs import HopSpec
from pydantic import ValidationError
from sqlalchemy.orm import Session

MAX_TITLE = 255


class PlanInputError(ValueError):
    """A plan, task or project hopflow refuses; the message names the field."""


class PlanNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no plan with id, id prefix or title {ref!r}")


class PlanTaskNotFound(LookupError):
    def __init__(self, plan: Plan, ref: str) -> None:
        super().__init__(f"plan {plan.title!r} has no task with id, id prefix, position or title {ref!r}")


def _title(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_TITLE:
        raise PlanInputError(f"{what}: 1-{MAX_TITLE} characters")
    return value


def _by_ref(session: Session, model: type[Any], ref: str, title_attr: Any) -> Any | None:
    found = session.get(model, ref)
    if found is not None:
        return found
    rows = list(session.scalars(sa.select(model).where(title_attr == ref).limit(2)))
    if len(rows) == 1:
        return rows[0]
    if len(ref) >= 4 and not rows:
        rows = list(session.scalars(sa.select(model).where(model.id.startswith(ref)).limit(2)))
        if len(rows) == 1:
            return rows[0]
    return None


# --- projects --------------------------------------------------------------------------------------
def create_project(
    session: Session, *, name: str, description: str | None = None, user_id: int | None = None
) -> Project:
    name = _title(name, "project name")
    if session.scalar(sa.select(Project.id).where(Project.name == name)) is not None:
        raise PlanInputError(f"project name: {name!r} is taken")
    project = Project(name=name, description=description, created_by_user_id=user_id)
    session.add(project)
    session.flush()
    return project


def read_project(session: Session, ref: str) -> Project:
    project: Project | None = _by_ref(session, Project, ref, Project.name)
    if project is None:
        raise LookupError(f"no project with id or name {ref!r}")
    return project


# --- plans -----------------------------------------------------------------------------------------
def touch_plan(plan: Plan, user_id: int | None) -> None:
    """Every change of a plan or of its tasks: a new version, and who made it."""
    plan.version = (plan.version or 1) + 1
    plan.updated_by_user_id = user_id


def create_plan(
    session: Session,
    *,
    title: str,
    description: str | None = None,
    project: str | None = None,
    memory_context_id: str | None = None,
    user_id: int | None = None,
    tags: Iterable[str] | None = None,
) -> Plan:
    title = _title(title, "plan title")
    names = normalise_tags(tags)
    project_row = read_project(session, project) if project else None
    if memory_context_id is not None and session.get(MemoryContext, memory_context_id) is None:
        raise PlanInputError(f"seed memory: no memory with id {memory_context_id!r}")
    plan = Plan(
        title=title,
        description=description,
        project_id=project_row.id if project_row else None,
        memory_context_id=memory_context_id,
        created_by_user_id=user_id,
        updated_by_user_id=user_id,
    )
    session.add(plan)
    session.flush()
    set_tags(session, "plans", plan.id, names)
    return plan


def read_plan(session: Session, ref: str) -> Plan:
    """A plan by id, exact title (when unique) or id prefix (4+ characters)."""
    plan: Plan | None = _by_ref(session, Plan, ref, Plan.title)
    if plan is None:
        raise PlanNotFound(ref)
    return plan


def list_plans(
    session: Session,
    *,
    status: PlanStatus | str | None = None,
    project: str | None = None,
    tags: Iterable[str] | None = None,
    limit: int = 100,
) -> list[Plan]:
    query = sa.select(Plan)
    if status is not None:
        query = query.where(Plan.status == PlanStatus(status))
    if project is not None:
        query = query.where(Plan.project_id == read_project(session, project).id)
    names = normalise_tags(tags)
    if names:
        query = query.where(Plan.id.in_(ids_tagged("plans", names)))
    return list(session.scalars(query.order_by(Plan.created_at.desc()).limit(limit)))


def set_plan_status(
    session: Session, plan: Plan, status: PlanStatus, *, user_id: int | None = None, reason: str | None = None
) -> None:
    if transition(session, plan, status, reason=reason) is not None:
        touch_plan(plan, user_id)


# --- plan tasks ------------------------------------------------------------------------------------
def check_task_hop(title: str, hop: dict[str, Any] | None) -> dict[str, Any] | None:
    """A task's hop in the mission spec format (steps, goal, ...); the hop's name is the task's title."""
    if hop is None:
        return None
    if not isinstance(hop, dict):
        raise PlanInputError("task steps: a mapping with `steps:` (a hop in the mission spec format)")
    data = {"name": title, **hop}
    try:
        HopSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "hop"
        raise PlanInputError(f"task {title!r} hop.{where}: {first['msg']}") from None
    return data


def add_plan_task(
    session: Session,
    plan: Plan,
    *,
    title: str,
    description: str | None = None,
    hop: dict[str, Any] | None = None,
    priority: int = 0,
    estimated_effort: str | None = None,
    assignee: str | None = None,
    due_date: datetime | None = None,
    sort_order: int | None = None,
    user_id: int | None = None,
) -> PlanTask:
    title = _title(title, "task title")
    if plan.status == PlanStatus.ARCHIVED:
        raise PlanInputError(f"plan {plan.title!r} is archived: it takes no new task")
    hop_spec = check_task_hop(title, hop)
    entity = read_entity(session, assignee) if assignee else None
    if sort_order is None:
        current = session.scalar(
            sa.select(sa.func.max(PlanTask.sort_order)).where(PlanTask.plan_id == plan.id)
        )
        sort_order = (current or 0) + 1
    task = PlanTask(
        title=title,
        description=description,
        plan_id=plan.id,
        project_id=plan.project_id,
        assigned_to_entity_id=entity.id if entity else None,
        priority=priority,
        estimated_effort=estimated_effort,
        sort_order=sort_order,
        due_date=due_date,
        hop_spec=hop_spec,
    )
    session.add(task)
    if plan.status == PlanStatus.COMPLETED:
        set_plan_status(session, plan, PlanStatus.ACTIVE, user_id=user_id, reason="a task was added")
    touch_plan(plan, user_id)
    session.flush()
    session.refresh(plan, ["tasks"])
    return task


def ordered_tasks(session: Session, plan: Plan) -> list[PlanTask]:
    return list(
        session.scalars(
            sa.select(PlanTask)
            .where(PlanTask.plan_id == plan.id)
            .order_by(PlanTask.sort_order, PlanTask.priority.desc(), PlanTask.created_at)
        )
    )


def open_tasks(session: Session, plan: Plan) -> list[PlanTask]:
    return [t for t in ordered_tasks(session, plan) if t.status == PlanTaskStatus.OPEN]


def read_plan_task(session: Session, plan: Plan, ref: str) -> PlanTask:
    """A task of `plan` by id, id prefix, 1-based position or title."""
    tasks = ordered_tasks(session, plan)
    if ref.isdigit() and 1 <= int(ref) <= len(tasks):
        return tasks[int(ref) - 1]
    matches = [t for t in tasks if t.id == ref or t.title == ref] or (
        [t for t in tasks if t.id.startswith(ref)] if len(ref) >= 4 else []
    )
    if len(matches) != 1:
        raise PlanTaskNotFound(plan, ref)
    return matches[0]


def set_task_status(
    session: Session,
    task: PlanTask,
    status: PlanTaskStatus,
    *,
    user_id: int | None = None,
    reason: str | None = None,
) -> None:
    if transition(session, task, status, reason=reason) is not None and task.plan is not None:
        touch_plan(task.plan, user_id)


def assign_task(session: Session, task: PlanTask, entity_ref: str, *, user_id: int | None = None) -> Entity:
    entity = read_entity(session, entity_ref)
    task.assigned_to_entity_id = entity.id
    if task.plan is not None:
        touch_plan(task.plan, user_id)
    session.flush()
    return entity


def tasks_assigned_to(session: Session, entity: Entity, *, limit: int = 100) -> list[PlanTask]:
    """The plan tasks given to an entity, unfinished first, then by due date."""
    return list(
        session.scalars(
            sa.select(PlanTask)
            .where(PlanTask.assigned_to_entity_id == entity.id)
            .order_by(
                (PlanTask.status == PlanTaskStatus.COMPLETED).asc(),
                PlanTask.due_date.is_(None).asc(),
                PlanTask.due_date,
                PlanTask.created_at,
            )
            .limit(limit)
        )
    )
