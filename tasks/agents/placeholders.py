"""Playbook placeholders (`{{inputs.X}}`) and the names rendered per configuration."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


_EMPTY = "\x00"  # marks where a placeholder bound to nothing, so its separator goes with it


def render_name(template: str, context: Mapping[str, Any]) -> str:
    """A per-configuration name from a template such as "shop_{{workspace_id}}_{{instance_id}}".

    A placeholder bound to nothing (no workspace) takes one separator next to it along, so the
    name reads "shop_<id>", not "shop__<id>"."""
    rendered = PLACEHOLDER.sub(lambda m: _as_text(_lookup(context, m.group(1))) or _EMPTY, template)
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


