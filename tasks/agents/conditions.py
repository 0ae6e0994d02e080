"""Step conditions: one Jinja expression (as inside `{{ }}`), evaluated in the sandbox over a run's context.

A bare name is a run fact (`trigger_type`, `directive`, ...), else a payload key, else an input
(seed 001 writes `cart_value > 50`). Conditions are checked when a blueprint is registered and
evaluated per run; neither ever calls Python's eval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hopflow.tasks.agents.sandbox import SandboxError, evaluate, parse_expression


class ConditionError(ValueError):
    """A condition that is not allowed, or that fails on the values it got."""


def parse_condition(expression: str) -> None:
    """Check a condition's syntax and what it uses; ConditionError says what is not allowed."""
    try:
        parse_expression(expression.strip())
    except SandboxError as exc:
        raise ConditionError(str(exc)) from None


def condition_scope(context: Mapping[str, Any]) -> dict[str, Any]:
    """Names a condition sees: inputs, shadowed by payload keys, shadowed by the run facts."""
    scope: dict[str, Any] = {}
    for name in ("inputs", "payload"):
        values = context.get(name)
        if isinstance(values, Mapping):
            scope.update({k: v for k, v in values.items() if isinstance(k, str) and k.isidentifier()})
    scope.update(context)
    return scope


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Whether the condition holds; ConditionError names what failed."""
    try:
        return bool(evaluate(expression.strip(), condition_scope(context)))
    except SandboxError as exc:
        raise ConditionError(str(exc)) from None
