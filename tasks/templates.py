"""Mission templates: a spec stored under a name (`hopflow missions deploy`), the Run form its inputs make
(a JSON schema for Prefect's UI), the check of a run's input values, and the fresh mission each run gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hopflow.models.access.identity import ensure_user
from hopflow.models.access.templates import (
    read_mission_template,
    read_mission_templates,
    upsert_mission_template,
)
from hopflow.models.db import session_scope
from hopflow.models.schemas.specs import MissionSpec
from hopflow.models.secrets import ENV_REF, has_env_refs
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.outside_specs import deeper_than
from hopflow.tasks.specs import SpecError, SpecIssue, check_mission_spec, load_mission_spec
from pydantic import BaseModel

# A run's input values come from outside (the UI's Run form, the API): bounded before use.
MAX_INPUT_BYTES = 1_000_000
MAX_INPUT_DEPTH = 32
DEFAULT_CHARS = 2_000  # inline contents up to this size become the form's defaults

JSON_TYPES = {"text": "string", "number": "number", "boolean": "boolean"}


class TemplateView(BaseModel):
    id: str
    name: str
    version: int
    description: str | None
    source: str | None
    cron: str | None
    timezone: str | None
    interval_seconds: int | None
    inputs: list[str]

    @property
    def deployment(self) -> str:
        return f"mission-run/{self.name}"


def _view(template: Any) -> TemplateView:
    return TemplateView(
        id=template.id,
        name=template.name,
        version=template.version,
        description=template.description,
        source=template.source,
        cron=template.cron,
        timezone=template.timezone,
        interval_seconds=template.interval_seconds,
        inputs=[i["name"] for i in template.spec.get("inputs", [])],
    )


def store_template(
    path: Path,
    *,
    name: str | None = None,
    cron: str | None = None,
    timezone: str | None = None,
    interval_seconds: int | None = None,
) -> TemplateView:
    """Check the spec file (and the schedule), then store it as the template `name` (default: its own)."""
    from hopflow.tasks.agents import check_cron

    spec = load_mission_spec(path)
    if name is not None:
        spec = spec.model_copy(update={"name": name})
    issues: list[SpecIssue] = []
    if cron is not None and interval_seconds is not None:
        issues.append(SpecIssue(("schedule",), "give --cron or --interval, not both"))
    if cron is not None:
        if problem := check_cron(cron, timezone or "UTC"):
            issues.append(SpecIssue(("cron",), f"cron {cron!r}: {problem}"))
    elif timezone is not None:
        issues.append(SpecIssue(("timezone",), "--timezone needs --cron"))
    if interval_seconds is not None and interval_seconds < 1:
        issues.append(
            SpecIssue(("interval",), f"the interval must be at least 1 second, got {interval_seconds}")
        )
    if issues:
        raise SpecError(issues, str(path))
    base_dir = path.resolve().parent
    with session_scope() as session:
        user = ensure_user(session)
        template = upsert_mission_template(
            session,
            name=spec.name,
            spec=spec.model_dump(mode="json", exclude_defaults=True),
            description=spec.description,
            source=str(path.resolve()),
            base_dir=str(base_dir),
            cron=cron,
            timezone=(timezone or "UTC") if cron else None,
            interval_seconds=interval_seconds,
            user_id=user.id,
        )
        return _view(template)


def read_template(ref: str) -> tuple[TemplateView, MissionSpec]:
    with session_scope() as session:
        template = read_mission_template(session, ref)
        return _view(template), MissionSpec.model_validate(template.spec)


def read_templates() -> list[TemplateView]:
    with session_scope() as session:
        return [_view(t) for t in read_mission_templates(session)]


# --- the Run form ---------------------------------------------------------------------------------
def input_property(item: Any) -> dict[str, Any] | None:
    """One spec input as a JSON-schema property of the Run form; None for bytes (not typed in a form)."""
    described = item.description or ""
    if item.type == "bytes":
        return None
    if item.type in JSON_TYPES:
        prop: dict[str, Any] = {"type": JSON_TYPES[item.type]}
    elif item.type == "table":
        prop = {"type": "array", "items": {"type": "object"}}
        described = f"{described} (rows as objects)".strip()
    else:  # json: an object (or a list when the spec's own value is one)
        prop = {"type": "array" if isinstance(item.content, list) else "object"}
    prop["title"] = item.name
    if item.file is not None:
        described = f"{described}; empty: the spec's file {item.file}".strip("; ")
    elif _small(item.content):
        prop["default"] = item.content
    if described:
        prop["description"] = described
    return prop


def _small(value: Any) -> bool:
    try:
        return len(json.dumps(value, default=str)) <= DEFAULT_CHARS
    except (TypeError, ValueError):
        return False


def inputs_schema(spec: MissionSpec) -> dict[str, Any]:
    """The `inputs` parameter's schema: one property per spec input, with its type, default and text."""
    properties = {i.name: p for i in spec.inputs if (p := input_property(i)) is not None}
    schema: dict[str, Any] = {
        "type": "object",
        "title": "inputs",
        "description": "The mission's inputs; an empty one keeps the spec's value.",
        "properties": properties,
        "default": {k: p["default"] for k, p in properties.items() if "default" in p},
    }
    return schema


