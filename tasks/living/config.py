"""Reading a living agent's config file as seed 003's version 3.0: every problem with its field and line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hopflow.models.schemas.living import LivingAgentConfigSpec
from hopflow.tasks.agents.errors import AgentSpecError
from hopflow.tasks.specs import PathT, SpecError, SpecIssue, line_of, read_spec_document
from pydantic import ValidationError

KIND = "living agent config"
MAX_CONFIG_BYTES = 1024 * 1024


def _issues(exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        # Literal unions and model validators add loc parts of their own; keep the document's path.
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("literal[", "function-")))
        )
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not part of seed 003's agent config, version 3.0)"
        issues.append(SpecIssue(loc, msg))
    return issues


def parse_living_config(
    data: Any, lines: Mapping[PathT, int] | None = None, source: str | None = None
) -> LivingAgentConfigSpec:
    """Validate a config document; AgentSpecError lists every problem with its field path (and line)."""
    try:
        return LivingAgentConfigSpec.model_validate(data)
    except ValidationError as exc:
        located = [SpecIssue(i.path, i.message, line_of(dict(lines or {}), i.path)) for i in _issues(exc)]
        raise AgentSpecError(located, source, kind=KIND) from None


def load_living_config(path: Path) -> LivingAgentConfigSpec:
    """Read and validate a config file (JSON or YAML); errors name the file, each field and its line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such living agent config file")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise AgentSpecError(
            [SpecIssue((), f"file is {size} bytes; a config is at most {MAX_CONFIG_BYTES}")],
            str(path),
            kind=KIND,
        )
    try:
        data, lines = read_spec_document(path)
    except SpecError as exc:
        raise AgentSpecError(exc.issues, str(path), kind=KIND) from None
    return parse_living_config(data, lines, str(path))
