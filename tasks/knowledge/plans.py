"""`hopflow plans run`: a plan's open tasks become the hops of one mission, in task order.

Each task's status then follows its hop (models/access/following.py): in_progress while it runs,
completed, or blocked with the fault of the step that failed.
"""

from __future__ import annotations

from hopflow.models.access.identity import ensure_user
from hopflow.models.access.missions import read_hops
from hopflow.models.access.plans import PlanInputError, open_tasks, read_plan, set_plan_status, touch_plan
from hopflow.models.access.tags import read_tags, set_tags
from hopflow.models.db import session_scope
from hopflow.models.enums import PlanStatus
from hopflow.models.orm import Plan, PlanTask
from hopflow.models.schemas.specs import HopSpec, MissionSpec
from hopflow.tasks.missions import create_mission_from_spec
from pydantic import BaseModel
from sqlalchemy.orm import Session


class PlanRun(BaseModel):
    plan_id: str
    mission_id: str
    task_ids: list[str]


def plan_mission_spec(session: Session, plan: Plan) -> tuple[MissionSpec, list[PlanTask]]:
    """The mission a plan's open tasks make; raises PlanInputError when there is nothing to run."""
    if plan.status == PlanStatus.ARCHIVED:
        raise PlanInputError(f"plan {plan.title!r} is archived: it cannot run")
    tasks = open_tasks(session, plan)
    if not tasks:
        raise PlanInputError(f"plan {plan.title!r} has no open task to run")
    bare = [t.title for t in tasks if not t.hop_spec]
    if bare:
        raise PlanInputError(
            f"plan {plan.title!r}: open task(s) without steps to run: {', '.join(bare)} "
            "(add steps with `hopflow plans add-task --steps FILE`)"
        )
    hops = [HopSpec.model_validate({**(t.hop_spec or {}), "name": t.title, "is_final": False}) for t in tasks]
    spec = MissionSpec(
        name=f"plan/{plan.title}",
        description=plan.description,
        goal=plan.description or plan.title,
        hops=hops,
        metadata={"plan_id": plan.id, "plan_version": plan.version},
    )
    return spec, tasks


def start_plan_run(session: Session, plan_ref: str, *, user_id: int | None = None) -> PlanRun:
    """Write the mission of a plan's open tasks and link each task to its hop; nothing on error."""
    plan = read_plan(session, plan_ref)
    spec, tasks = plan_mission_spec(session, plan)
    user = user_id if user_id is not None else ensure_user(session).id
    mission = create_mission_from_spec(session, spec, user_id=user)
    hops = read_hops(session, mission.id)
    for task, hop in zip(tasks, hops, strict=True):
        task.hop_id = hop.id
    if plan.status == PlanStatus.DRAFT:
        set_plan_status(session, plan, PlanStatus.ACTIVE, user_id=user, reason=f"run as mission {mission.id}")
    touch_plan(plan, user)
    set_tags(session, "missions", mission.id, read_tags(session, "plans", plan.id))
    session.flush()
    return PlanRun(plan_id=plan.id, mission_id=mission.id, task_ids=[t.id for t in tasks])


def prepare_plan_run(plan_ref: str) -> PlanRun:
    """start_plan_run as one unit of work."""
    with session_scope() as session:
        return start_plan_run(session, plan_ref)
