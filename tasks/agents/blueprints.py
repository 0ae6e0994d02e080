"""Reading and checking agent blueprints (seed 001): triggers, inputs, playbooks, crons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hopflow.models.enums import (
    InputType,
)
from hopflow.models.schemas.agents import (
    TRIGGER_UNION_TAGS,
    BlueprintSpec,
    EventTriggerSpec,
    InputSpec,
    PlaybookStepSpec,
    ScheduleTriggerSpec,
    WebhookTriggerSpec,
    trigger_config,
)
from hopflow.models.schemas.specs import UNION_TAGS, LiteralValue, StepSpec
from hopflow.tasks.agents.conditions import ConditionError, parse_condition
from hopflow.tasks.agents.errors import AgentSpecError
from hopflow.tasks.agents.inputs import _unknown_key, type_problem
from hopflow.tasks.agents.placeholders import BINDING_ROOTS, NAME_ROOTS, placeholders_in, template_problems
from hopflow.tasks.agents.routes import normalise_path
from hopflow.tasks.agents.sandbox import SandboxError, whole_expression
from hopflow.tasks.specs import (
    AssetCatalog,
    PathT,
    SpecError,
    SpecIssue,
    check_step,
    line_of,
    read_spec_document,
)
from pydantic import ValidationError


def _issues(exc: ValidationError, prefix: PathT = ()) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in UNION_TAGS and p not in TRIGGER_UNION_TAGS)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the blueprint format)"
        elif err["type"] == "trigger_type":
            given = err["input"].get("type") if isinstance(err["input"], dict) else err["input"]
            msg = f"unknown trigger type {given!r}; a trigger's type is one of schedule, event, webhook, api"
            loc = (*loc, "type")
        issues.append(SpecIssue((*prefix, *loc), msg))
    return issues


def check_cron(cron: str, timezone: str) -> str | None:
    """Why Prefect would refuse this cron schedule, or None (Prefect's own validator, so they agree)."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
    return None


def _check_template(template: str, roots: tuple[str, ...], where: PathT) -> list[SpecIssue]:
    return [SpecIssue(where, problem) for problem in template_problems(template, roots)]


def _sample(spec: InputSpec) -> Any:
    if spec.default is not None:
        return spec.default
    return {InputType.STRING: "", InputType.NUMBER: 0, InputType.BOOLEAN: False, InputType.JSON: {}}[
        spec.type
    ]


def check_blueprint(spec: BlueprintSpec) -> list[SpecIssue]:
    """Everything pydantic cannot see: duplicates, cron, templates, conditions, tools and mappings."""
    issues: list[SpecIssue] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(spec.inputs):
        if item.key in seen:
            issues.append(
                SpecIssue(
                    ("inputs", i, "key"), f"duplicate input key {item.key!r} (also inputs[{seen[item.key]}])"
                )
            )
        seen.setdefault(item.key, i)
        if item.default is not None and (problem := type_problem(item, item.default)):
            issues.append(SpecIssue(("inputs", i, "default"), problem))
    playbooks = {p.name for p in spec.playbooks}
    names: dict[str, int] = {}
    for p, playbook in enumerate(spec.playbooks):
        if playbook.name in names:
            issues.append(SpecIssue(("playbooks", p, "name"), f"duplicate playbook name {playbook.name!r}"))
        names.setdefault(playbook.name, p)
    if sum(p.is_default for p in spec.playbooks) > 1:
        issues.append(SpecIssue(("playbooks",), "more than one playbook has is_default: true"))
    routes: dict[tuple[str, str], int] = {}
    for t, trigger in enumerate(spec.triggers):
        where: PathT = ("triggers", t)
        if trigger.playbook is not None and trigger.playbook not in playbooks:
            issues.append(
                SpecIssue((*where, "playbook"), f"no playbook named {trigger.playbook!r} in this blueprint")
            )
        if isinstance(trigger, ScheduleTriggerSpec) and (
            problem := check_cron(trigger.cron, trigger.timezone)
        ):
            issues.append(SpecIssue((*where, "cron"), f"invalid cron schedule {trigger.cron!r}: {problem}"))
        if isinstance(trigger, EventTriggerSpec):
            for key, value in trigger.match.items():
                for label in [value] if isinstance(value, str) else value:
                    issues += _check_template(label, NAME_ROOTS, (*where, "match", key))
        if isinstance(trigger, WebhookTriggerSpec):
            issues += _check_template(trigger.path, NAME_ROOTS, (*where, "path"))
            issues += _check_template(trigger.secret_env, NAME_ROOTS, (*where, "secret_env"))
            route = (trigger.method, normalise_path(trigger.path))
            if route in routes:
                issues.append(
                    SpecIssue(
                        (*where, "path"),
                        f"webhook path claimed twice: {route[0]} {route[1]} "
                        f"is also triggers[{routes[route]}]",
                    )
                )
            routes.setdefault(route, t)
    if spec.memory is not None and spec.memory.namespace_template:
        issues += _check_template(
            spec.memory.namespace_template, NAME_ROOTS, ("memory", "namespace_template")
        )
    for p, playbook in enumerate(spec.playbooks):
        issues += check_playbook_steps(playbook.steps, spec.inputs, ("playbooks", p, "steps"))
    return issues


def check_playbook_steps(
    steps: list[PlaybookStepSpec], inputs: list[InputSpec], path: PathT
) -> list[SpecIssue]:
    """Conditions parse, placeholders name known things, and the steps type-check as a mission would."""
    issues: list[SpecIssue] = []
    by_key = {i.key: i for i in inputs}
    catalog = AssetCatalog()
    for s, step in enumerate(steps):
        where = (*path, s)
        if step.condition is not None:
            try:
                parse_condition(step.condition)
            except ConditionError as exc:
                issues.append(SpecIssue((*where, "condition"), f"condition {step.condition!r}: {exc}"))
        untyped: set[str] = set()
        bound: dict[str, Any] = {}
        for param, source in step.parameter_mapping.items():
            if not isinstance(source, LiteralValue):
                bound[param] = source
                continue
            try:
                expressions = placeholders_in(source.literal)
            except SandboxError as exc:
                issues.append(SpecIssue((*where, "parameter_mapping", param, "literal"), str(exc)))
                continue
            for expression in expressions:
                root, *rest = expression.split(".")
                if root not in BINDING_ROOTS:
                    issues.append(
                        SpecIssue(
                            (*where, "parameter_mapping", param, "literal"),
                            f"unknown placeholder {{{{{expression}}}}} (roots: {', '.join(BINDING_ROOTS)})",
                        )
                    )
                elif root == "inputs" and rest and rest[0] not in by_key:
                    issues.append(
                        SpecIssue(
                            (*where, "parameter_mapping", param, "literal"),
                            _unknown_key(rest[0], list(by_key), "input") + f" in {{{{{expression}}}}}",
                        )
                    )
            bound[param] = LiteralValue(literal=_sample_bind(source.literal, by_key, untyped, param))
        step_spec = StepSpec(
            tool=step.type, name=step.name, parameter_mapping=bound, result_mapping=step.result_mapping
        )
        for issue in check_step(step_spec, where, catalog):
            rel = issue.path[len(where) :]
            if rel[:1] == ("tool",):
                rel = ("type", *rel[1:])
            # A literal bound from the payload has its type only at run time; checked then.
            if len(rel) >= 3 and rel[0] == "parameter_mapping" and rel[1] in untyped and rel[2] == "literal":
                continue
            issues.append(SpecIssue((*where, *rel), issue.message))
    return issues


def _sample_bind(literal: Any, by_key: Mapping[str, InputSpec], untyped: set[str], param: str) -> Any:
    """Bind placeholders with samples of their declared types, so literals type-check at registration."""
    if isinstance(literal, str):
        whole = whole_expression(literal)
        if whole is None:
            return literal
        root, *rest = whole.split(".")
        if root == "inputs" and len(rest) == 1 and rest[0] in by_key:
            return _sample(by_key[rest[0]])
        if root in ("directive", "trigger_type", "configuration", "window_start", "window_end"):
            return "2026-01-01T00:00:00+00:00" if root.startswith("window") else ""
        untyped.add(param)
        return literal
    if isinstance(literal, Mapping):
        return {k: _sample_bind(v, by_key, untyped, param) for k, v in literal.items()}
    if isinstance(literal, list):
        return [_sample_bind(v, by_key, untyped, param) for v in literal]
    return literal


def parse_blueprint(
    data: Any, lines: Mapping[PathT, int] | None = None, source: str | None = None
) -> BlueprintSpec:
    """Validate and check a blueprint document; AgentSpecError lists every problem (with lines)."""
    try:
        spec = BlueprintSpec.model_validate(data)
        issues = check_blueprint(spec)
    except ValidationError as exc:
        issues = _issues(exc)
    if issues:
        located = [SpecIssue(i.path, i.message, line_of(dict(lines or {}), i.path)) for i in issues]
        raise AgentSpecError(located, source)
    return spec


def load_blueprint(path: Path) -> BlueprintSpec:
    """Read, parse and check a blueprint file; errors name the file, each field path and its line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such blueprint file")
    try:
        data, lines = read_spec_document(path)
    except SpecError as exc:
        raise AgentSpecError(exc.issues, str(path)) from None
    return parse_blueprint(data, lines, str(path))


def definition_fields(spec: BlueprintSpec) -> dict[str, Any]:
    """The AgentDefinition columns of a checked blueprint (triggers in seed 001's {type, config} shape)."""
    return {
        "name": spec.name, "version": spec.version, "status": spec.status, "epithet": spec.epithet,
        "tagline": spec.tagline, "introduction_text": spec.introduction_text, "archetype": spec.archetype,
        "dna_phrase": spec.dna_phrase, "core_capabilities": spec.core_capabilities,
        "essence_punch": spec.essence_punch, "essence_interpretation": spec.essence_interpretation,
        "description": spec.description, "category": spec.category,
        "triggers_config": [trigger_config(t) for t in spec.triggers],
        "inputs_schema": [i.model_dump(mode="json", exclude_none=True) for i in spec.inputs],
        "outputs_config": [o.model_dump(mode="json", exclude_none=True) for o in spec.outputs],
        "stack_details": spec.stack.model_dump(mode="json") if spec.stack else None,
        "memory_config": spec.memory.model_dump(mode="json") if spec.memory else None,
        "default_file_structure_template": spec.default_file_structure_template,
        "key_files_and_paths": spec.key_files_and_paths,
        "scheduling_and_triggers_summary": spec.scheduling_and_triggers_summary,
        "kpis_definition": spec.kpis_definition, "failure_fallback_strategy": spec.failure_fallback_strategy,
        "example_integration_flow": spec.example_integration_flow,
        "dynamic_expansion_notes": spec.dynamic_expansion_notes,
        "escape_the_obvious_feature": spec.escape_the_obvious_feature,
        "underlying_services_required": spec.underlying_services_required,
        "concurrency_limit": spec.concurrency_limit,
    }  # fmt: skip


def playbook_rows(spec: BlueprintSpec) -> list[dict[str, Any]]:
    default = spec.default_playbook()
    return [
        {
            "name": p.name,
            "description": p.description,
            "trigger_event_type": p.trigger_event_type,
            "is_active": p.is_active,
            "is_default": p is default,
            "steps": [
                s.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {"type": s.type}
                for s in p.steps
            ],
        }
        for p in spec.playbooks
    ]


