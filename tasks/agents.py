"""Agents as units of work: check and register blueprints, configure them, and turn a playbook into a mission.

The pure cores (input checking, placeholder binding, the safe condition evaluator, playbook ->
MissionSpec) are plain functions; the units of work around them each open one session scope.
"""

from __future__ import annotations

import ast
import difflib
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from models.access import agents as access
from models.access.identity import ensure_user
from models.access.runs import last_successful_run, upsert_run_log
from models.db import session_scope
from models.enums import (
    AgentConfigurationStatus,
    AgentDefinitionStatus,
    InputType,
    LastRunStatus,
    TriggerType,
)
from models.orm import AgentConfiguration, AgentDefinition, AgentRunLog, utcnow
from models.orm.base import new_id
from models.schemas.agents import (
    CONFIGURATION_NAME_PATTERN,
    TRIGGER_UNION_TAGS,
    AgentView,
    BlueprintSpec,
    ConfigurationRead,
    DefinitionRead,
    EventTriggerSpec,
    InputSpec,
    PlaybookStepSpec,
    ScheduleTriggerSpec,
    WebhookTriggerSpec,
    semver_key,
    trigger_config,
    trigger_from_config,
)
from models.schemas.specs import UNION_TAGS, HopSpec, LiteralValue, MissionSpec, StepSpec
from models.secrets import ENV_REF, has_env_refs, redact, resolve_env_refs, scrub, secret_values
from tasks.missions import create_mission_from_spec
from tasks.specs import AssetCatalog, PathT, SpecError, SpecIssue, check_step, line_of, read_spec_document

MISSION_REF_PREFIX = "hopflow://missions/"
PREVIEW_CHARS = 2000


class AgentSpecError(SpecError):
    """A blueprint, configuration or payload with problems: every one with its path (and file, line)."""

    def __init__(
        self, issues: list[SpecIssue], source: str | None = None, kind: str = "agent blueprint"
    ) -> None:
        super().__init__(issues, source)
        self.kind = kind
        head = f"{source}: " if source else ""
        lines = [f"{head}invalid {kind} ({len(issues)} problem{'s' if len(issues) != 1 else ''})"]
        lines += [f"  {i.render()}" for i in issues]
        self.args = ("\n".join(lines),)


