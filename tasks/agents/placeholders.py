"""Playbook placeholders (`{{ inputs.X }}`, Jinja syntax and filters) and names rendered per configuration.

Rendering happens in the Jinja sandbox of tasks/agents/sandbox.py. A string that is one whole
`{{ ... }}` keeps the bound value's type; placeholders inside longer text are spliced in as text
(objects as compact JSON). Unknown roots are refused when a blueprint is registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hopflow.tasks.agents.sandbox import (
    FUNCTIONS,
    SandboxError,
    evaluate,
    parse_template,
    references,
    render,
    whole_expression,
)

# Whether a text holds a placeholder or a block at all (cheap; the sandbox parses it properly).
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
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
FUNCTION_NAMES = frozenset(FUNCTIONS)


class BindingError(ValueError):
    pass


def placeholders_in(value: Any) -> list[str]:
    """Every path a value's templates read (e.g. "inputs.shop"), strings nested anywhere.

    SandboxError if a template is not valid or uses what the sandbox refuses."""
    if isinstance(value, str):
        return references(parse_template(value)) if PLACEHOLDER.search(value) else []
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in placeholders_in(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in placeholders_in(v)]
    return []


def template_problems(text: str, roots: tuple[str, ...]) -> list[str]:
    """Why a template cannot be rendered over these roots (empty when it can)."""
    if not PLACEHOLDER.search(text):
        return []
    try:
        paths = references(parse_template(text))
    except SandboxError as exc:
        return [str(exc)]
    return [
        f"unknown placeholder {{{{{p}}}}} (use {', '.join('{{' + r + '}}' for r in roots)})"
        for p in dict.fromkeys(paths)
        if p.split(".")[0] not in roots and p not in FUNCTION_NAMES
    ]


def _check_roots(text: str, context: Mapping[str, Any]) -> None:
    for path in references(parse_template(text)):
        root = path.split(".")[0]
        if root not in context and root not in FUNCTION_NAMES:
            raise BindingError(f"unknown placeholder {{{{{path}}}}} (known roots: {', '.join(context)})")


def _bind_text(text: str, context: Mapping[str, Any]) -> Any:
    if not PLACEHOLDER.search(text):
        return text
    try:
        _check_roots(text, context)
        expression = whole_expression(text)
        if expression is not None:
            return evaluate(expression, context)
        return render(text, context)
    except SandboxError as exc:
        raise BindingError(f"{text[:80]!r}: {exc}") from None


def bind_placeholders(value: Any, context: Mapping[str, Any]) -> Any:
    """A copy of `value` with placeholders bound, strings nested anywhere (keys stay as written)."""
    if isinstance(value, str):
        return _bind_text(value, context)
    if isinstance(value, Mapping):
        return {k: bind_placeholders(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [bind_placeholders(v, context) for v in value]
    return value


_EMPTY = "\x00"  # marks where a placeholder bound to nothing, so its separator goes with it


def render_name(template: str, context: Mapping[str, Any]) -> str:
    """A per-configuration name from a template such as "shop_{{workspace_id}}_{{instance_id}}".

    A placeholder bound to nothing (no workspace) takes one separator next to it along, so the
    name reads "shop_<id>", not "shop__<id>"."""
    if not PLACEHOLDER.search(template):
        return template
    marked = {k: (_EMPTY if v in ("", None) else v) for k, v in context.items()}
    try:
        _check_roots(template, marked)
        rendered = str(render(template, marked))
    except SandboxError as exc:
        raise BindingError(f"{template!r}: {exc}") from None
    rendered = re.sub(r"^\x00+[_\-.:/]?", "", rendered)  # at the start: the separator after it
    return re.sub(r"[_\-.:/]?\x00+", "", rendered)  # elsewhere: the separator before it


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
