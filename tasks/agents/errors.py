"""Errors of agent blueprints, configurations and payloads, each naming what is wrong and where."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from hopflow.tasks.specs import (
    SpecError,
    SpecIssue,
)

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


