"""Mission specs from outside hopflow's operators (an MCP client, a living agent's model): data,
bounded in size and depth, with no YAML aliases, no `${env.X}` (resolving one would hand the server's
environment to whoever wrote the spec) and no input files (the server's own files)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml
from hopflow.models.schemas.specs import MissionSpec
from hopflow.models.secrets import has_env_refs
from hopflow.tasks.specs import SpecError, SpecIssue, parse_mission_spec


class OutsideSpecError(ValueError):
    """A spec document that cannot be read; the message says where and why."""


def env_ref_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first `${env.X}` reference in the value (keys included), or None."""
    if isinstance(value, str):
        return (path or "(root)") if has_env_refs(value) else None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if has_env_refs(key):
            return here
        if (found := env_ref_path(item, here)) is not None:
            return found
    return None


def deeper_than(value: Any, limit: int) -> bool:
    """Whether a JSON-like value nests deeper than `limit` levels (a scalar in the top object is at
    level 2); iterative, and it stops at the first item past the limit."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, Mapping):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return False


def _document(raw: Any, max_bytes: int) -> Any:
    if isinstance(raw, str):
        if len(raw.encode("utf-8")) > max_bytes:
            raise OutsideSpecError(f"spec: larger than {max_bytes} bytes")
        try:
            if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(raw)):
                raise OutsideSpecError("spec: YAML aliases (*name) are not accepted")
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise OutsideSpecError(
                f"spec: not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}"
            ) from None
    if isinstance(raw, Mapping):
        try:
            size = len(json.dumps(raw, default=str).encode("utf-8"))
        except (TypeError, ValueError, RecursionError):
            raise OutsideSpecError("spec: not a JSON object") from None
        if size > max_bytes:
            raise OutsideSpecError(f"spec: larger than {max_bytes} bytes as JSON")
        return raw
    raise OutsideSpecError("spec: give an object or YAML/JSON text")


def parse_outside_spec(raw: Any, *, source: str, max_bytes: int, max_depth: int = 32) -> MissionSpec:
    """The spec, checked; `source` says who wrote it in messages ("over MCP", "from a model").
    Raises OutsideSpecError for the document, SpecError naming every problem of the spec."""
    data = _document(raw, max_bytes)
    if deeper_than(data, max_depth):
        raise OutsideSpecError(f"spec: nested deeper than {max_depth} levels")
    where = env_ref_path(data)
    if where is not None:
        raise OutsideSpecError(
            f"spec.{where}: ${{env.X}} references are not accepted {source}; secrets belong in a "
            "spec an operator deploys as a template (`hopflow missions deploy`), started by name"
        )
    spec = parse_mission_spec(data)
    files = [
        SpecIssue(("inputs", i, "file"), f"input files are not accepted {source}; give `content`")
        for i, item in enumerate(spec.inputs)
        if item.file is not None
    ]
    if files:
        raise SpecError(files, "spec")
    return spec
