"""JSON tools: pick a value out of a JSON document by a path such as "a.b[0].c"."""

from __future__ import annotations

import re
from typing import Any

from hopflow.tasks.tools.registry import tool
from pydantic import BaseModel, ConfigDict, Field, field_validator

# One path step: .key / leading key, [index], or ["quoted key"] for keys with dots or brackets.
_STEP_RE = re.compile(r'\.?([^.\[\]"]+)|\[(-?\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def parse_json_path(path: str) -> list[str | int]:
    """The steps of a path: strings are object keys, ints are list indices; "" is the document itself."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _STEP_RE.match(path, pos)
        if match is None or (match.group(1) is not None and pos > 0 and path[pos] != "."):
            raise ValueError(f"json path {path!r} is malformed at position {pos}: {path[pos:]!r}")
        key, index, quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            steps.append(key)
        pos = match.end()
    return steps


def _render(steps: list[str | int]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out or "(root)"


def select_json(data: Any, path: str) -> Any:
    """Follow path through data; a missing key is a KeyError naming the step and where it was looked for."""
    value = data
    steps = parse_json_path(path)
    for n, step in enumerate(steps):
        where = _render(steps[:n])
        if isinstance(step, int):
            if not isinstance(value, list):
                raise TypeError(
                    f"json path {path!r}: [{step}] indexes {where}, which is {type(value).__name__}"
                )
            if not -len(value) <= step < len(value):
                raise IndexError(
                    f"json path {path!r}: index [{step}] is out of range at {where} (length {len(value)})"
                )
            value = value[step]
        else:
            if not isinstance(value, dict):
                raise TypeError(
                    f"json path {path!r}: key {step!r} looked up in {where}, which is {type(value).__name__}"
                )
            if step not in value:
                keys = ", ".join(map(str, value))
                raise KeyError(f"json path {path!r}: key {step!r} not found at {where} (keys: {keys})")
            value = value[step]
    return value


class SelectInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: Any
    path: str = Field(description='e.g. "a.b[0].c"; "" selects the whole document')

    @field_validator("path")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_json_path(value)
        return value


class SelectOutput(BaseModel):
    value: Any


@tool("json.select")
def select(params: SelectInput) -> SelectOutput:
    """The value at a path in a JSON document."""
    return SelectOutput(value=select_json(params.data, params.path))