class RegistrationError(ValueError):
    """Blueprints that cannot be registered; nothing was written."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors) + "\nnothing was registered")


class AgentNotFound(LookupError):
    def __init__(self, kind: str, ref: str, known: Iterable[str]) -> None:
        names = sorted(known)
        close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            hint = f"known: {', '.join(names)}" if names else "none is registered"
        super().__init__(f"no agent {kind} {ref!r}; {hint}")


# --- placeholders --------------------------------------------------------------------------------
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")
# What a playbook literal may refer to when a run binds it.
BINDING_ROOTS = (
    "inputs",
    "payload",
    "window_start",
    "window_end",
    "directive",
    "trigger_type",
    "configuration",
)
# What names (webhook paths, secret env names, memory namespaces) may refer to per configuration.
NAME_ROOTS = ("instance_id", "workspace_id", "configuration", "definition_id")


class BindingError(ValueError):
    pass


def placeholders_in(value: Any) -> list[str]:
    """Every placeholder expression (e.g. "inputs.shop") inside a value, strings nested anywhere."""
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in placeholders_in(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in placeholders_in(v)]
    return []


def _lookup(context: Mapping[str, Any], expression: str) -> Any:
    root, *rest = expression.split(".")
    if root not in context:
        raise BindingError(f"unknown placeholder {{{{{expression}}}}} (known roots: {', '.join(context)})")
    value = context[root]
    for part in rest:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None  # an optional key left out: bound as null, not an error
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=str, separators=(",", ":"))


def bind_placeholders(value: Any, context: Mapping[str, Any]) -> Any:
    """A copy of `value` with placeholders bound. A string that is one whole placeholder takes the
    bound value itself (its type kept); placeholders inside longer strings are spliced in as text."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole is not None:
            return _lookup(context, whole.group(1))
        return PLACEHOLDER.sub(lambda m: _as_text(_lookup(context, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: bind_placeholders(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bind_placeholders(v, context) for v in value]
    return value


def render_name(template: str, context: Mapping[str, Any]) -> str:
    """A per-configuration name from a template such as "shop_{{workspace_id}}_{{instance_id}}"."""
    return str(PLACEHOLDER.sub(lambda m: _as_text(_lookup(context, m.group(1))), template))


def env_var_name(rendered: str) -> str:
    """A rendered secret_env made a valid environment variable name (configuration names hold hyphens)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", rendered).upper()


def name_context(
    configuration_id: str, configuration_name: str, workspace_id: str | None, definition_id: str
) -> dict[str, Any]:
    return {
        "instance_id": configuration_id,
        "workspace_id": workspace_id or "",
        "configuration": configuration_name,
        "definition_id": definition_id,
    }


# --- the safe condition evaluator ----------------------------------------------------------------
class ConditionError(ValueError):
    """A condition that is not allowed, or that fails on the values it got."""


MAX_CONDITION_NODES = 256
CONSTANT_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None, "True": True,
                                  "False": False, "None": None}  # fmt: skip


def _str_arg(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(value: Any, *args: Any) -> Any:
        if not isinstance(value, str):
            raise ConditionError(f"{fn.__name__}() takes a string, got {type(value).__name__}")
        return fn(value, *args)

    wrapped.__name__ = fn.__name__
    return wrapped


def _lower(s: str) -> str:
    return s.lower()


def _upper(s: str) -> str:
    return s.upper()


def _startswith(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


def _endswith(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float,
    "str": str, "bool": bool, "any": any, "all": all,
    "lower": _str_arg(_lower), "upper": _str_arg(_upper),
    "startswith": _str_arg(_startswith), "endswith": _str_arg(_endswith),
}  # fmt: skip

BIN_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}  # fmt: skip
COMPARE_OPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
    ast.Compare, ast.IfExp, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Constant, ast.List,
    ast.Tuple, ast.Dict, ast.Call, *BIN_OPS, *COMPARE_OPS,
)  # fmt: skip


def parse_condition(expression: str) -> ast.Expression:
    """Parse and check a condition against the whitelist; ConditionError says what is not allowed."""
    if len(expression) > 1000:
        raise ConditionError("condition is longer than 1000 characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"not a valid expression: {exc.msg} (column {exc.offset})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_CONDITION_NODES:
        raise ConditionError(f"condition is too complex ({len(nodes)} nodes, at most {MAX_CONDITION_NODES})")
    for node in nodes:
        if not isinstance(node, ALLOWED_NODES):
            raise ConditionError(f"{type(node).__name__} is not allowed in a condition")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_FUNCTIONS:
                known = ", ".join(sorted(SAFE_FUNCTIONS))
                raise ConditionError(f"only these functions may be called: {known}")
            if node.keywords:
                raise ConditionError("keyword arguments are not allowed in a condition")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ConditionError(f"attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            raise ConditionError("slices are not allowed in a condition")
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes | complex):
            raise ConditionError(f"{type(node.value).__name__} constants are not allowed")
    return tree


class _Evaluator:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:  # parse_condition already refused it; belt and braces
            raise ConditionError(f"{type(node).__name__} is not allowed in a condition")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        name = node.id
        if name in self.context:
            return self.context[name]
        # seed 001 writes `cart_value > 50`: a bare name is a payload key, else an input.
        for scope in ("payload", "inputs"):
            values = self.context.get(scope)
            if isinstance(values, Mapping) and name in values:
                return values[name]
        if name in CONSTANT_NAMES:
            return CONSTANT_NAMES[name]
        if name in SAFE_FUNCTIONS:
            return SAFE_FUNCTIONS[name]
        raise ConditionError(f"unknown name {name!r} (not in {', '.join(self.context)}, payload or inputs)")

    def _Attribute(self, node: ast.Attribute) -> Any:
        value = self.eval(node.value)
        if isinstance(value, Mapping):
            return value.get(node.attr)  # a missing key is null, so `payload.x is None` works
        raise ConditionError(f".{node.attr}: only keys of objects can be read, not of {type(value).__name__}")

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        key = self.eval(node.slice)
        if isinstance(value, Mapping):
            return value.get(key)
        if isinstance(value, list | tuple | str) and isinstance(key, int) and not isinstance(key, bool):
            return value[key] if -len(value) <= key < len(value) else None
        raise ConditionError(f"cannot index {type(value).__name__} with {key!r}")

    def _List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _Dict(self, node: ast.Dict) -> Any:
        if any(k is None for k in node.keys):
            raise ConditionError("** is not allowed in a condition")
        return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        result: Any = None
        for value_node in node.values:
            result = self.eval(value_node)
            if is_and and not result:
                return result
            if not is_and and result:
                return result
        return result

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if not _is_number(value):
            raise ConditionError(f"unary {'-' if isinstance(node.op, ast.USub) else '+'} needs a number")
        return -value if isinstance(node.op, ast.USub) else +value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        op = BIN_OPS[type(node.op)]
        # Repetition ("a" * 10**9) is how an expression eats memory: only numbers multiply.
        if isinstance(node.op, ast.Mult) and not (_is_number(left) and _is_number(right)):
            raise ConditionError("* multiplies numbers only")
        try:
            return op(left, right)
        except (TypeError, ZeroDivisionError, OverflowError) as exc:
            raise ConditionError(f"{type(node.op).__name__} failed: {exc}") from None

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            try:
                ok = COMPARE_OPS[type(op_node)](left, right)
            except TypeError as exc:
                raise ConditionError(f"cannot compare {left!r} with {right!r}: {exc}") from None
            if not ok:
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        fn = SAFE_FUNCTIONS[node.func.id]
        args = [self.eval(a) for a in node.args]
        try:
            return fn(*args)
        except ConditionError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConditionError(f"{node.func.id}() failed: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a playbook condition safely: an AST whitelist walked by hand, never eval()."""
    return bool(_Evaluator(context).eval(parse_condition(expression)))


# --- inputs --------------------------------------------------------------------------------------
TYPE_NAMES = {
    InputType.JSON: "an object or a list",
    InputType.STRING: "a string",
    InputType.NUMBER: "a number",
    InputType.BOOLEAN: "true or false",
}


def type_problem(spec: InputSpec, value: Any) -> str | None:
    """Why `value` is not of the input's type, or None."""
    kind = spec.type
    if kind == InputType.STRING:
        ok = isinstance(value, str)
    elif kind == InputType.NUMBER:
        ok = _is_number(value)
    elif kind == InputType.BOOLEAN:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, dict | list)
    if ok:
        return None
    got = "null" if value is None else type(value).__name__
    hint = ""
    if isinstance(value, str) and ENV_REF.search(value) and kind in (InputType.NUMBER, InputType.BOOLEAN):
        hint = " (an ${env.X} reference is a string: only string and json inputs may hold one)"
    expected = f"expected {kind.value} ({TYPE_NAMES[kind]})"
    return f"wrong type for input {spec.key!r}: {expected}, got {got} {value!r}{hint}"


def _unknown_key(key: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?" if close else f"the definition's inputs: {', '.join(known) or 'none'}"
    )
    return f"unknown {what} {key!r}; {hint}"


def check_input_values(
    schema: list[InputSpec], values: Mapping[str, Any], *, where: PathT = (), require: bool = True
) -> list[SpecIssue]:
    """A configuration's values against the definition's inputs: known keys, types, required ones present."""
    issues: list[SpecIssue] = []
    by_key = {s.key: s for s in schema}
    for key, value in values.items():
        spec = by_key.get(str(key))
        if spec is None:
            issues.append(SpecIssue((*where, key), _unknown_key(str(key), list(by_key), "input")))
            continue
        if value is None:
            continue
        if problem := type_problem(spec, value):
            issues.append(SpecIssue((*where, key), problem))
    if require:
        for spec in schema:
            if spec.required and values.get(spec.key) is None and spec.default is None:
                issues.append(
                    SpecIssue((*where, spec.key), f"missing required input {spec.key!r} ({spec.type.value})")
                )
    return issues


def check_payload(schema: list[InputSpec], payload: Any) -> list[SpecIssue]:
    """A trigger payload (webhook body, event payload, API call): an object of declared inputs.

    `${env.X}` references are refused: the step runner resolves them in literals, so a caller
    could otherwise read the server's environment into a tool call.
    """
    if not isinstance(payload, dict):
        got = "null" if payload is None else type(payload).__name__
        return [SpecIssue((), f"the payload must be a JSON object of the agent's inputs, got {got}")]
    issues = [
        SpecIssue(("payload", *i.path), i.message) for i in check_input_values(schema, payload, require=False)
    ]
    for key, value in payload.items():
        if has_env_refs(value) or (isinstance(key, str) and ENV_REF.search(key)):
            issues.append(SpecIssue(("payload", key), "${env.X} references are not accepted in a payload"))
    return issues


def effective_config(schema: list[InputSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """Definition defaults overlaid with the configuration's values; every declared input has a key."""
    return {s.key: values[s.key] if values.get(s.key) is not None else s.default for s in schema}


def input_schema(stored: list[dict[str, Any]]) -> list[InputSpec]:
    return [InputSpec.model_validate(i) for i in stored]


# --- reading and checking blueprints -------------------------------------------------------------
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
    return [
        SpecIssue(where, f"unknown placeholder {{{{{p}}}}} (use {', '.join('{{' + r + '}}' for r in roots)})")
        for p in PLACEHOLDER.findall(template)
        if p not in roots
    ]


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
            for expression in placeholders_in(source.literal):
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
        whole = PLACEHOLDER.fullmatch(literal.strip())
        if whole is None:
            return literal
        root, *rest = whole.group(1).split(".")
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


# --- webhook routes ------------------------------------------------------------------------------
class WebhookRoute(BaseModel):
    method: str
    path: str
    configuration_id: str
    configuration_name: str
    deployment_name: str
    secret_env: str
    playbook: str | None = None
    inputs_schema: list[dict[str, Any]] = []


def normalise_path(path: str) -> str:
    path = "/" + "/".join(part for part in path.strip().split("/") if part)
    return path


def deployment_name(configuration_name: str) -> str:
    return f"agent-run/{configuration_name}"


def webhook_routes_for(view: AgentView) -> list[WebhookRoute]:
    config, definition = view.configuration, view.definition
    context = name_context(config.id, config.name, config.workspace_id, definition.id)
    routes = []
    for stored in definition.triggers_config:
        trigger = trigger_from_config(stored)
        if isinstance(trigger, WebhookTriggerSpec):
            routes.append(
                WebhookRoute(
                    method=trigger.method,
                    path=normalise_path(render_name(trigger.path, context)),
                    configuration_id=config.id,
                    configuration_name=config.name,
                    deployment_name=deployment_name(config.name),
                    secret_env=env_var_name(render_name(trigger.secret_env, context)),
                    playbook=trigger.playbook,
                    inputs_schema=definition.inputs_schema,
                )
            )
    return routes


def route_conflicts(routes: Iterable[WebhookRoute]) -> list[str]:
    """Every (method, path) claimed by more than one configuration, as sentences."""
    owners: dict[tuple[str, str], list[str]] = {}
    for route in routes:
        owners.setdefault((route.method, route.path), []).append(route.configuration_name)
    return [
        f"webhook path claimed twice: {method} {path} by configurations {', '.join(sorted(set(names)))}"
        if len(set(names)) > 1
        else f"webhook path claimed twice: {method} {path} by configuration {names[0]}"
        for (method, path), names in owners.items()
        if len(names) > 1
    ]


def agent_view(configuration: AgentConfiguration) -> AgentView:
    return AgentView(
        configuration=ConfigurationRead.model_validate(configuration),
        definition=DefinitionRead.model_validate(configuration.definition),
    )


def _active_routes(session: Session) -> list[WebhookRoute]:
    return [
        route
        for config in access.read_active_configurations(session)
        for route in webhook_routes_for(agent_view(config))
    ]


# --- registering ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registered:
    id: str
    name: str
    version: str
    action: str
    playbooks: int
    triggers: list[str]
    source: str


def register_blueprints(paths: list[Path]) -> list[Registered]:
    """Check every file, then upsert every definition by id and version in one transaction.

    Any problem in any file (format, cron, trigger type, webhook path claimed twice, an older
    version than the stored one, a name another id holds) raises RegistrationError; nothing is written.
    """
    errors: list[SpecError] = []
    specs: list[tuple[Path, BlueprintSpec]] = []
    for path in paths:
        try:
            specs.append((path, load_blueprint(path)))
        except SpecError as exc:
            errors.append(exc)
    errors += _batch_conflicts(specs)
    if errors:
        raise RegistrationError(errors)
    with session_scope() as session:
        errors += _database_conflicts(session, specs)
        if errors:
            raise RegistrationError(errors)
        results = []
        for path, spec in specs:
            definition, action = access.upsert_definition(
                session, spec.id, definition_fields(spec), playbook_rows(spec)
            )
            results.append(
                Registered(
                    id=definition.id, name=definition.name, version=definition.version, action=action,
                    playbooks=len(spec.playbooks), triggers=[t.type for t in spec.triggers], source=str(path),
                )
            )  # fmt: skip
        # A new version may change webhook paths of live configurations: check them as they will be.
        session.flush()
        session.expire_all()
        if conflicts := route_conflicts(_active_routes(session)):
            session.rollback()
            raise RegistrationError([AgentSpecError([SpecIssue(("triggers",), c) for c in conflicts])])
        return results


def _batch_conflicts(specs: list[tuple[Path, BlueprintSpec]]) -> list[SpecError]:
    errors: list[SpecError] = []
    ids: dict[str, Path] = {}
    names: dict[str, Path] = {}
    paths: dict[tuple[str, str], tuple[Path, str]] = {}
    for path, spec in specs:
        issues: list[SpecIssue] = []
        if spec.id in ids:
            issues.append(SpecIssue(("id",), f"id {spec.id!r} is also declared by {ids[spec.id]}"))
        if spec.name in names and spec.id != _id_of(specs, names[spec.name]):
            issues.append(SpecIssue(("name",), f"name {spec.name!r} is also used by {names[spec.name]}"))
        ids.setdefault(spec.id, path)
        names.setdefault(spec.name, path)
        for t, trigger in enumerate(spec.triggers):
            if isinstance(trigger, WebhookTriggerSpec) and not PLACEHOLDER.search(trigger.path):
                route = (trigger.method, normalise_path(trigger.path))
                if route in paths and paths[route][1] != spec.id:
                    issues.append(
                        SpecIssue(
                            ("triggers", t, "path"),
                            f"webhook path claimed twice: {route[0]} {route[1]} is also claimed by "
                            f"{paths[route][1]} ({paths[route][0]})",
                        )
                    )
                paths.setdefault(route, (path, spec.id))
        if issues:
            errors.append(AgentSpecError(issues, str(path)))
    return errors


def _id_of(specs: list[tuple[Path, BlueprintSpec]], path: Path) -> str:
    return next(spec.id for p, spec in specs if p == path)


def _database_conflicts(session: Session, specs: list[tuple[Path, BlueprintSpec]]) -> list[SpecError]:
    errors: list[SpecError] = []
    batch_ids = {spec.id for _, spec in specs}
    others = [d for d in access.list_definitions(session) if d.id not in batch_ids]
    other_names = {d.name: d.id for d in others}
    other_paths: dict[tuple[str, str], str] = {}
    for definition in others:
        for stored in definition.triggers_config:
            trigger = trigger_from_config(stored)
            if isinstance(trigger, WebhookTriggerSpec) and not PLACEHOLDER.search(trigger.path):
                other_paths[(trigger.method, normalise_path(trigger.path))] = definition.id
    for path, spec in specs:
        issues: list[SpecIssue] = []
        registered = session.get(AgentDefinition, spec.id)
        if registered is not None and semver_key(spec.version) < semver_key(registered.version):
            issues.append(
                SpecIssue(
                    ("version",),
                    f"version {spec.version} is older than the registered {registered.version} "
                    f"of {spec.id!r}",
                )
            )
        if spec.name in other_names:
            issues.append(
                SpecIssue(
                    ("name",), f"name {spec.name!r} is already used by agent {other_names[spec.name]!r}"
                )
            )
        for t, trigger in enumerate(spec.triggers):
            if isinstance(trigger, WebhookTriggerSpec):
                route = (trigger.method, normalise_path(trigger.path))
                if route in other_paths:
                    issues.append(
                        SpecIssue(
                            ("triggers", t, "path"),
                            f"webhook path claimed twice: {route[0]} {route[1]} is already claimed by "
                            f"agent {other_paths[route]!r}",
                        )
                    )
        if issues:
            _, lines = read_spec_document(path)
            errors.append(
                AgentSpecError(
                    [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues], str(path)
                )
            )
    return errors


# --- reading -------------------------------------------------------------------------------------
def _definition(session: Session, ref: str) -> AgentDefinition:
    definition = access.read_definition(session, ref)
    if definition is None:
        known = [name for d in access.list_definitions(session) for name in (d.id, d.name)]
        raise AgentNotFound("definition", ref, known)
    return definition


def _configuration(session: Session, ref: str) -> AgentConfiguration:
    configuration = access.read_configuration(session, ref)
    if configuration is None:
        raise AgentNotFound("configuration", ref, [c.name for c in access.list_configurations(session)])
    return configuration


def read_definitions() -> list[DefinitionRead]:
    with session_scope() as session:
        return [DefinitionRead.model_validate(d) for d in access.list_definitions(session)]


def read_definition(ref: str) -> tuple[DefinitionRead, list[ConfigurationRead]]:
    with session_scope() as session:
        definition = _definition(session, ref)
        configs = access.list_configurations(session, definition_id=definition.id)
        return DefinitionRead.model_validate(definition), [
            ConfigurationRead.model_validate(c) for c in configs
        ]


def read_configurations(*, active_only: bool = False) -> list[AgentView]:
    with session_scope() as session:
        configs = (
            access.read_active_configurations(session) if active_only else access.list_configurations(session)
        )
        return [agent_view(c) for c in configs]


def read_agent(ref: str) -> AgentView:
    with session_scope() as session:
        return agent_view(_configuration(session, ref))


def read_webhook_routes() -> list[WebhookRoute]:
    """The routes of every active configuration; a path claimed twice is an error, not a coin toss."""
    with session_scope() as session:
        routes = _active_routes(session)
    if conflicts := route_conflicts(routes):
        raise ValueError("; ".join(conflicts))
    return routes


# --- configuring ---------------------------------------------------------------------------------
def read_config_values(path: Path) -> tuple[dict[str, Any], str, dict[PathT, int]]:
    """A values file: (values, its text as written, line index). `${env.X}` references stay as written."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such configuration values file")
    try:
        data, lines = read_spec_document(path)
    except SpecError as exc:
        raise AgentSpecError(exc.issues, str(path), kind="agent configuration") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        issue = SpecIssue((), "a values file is a mapping of input keys to values", 1)
        raise AgentSpecError([issue], str(path), kind="agent configuration")
    return data, path.read_text(encoding="utf-8"), lines


def configure_agent(
    definition_ref: str,
    name: str,
    *,
    values: Mapping[str, Any] | None = None,
    values_path: Path | None = None,
    workspace: str | None = None,
    description: str | None = None,
) -> ConfigurationRead:
    """Create an active configuration: values checked against the definition's inputs, the memory
    namespace resolved, its webhook routes checked against every active one. Nothing is written if
    anything is wrong."""
    lines: dict[PathT, int] = {}
    source = str(values_path) if values_path else None
    if values_path is not None:
        loaded, yaml_text, lines = read_config_values(values_path)
        values = loaded
    else:
        values = dict(values or {})
        yaml_text = yaml.safe_dump(values, sort_keys=False) if values else ""
    if not re.match(CONFIGURATION_NAME_PATTERN, name):
        raise ValueError(
            f"configuration name {name!r}: use letters, digits, '.', '_' and '-' "
            "(it names a Prefect deployment)"
        )
    with session_scope() as session:
        definition = _definition(session, definition_ref)
        if definition.status == AgentDefinitionStatus.DEPRECATED:
            raise ValueError(
                f"agent {definition.id!r} ({definition.name}) is deprecated: it takes no new configurations"
            )
        if access.read_configuration(session, name) is not None:
            raise ValueError(
                f"a configuration named {name!r} already exists (names are unique: they name deployments)"
            )
        schema = input_schema(definition.inputs_schema)
        issues = check_input_values(schema, values)
        if issues:
            located = [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues]
            raise AgentSpecError(
                located, source, kind=f"configuration of {definition.id} ({definition.name})"
            )
        user = ensure_user(session)
        existing_ws = access.ensure_workspace(session, workspace, user.id)[0] if workspace else None
        configuration_id = new_id()
        context = name_context(configuration_id, name, existing_ws.id if existing_ws else None, definition.id)
        template = (definition.memory_config or {}).get("namespace_template")
        namespace = render_name(template, context) if template else None
        routes = _active_routes(session)
        draft = AgentView(
            configuration=ConfigurationRead(
                id=configuration_id, name=name, agent_definition_id=definition.id,
                workspace_id=context["workspace_id"] or None, yaml_config=yaml_text,
                status=AgentConfigurationStatus.ACTIVE, created_at=utcnow(),
            ),
            definition=DefinitionRead.model_validate(definition),
        )  # fmt: skip
        if conflicts := route_conflicts([*routes, *webhook_routes_for(draft)]):
            raise ValueError("; ".join(conflicts))
        configuration = access.create_configuration(
            session,
            definition=definition,
            name=name,
            configuration_id=configuration_id,
            yaml_config=yaml_text,
            effective_config=effective_config(schema, values),
            external_memory_namespace=namespace,
            workspace_id=existing_ws.id if existing_ws else None,
            description=description,
            created_by_user_id=user.id,
        )
        return ConfigurationRead.model_validate(configuration)


def set_agent_status(
    ref: str, status: AgentConfigurationStatus, reason: str | None = None
) -> tuple[ConfigurationRead, bool]:
    """enable / disable / archive through the status machine; enabling re-checks webhook paths."""
    with session_scope() as session:
        configuration = _configuration(session, ref)
        if status == AgentConfigurationStatus.ACTIVE and configuration.status != status:
            others = [r for r in _active_routes(session) if r.configuration_id != configuration.id]
            if conflicts := route_conflicts([*others, *webhook_routes_for(agent_view(configuration))]):
                raise ValueError("; ".join(conflicts))
        changed = access.set_configuration_status(session, configuration, status, reason)
        return ConfigurationRead.model_validate(configuration), changed


# --- agent runs ----------------------------------------------------------------------------------
class AgentRunContext(BaseModel):
    """What one agent run works from. Inputs keep their `${env.X}` references: never a resolved secret."""

    run_id: str
    configuration_id: str
    configuration_name: str
    definition_id: str
    definition_name: str
    definition_version: str
    tagline: str | None = None
    trigger_type: TriggerType
    playbook: str
    playbook_description: str | None = None
    steps: list[dict[str, Any]]
    inputs: dict[str, Any]
    payload: dict[str, Any]
    directive_id: str | None = None
    directive_version: int | None = None
    directive_text: str | None = None
    window_start: datetime | None = None
    window_end: datetime
    started_at: datetime


class AgentMission(BaseModel):
    mission_id: str | None
    name: str
    hops: int
    skipped_steps: list[str] = []


class AgentRunOutcome(BaseModel):
    run_id: str
    configuration: str
    status: LastRunStatus
    mission_id: str | None = None
    outputs: dict[str, str] = {}
    skipped_steps: list[str] = []
    output_preview: str | None = None
    full_output_ref: str | None = None


def normalise_payload(payload: Any) -> Any:
    """Event triggers template `{{ event.payload }}`; a client may send it as a JSON string."""
    if payload is None or payload == "":
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise AgentSpecError(
                [SpecIssue((), f"payload is not JSON: {exc}")], kind="trigger payload"
            ) from None
    return payload


def snapshot_agent_run(
    configuration_id: str,
    run_id: str,
    trigger_type: str,
    payload: Any,
    playbook: str | None = None,
) -> AgentRunContext:
    """The run's first unit of work: check the payload, snapshot inputs (redacted), the directive and the
    window since the last successful run onto the AgentRunLog row, and pick the playbook."""
    kind = TriggerType(trigger_type)
    payload = normalise_payload(payload)
    with session_scope() as session:
        configuration = _configuration(session, configuration_id)
        if configuration.status != AgentConfigurationStatus.ACTIVE:
            raise ValueError(
                f"agent configuration {configuration.name!r} is {configuration.status.value}: not run"
            )
        definition = configuration.definition
        schema = input_schema(definition.inputs_schema)
        if issues := check_payload(schema, payload):
            raise AgentSpecError(
                issues, f"{kind.value} payload for {configuration.name}", kind="trigger payload"
            )
        inputs = {**(configuration.effective_config_cache or {}), **payload}
        # Fail now, naming the variable, rather than mid-mission; the values are not kept.
        resolve_env_refs(inputs, where=f"configuration {configuration.name} inputs")
        chosen = _playbook(session, definition, playbook)
        directive = access.read_current_directive(session, configuration.id)
        previous = last_successful_run(session, configuration.id)
        now = utcnow()
        row = upsert_run_log(
            session,
            run_id,
            flow_name="agent-run",
            agent_configuration_id=configuration.id,
            agent_entity_id=configuration.entity_id,
            trigger_type=kind,
            input_params_snapshot=redact(
                {
                    "inputs": inputs,
                    "payload": payload,
                    "playbook": chosen["name"],
                    "trigger_type": kind.value,
                    "definition": {"id": definition.id, "version": definition.version},
                }
            ),
            directive_id=directive.id if directive else None,
            directive_snapshot={"version": directive.version, "text": directive.text, "name": directive.name}
            if directive
            else None,
            window_start=previous.end_time if previous else None,
            window_end=now,
        )
        return AgentRunContext(
            run_id=run_id,
            configuration_id=configuration.id,
            configuration_name=configuration.name,
            definition_id=definition.id,
            definition_name=definition.name,
            definition_version=definition.version,
            tagline=definition.tagline,
            trigger_type=kind,
            playbook=chosen["name"],
            playbook_description=chosen.get("description"),
            steps=chosen["steps"],
            inputs=inputs,
            payload=payload,
            directive_id=directive.id if directive else None,
            directive_version=directive.version if directive else None,
            directive_text=directive.text if directive else None,
            window_start=row.window_start,
            window_end=now,
            started_at=row.start_time or row.created_at or now,
        )


def _playbook(session: Session, definition: AgentDefinition, name: str | None) -> dict[str, Any]:
    playbooks = access.read_playbooks(session, definition.id)
    if name is not None:
        chosen = next((p for p in playbooks if p.name == name), None)
        if chosen is None:
            raise AgentNotFound(f"playbook of {definition.id}", name, [p.name for p in playbooks])
    else:
        active = [p for p in playbooks if p.is_active]
        chosen = next((p for p in active if p.is_default), active[0] if active else None)
        if chosen is None:
            raise LookupError(f"agent {definition.id!r} ({definition.name}) has no active playbook to run")
    return {"name": chosen.name, "description": chosen.description, "steps": chosen.steps}


def binding_context(context: AgentRunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "inputs": dict(inputs),
        "payload": context.payload,
        "window_start": context.window_start.isoformat() if context.window_start else None,
        "window_end": context.window_end.isoformat(),
        "directive": context.directive_text,
        "trigger_type": context.trigger_type.value,
        "configuration": context.configuration_name,
    }


def build_mission_spec(context: AgentRunContext) -> tuple[MissionSpec | None, list[str]]:
    """The playbook as a mission: one hop per step whose condition holds, placeholders bound.

    A hop per step (not one hop for all) because conditions and delays are per step and a hop is
    what the UI and the status machine show; the wait of delay_minutes is a noop.sleep step run
    first in the same hop. Conditions see resolved inputs (in memory only); bound literals keep
    `${env.X}` references, which the step runner resolves at run time.
    """
    resolved = resolve_env_refs(context.inputs, where="inputs")
    condition_context = binding_context(context, resolved)
    bind_context = binding_context(context, context.inputs)
    hops: list[HopSpec] = []
    skipped: list[str] = []
    used: set[str] = set()
    for s, raw in enumerate(context.steps):
        step = PlaybookStepSpec.model_validate(raw)
        label = step.name or step.type
        if step.condition is not None:
            try:
                holds = evaluate_condition(step.condition, condition_context)
            except ConditionError as exc:
                raise ConditionError(
                    f"playbook {context.playbook!r} step {s + 1} ({label}): "
                    f"condition {step.condition!r}: {exc}"
                ) from None
            if not holds:
                skipped.append(label)
                continue
        mapping = {
            param: LiteralValue(literal=bind_placeholders(source.literal, bind_context))
            if isinstance(source, LiteralValue)
            else source
            for param, source in step.parameter_mapping.items()
        }
        steps = []
        if step.delay_minutes > 0:
            steps.append(
                StepSpec(
                    tool="noop.sleep",
                    name=f"wait {step.delay_minutes:g} min",
                    parameter_mapping={"seconds": LiteralValue(literal=step.delay_minutes * 60)},
                )
            )
        steps.append(
            StepSpec(
                tool=step.type, name=step.name, description=step.description,
                parameter_mapping=mapping, result_mapping=step.result_mapping,
            )
        )  # fmt: skip
        name = label if label not in used else f"{label}#{s + 1}"
        used.add(name)
        hops.append(HopSpec(name=name, description=step.description, steps=steps))
    if not hops:
        return None, skipped
    spec = MissionSpec(
        name=f"{context.configuration_name}:{context.playbook}",
        description=context.playbook_description,
        goal=context.tagline,
        hops=hops,
        metadata={
            "agent_run_id": context.run_id,
            "agent_configuration": context.configuration_name,
            "agent_definition": {"id": context.definition_id, "version": context.definition_version},
            "playbook": context.playbook,
            "trigger_type": context.trigger_type.value,
            "skipped_steps": skipped,
        },
    )
    return spec, skipped


def create_agent_mission(context: AgentRunContext) -> AgentMission:
    """Build the mission from the playbook and store it, linked to the configuration and the run log."""
    spec, skipped = build_mission_spec(context)
    name = f"{context.configuration_name}:{context.playbook}"
    if spec is None:
        return AgentMission(mission_id=None, name=name, hops=0, skipped_steps=skipped)
    with session_scope() as session:
        configuration = session.get(AgentConfiguration, context.configuration_id)
        user_id = configuration.created_by_user_id if configuration else None
        if user_id is None:
            user_id = ensure_user(session).id
        try:
            mission = create_mission_from_spec(
                session, spec, user_id=user_id, agent_configuration_id=context.configuration_id
            )
        except SpecError as exc:
            raise AgentSpecError(exc.issues, f"playbook {context.playbook!r} of {context.definition_id}",
                                 kind="mission from playbook") from None  # fmt: skip
        upsert_run_log(session, context.run_id, mission_id=mission.id)
        return AgentMission(
            mission_id=mission.id, name=mission.name, hops=len(spec.hops), skipped_steps=skipped
        )


def output_preview(outputs: Mapping[str, str], skipped: list[str], hops: int) -> str:
    if outputs:
        text = "\n".join(f"{name}: {summary}" for name, summary in outputs.items())
    elif hops:
        text = f"completed {hops} hop{'s' if hops != 1 else ''}; no output assets"
    else:
        text = "no playbook step ran: every condition was false"
    if skipped:
        text += f"\nskipped: {', '.join(skipped)}"
    return text[:PREVIEW_CHARS]


def finish_agent_run(
    context: AgentRunContext,
    mission: AgentMission | None,
    status: LastRunStatus,
    *,
    outputs: Mapping[str, str] | None = None,
    error: str | None = None,
) -> AgentRunOutcome:
    """The run's last unit of work: output preview and mission reference onto the run log and the
    configuration's last_run_* fields. The run log's status stays with the state hooks."""
    outputs = dict(outputs or {})
    skipped = mission.skipped_steps if mission else []
    preview = output_preview(outputs, skipped, mission.hops if mission else 0) if error is None else None
    ref = f"{MISSION_REF_PREFIX}{mission.mission_id}" if mission and mission.mission_id else None
    if error is not None:
        error = scrub(error, secret_values(context.inputs))
    with session_scope() as session:
        upsert_run_log(
            session, context.run_id, output_preview=preview, full_output_ref=ref, error_message=error
        )
        access.record_configuration_run(
            session,
            context.configuration_id,
            run_id=context.run_id,
            status=status,
            started_at=context.started_at,
            output_preview=preview if preview is not None else (error or "")[:PREVIEW_CHARS],
            full_output_ref=ref,
        )
    return AgentRunOutcome(
        run_id=context.run_id, configuration=context.configuration_name, status=status,
        mission_id=mission.mission_id if mission else None, outputs=outputs, skipped_steps=skipped,
        output_preview=preview, full_output_ref=ref,
    )  # fmt: skip


def record_cancelled_run(configuration_id: str, run_id: str) -> None:
    """A cancelled run (hook in the serving process): last_run_status cancelled, if it is the latest."""
    with session_scope() as session:
        row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).first()
        started = (row.start_time or row.created_at) if row else utcnow()
        access.record_configuration_run(
            session, configuration_id, run_id=run_id, status=LastRunStatus.CANCELLED, started_at=started
        )