def parameter_schema(view: TemplateView, spec: MissionSpec) -> dict[str, Any]:
    """The deployment's parameter_openapi_schema: the template fixed, its inputs a form."""
    return {
        "title": "Parameters",
        "type": "object",
        "properties": {
            "template": {
                "type": "string",
                "title": "template",
                "description": "The mission template this deployment runs.",
                "enum": [view.name],
                "default": view.name,
                "readOnly": True,
                "position": 0,
            },
            "inputs": {**inputs_schema(spec), "position": 1},
        },
        "required": ["template"],
        "definitions": {},
    }


# --- a run's inputs -------------------------------------------------------------------------------
def check_template_inputs(spec: MissionSpec, values: Any) -> list[SpecIssue]:
    """A run's input values (outside data): an object of the spec's inputs, typed, bounded, no ${env.X}."""
    if values is None:
        return []
    if not isinstance(values, dict):
        return [SpecIssue(("inputs",), f"inputs must be an object of the mission's inputs, got "
                                       f"{type(values).__name__}")]  # fmt: skip
    try:
        size = len(json.dumps(values, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        return [SpecIssue(("inputs",), f"inputs are not JSON: {exc}")]
    if size > MAX_INPUT_BYTES:
        return [SpecIssue(("inputs",), f"inputs are {size} bytes, more than the {MAX_INPUT_BYTES} allowed")]
    if deeper_than(values, MAX_INPUT_DEPTH):
        return [SpecIssue(("inputs",), f"inputs nest deeper than {MAX_INPUT_DEPTH} levels")]
    by_name = {i.name: i for i in spec.inputs}
    issues: list[SpecIssue] = []
    for key, value in values.items():
        item = by_name.get(key)
        if item is None:
            known = ", ".join(by_name) or "none"
            issues.append(SpecIssue(("inputs", key), f"unknown input {key!r}; the mission's inputs: {known}"))
            continue
        if value is None:
            continue
        if has_env_refs(value) or ENV_REF.search(str(key)):
            issues.append(SpecIssue(("inputs", key), "${env.X} references are not accepted in run inputs"))
            continue
        if problem := _type_problem(item.type, value):
            issues.append(SpecIssue(("inputs", key), f"input {key!r} ({item.type}): {problem}"))
    return issues


def _type_problem(kind: str, value: Any) -> str | None:
    ok = {
        "text": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "json": isinstance(value, dict | list),
        "table": isinstance(value, list) and all(isinstance(r, dict) for r in value),
        "bytes": False,
    }[kind]
    if ok:
        return None
    if kind == "bytes":
        return "bytes inputs come from the spec's file only"
    expected = {"table": "a list of row objects", "json": "an object or a list"}.get(
        kind, JSON_TYPES.get(kind)
    )
    return f"expected {expected}, got {type(value).__name__}"


def spec_with_inputs(spec: MissionSpec, values: dict[str, Any]) -> MissionSpec:
    """The template's spec with the given inputs' contents in place of its own (None keeps its own)."""
    inputs = [
        item.model_copy(update={"content": values[item.name], "file": None})
        if values.get(item.name) not in (None, "", [], {})
        else item
        for item in spec.inputs
    ]
    return spec.model_copy(update={"inputs": inputs})


def create_template_mission(
    ref: str, values: Any, flow_run_id: str | None, *, metadata: dict[str, Any] | None = None
) -> str:
    """Check the run's inputs, then store a fresh mission from the template (with `metadata` added to
    the mission's); returns its id."""
    with session_scope() as session:
        template = read_mission_template(session, ref)
        spec = MissionSpec.model_validate(template.spec)
        if issues := check_template_inputs(spec, values):
            raise SpecError(issues, f"run inputs of mission template {template.name!r}")
        spec = spec_with_inputs(spec, values or {})
        base_dir = Path(template.base_dir) if template.base_dir else None
        if issues := check_mission_spec(spec, base_dir=base_dir):
            raise SpecError(issues, f"mission template {template.name!r}")
        user_id = template.created_by_user_id or ensure_user(session).id
        mission = create_mission_from_spec(
            session,
            spec,
            user_id=user_id,
            base_dir=base_dir,
            metadata={
                "template": template.name,
                "template_version": template.version,
                "template_run_id": flow_run_id,
                "source": template.source,
                **(metadata or {}),
            },
        )
        return mission.id
