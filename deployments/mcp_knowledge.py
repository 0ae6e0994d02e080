"""The MCP server's knowledge tools (remember, search_memories, create_plan, add_plan_task, list_faults):
one pydantic input model per tool, which is also the tool's input schema, and what each tool does over
hopflow's data in its own unit of work (no MCP here but `register`)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from hopflow.deployments.mcp_tools import MAX_LIST, MAX_SPEC_BYTES, MAX_SPEC_DEPTH
from hopflow.models.access.memories import MAX_CONTENT_CHARS, MAX_QUERY_CHARS
from hopflow.models.access.tags import MAX_TAGS
from hopflow.models.db import session_scope
from hopflow.models.documents import data_problem
from hopflow.models.enums import FaultSeverity, FaultStatus, MemoryTargetType
from hopflow.models.secrets import has_env_refs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_HIT_CHARS = 4_000  # a search hit's content is cut here; `memory` ids lead to the rest
MAX_TEXT = 10_000

Name = Annotated[str, Field(min_length=1, max_length=255)]
Tags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_TAGS)] | None


class KnowledgeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RememberInput(KnowledgeInput):
    target_type: MemoryTargetType = Field(description="what the memory is about: agent, plan, mission, ...")
    target_id: Name = Field(description="its id or name, e.g. the agent configuration's name")
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS, description="the memory's text")
    key: Name | None = Field(None, description="a key: the memory becomes a key-value entry, upserted")
    category: Name | None = Field(None, description="a category label")
    tags: Tags = Field(None, description="tags: a-z 0-9 _ . : / -, up to 64 characters each")
    important: bool = Field(False, description="mark it important")


class SearchMemoriesInput(KnowledgeInput):
    text: str | None = Field(
        None, min_length=1, max_length=MAX_QUERY_CHARS,
        description="words to look for (all must occur); ranked best first. Without: newest first",
    )  # fmt: skip
    target_type: MemoryTargetType | None = Field(None, description="only memories about this kind")
    target_id: Name | None = Field(None, description="only memories about this id (with target_type)")
    tags: Tags = Field(None, description="only memories with every one of these tags")
    category: Name | None = Field(None, description="only this category")
    important: bool | None = Field(None, description="only important ones (true) or only the others")
    limit: int = Field(20, ge=1, le=MAX_LIST, description="at most this many")

    @model_validator(mode="after")
    def _target_whole(self) -> SearchMemoriesInput:
        if (self.target_type is None) != (self.target_id is None):
            raise ValueError("give target_type and target_id together (the memories about one target)")
        return self


class CreatePlanInput(KnowledgeInput):
    title: Name = Field(description="the plan's title")
    description: str | None = Field(None, max_length=MAX_TEXT, description="what the plan is for")
    project: Name | None = Field(None, description="a project's name or id (created when new)")
    memory: Name | None = Field(None, description="the id of a memory that seeds the plan")
    tags: Tags = Field(None, description="tags: a-z 0-9 _ . : / -, up to 64 characters each")


class AddPlanTaskInput(KnowledgeInput):
    plan: Name = Field(description="plan id, id prefix or title")
    title: Name = Field(description="the task's title (its hop's name when the plan runs)")
    description: str | None = Field(None, max_length=MAX_TEXT)
    steps: dict[str, Any] | list[Any] | None = Field(
        None,
        description="the hop this task runs, in the mission spec format: a mapping with `steps:` "
        "(and goal, ...) or a bare list of steps. ${env.X} references are refused",
    )
    priority: int = Field(0, ge=-1000, le=1000, description="higher first among tasks of the same order")
    effort: str | None = Field(None, max_length=64, description="estimated effort, e.g. 2h")
    assignee: Name | None = Field(None, description="an entity (human or agent) id or name")
    due: datetime | None = Field(None, description="due date, ISO 8601 (UTC when no offset)")
    order: int | None = Field(None, ge=0, le=1_000_000, description="position (default: last)")

    @field_validator("steps")
    @classmethod
    def _bounded(cls, steps: dict[str, Any] | list[Any] | None) -> dict[str, Any] | list[Any] | None:
        if steps is None:
            return None
        if len(json.dumps(steps, default=str)) > MAX_SPEC_BYTES:
            raise ValueError(f"larger than {MAX_SPEC_BYTES} bytes")
        if (problem := data_problem(steps, max_depth=MAX_SPEC_DEPTH)) is not None:
            raise ValueError(problem)
        if has_env_refs(steps):
            raise ValueError("${env.X} references are not accepted over MCP")
        return steps

    def hop(self) -> dict[str, Any] | None:
        return {"steps": self.steps} if isinstance(self.steps, list) else self.steps


class ListFaultsInput(KnowledgeInput):
    status: FaultStatus | None = Field(None, description="open or fixed")
    severity: FaultSeverity | None = Field(None, description="low, medium, high or critical")
    mission: Name | None = Field(None, description="only this mission's (id or name)")
    limit: int = Field(50, ge=1, le=MAX_LIST, description="at most this many, newest first")


# --- what the tools do ---------------------------------------------------------------------------
def remember(args: RememberInput) -> dict[str, Any]:
    from hopflow.models.access import memories

    with session_scope() as session:
        memory = memories.remember(
            session,
            target_type=args.target_type,
            target_id=args.target_id,
            content=args.content,
            important=args.important,
            category=args.category,
            tags=args.tags,
            key=args.key,
        )
        return {
            "memory_id": memory.id,
            "target": f"{memory.target_type.value}:{memory.target_id}",
            "key": memory.key,
            "created_at": _iso(memory.created_at),
            "updated_at": _iso(memory.updated_at),
        }


def search_memories(args: SearchMemoriesInput) -> list[dict[str, Any]]:
    from hopflow.models.access import memories

    target = (args.target_type, args.target_id) if args.target_type and args.target_id else None
    with session_scope() as session:
        hits = memories.search_memories(
            session,
            text=args.text,
            target=target,
            tags=args.tags,
            category=args.category,
            important=args.important,
            limit=args.limit,
        )
        return [
            {"memory_id": m.id, "rank": h.rank, "target": f"{m.target_type.value}:{m.target_id}",
             "key": m.key, "category": m.category, "important": m.important, "tags": h.tags,
             "content": m.content[:MAX_HIT_CHARS], "truncated": len(m.content) > MAX_HIT_CHARS,
             "created_at": _iso(m.created_at)}
            for h in hits
            for m in (h.memory,)
        ]  # fmt: skip


def create_plan(args: CreatePlanInput) -> dict[str, Any]:
    from hopflow.models.access import plans
    from hopflow.models.access.identity import ensure_user

    with session_scope() as session:
        user_id = ensure_user(session).id
        if args.project is not None:
            try:
                plans.read_project(session, args.project)
            except LookupError:
                plans.create_project(session, name=args.project, user_id=user_id)
        plan = plans.create_plan(
            session,
            title=args.title,
            description=args.description,
            project=args.project,
            memory_context_id=args.memory,
            user_id=user_id,
            tags=args.tags,
        )
        return _plan_view(plan)


def add_plan_task(args: AddPlanTaskInput) -> dict[str, Any]:
    from hopflow.models.access import plans
    from hopflow.models.access.identity import ensure_user

    due = args.due.replace(tzinfo=UTC) if args.due is not None and args.due.tzinfo is None else args.due
    with session_scope() as session:
        user_id = ensure_user(session).id
        plan = plans.read_plan(session, args.plan)
        task = plans.add_plan_task(
            session,
            plan,
            title=args.title,
            description=args.description,
            hop=args.hop(),
            priority=args.priority,
            estimated_effort=args.effort,
            assignee=args.assignee,
            due_date=due,
            sort_order=args.order,
            user_id=user_id,
        )
        return {
            "task_id": task.id, "title": task.title, "status": task.status.value,
            "order": task.sort_order, "steps": len((task.hop_spec or {}).get("steps", [])),
            "due": _iso(task.due_date), "plan": _plan_view(plan),
        }  # fmt: skip


def list_faults(args: ListFaultsInput) -> list[dict[str, Any]]:
    from hopflow.deployments.mcp_tools import find_mission
    from hopflow.models.access import faults

    with session_scope() as session:
        mission_id = find_mission(session, args.mission).id if args.mission is not None else None
        rows = faults.list_faults(
            session, status=args.status, severity=args.severity, mission_id=mission_id, limit=args.limit
        )
        return [
            {"fault_id": f.id, "status": f.status.value, "severity": f.severity.value,
             "description": f.description[:MAX_HIT_CHARS], "mission_id": f.mission_id,
             "tool_step_id": f.tool_step_id, "plan_task_id": f.plan_task_id,
             "assigned_to_entity_id": f.assigned_to_entity_id, "resolution": f.resolution,
             "created_at": _iso(f.created_at), "fixed_at": _iso(f.fixed_at)}
            for f in rows
        ]  # fmt: skip


def _plan_view(plan: Any) -> dict[str, Any]:
    return {
        "plan_id": plan.id, "title": plan.title, "status": plan.status.value, "version": plan.version,
        "project_id": plan.project_id, "tasks": len(plan.tasks),
    }  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- registration --------------------------------------------------------------------------------
Call = Callable[..., Awaitable[Any]]

TOOLS: list[tuple[str, type[KnowledgeInput], Callable[[Any], Any], str | None, str]] = [
    ("remember", RememberInput, remember, None,
     "Store a memory about an agent, plan, project, mission, entity or task; with `key` it is a key-value "
     "entry (the same target and key replace it)."),
    ("search_memories", SearchMemoriesInput, search_memories, "memories",
     "Search memories: with `text`, ranked best first by the database's full-text engine; without, "
     "newest first. Filters: target, tags, category, important."),
    ("create_plan", CreatePlanInput, create_plan, None,
     "Create a plan (status draft), in a project when given (created if new)."),
    ("add_plan_task", AddPlanTaskInput, add_plan_task, None,
     "Add a task to a plan; with `steps` it is a hop `hopflow plans run` runs."),
    ("list_faults", ListFaultsInput, list_faults, "faults",
     "Faults (defects found while working; a failed step opens one), newest first."),
]  # fmt: skip


def signature(model: type[BaseModel]) -> inspect.Signature:
    """The model's fields as keyword parameters: the SDK builds the tool's input schema from them."""
    params = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if field.is_required() else field.default,
            annotation=Annotated[(field.annotation, *field.metadata, Field(description=field.description))],
        )
        for name, field in model.model_fields.items()
    ]
    return inspect.Signature(params, return_annotation=dict[str, Any])


def make_tool(
    name: str, model: type[KnowledgeInput], fn: Callable[[Any], Any], key: str | None, call: Call
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """An MCP tool: the SDK checks the fields, the model its rules, then `fn` runs through `call`."""

    async def tool(**arguments: Any) -> dict[str, Any]:
        result = await call(lambda: fn(model.model_validate(arguments)))
        return {key: result} if key else result

    tool.__name__ = name
    setattr(tool, "__signature__", signature(model))  # noqa: B010 (a function has no declared one)
    return tool


def register(server: Any, call: Call) -> None:
    """Add the knowledge tools to the MCP server; `call` turns known errors into tool errors."""
    for name, model, fn, key, doc in TOOLS:
        server.add_tool(make_tool(name, model, fn, key, call), name=name, description=doc)
