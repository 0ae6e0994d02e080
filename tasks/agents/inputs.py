"""A blueprint's inputs: type checks of configuration values and trigger payloads."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from hopflow.models.enums import (
    InputType,
)
from hopflow.models.schemas.agents import (
    InputSpec,
)
from hopflow.models.secrets import ENV_REF, has_env_refs
from hopflow.tasks.specs import (
    PathT,
    SpecIssue,
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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


