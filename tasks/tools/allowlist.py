"""The allowlist rule (seed 002): which tools a step of an agent's run may call, and on which containers.

A configuration with no entries is unrestricted, except for the tools that act on one container
(logs, restart): those always need an entry naming that container for the agent running the step.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTAINER_SCOPED_TOOLS = frozenset({"containers.logs", "containers.restart"})


class ToolNotAllowed(PermissionError):
    """A step asked for a tool, or a container, that its agent's allowlist does not give it."""


@dataclass(frozen=True)
class Allowlist:
    """A configuration's enabled entries, as (tool id, container id or None)."""

    configuration: str | None
    entries: tuple[tuple[str, str | None], ...] = ()

    def tool_refusal(self, tool_id: str) -> str | None:
        if not self.entries or any(t == tool_id for t, _ in self.entries):
            return None
        return (
            f"tool {tool_id!r} is not on the allowlist of agent {self.configuration!r} "
            f"(allowed: {', '.join(sorted({t for t, _ in self.entries}))}); "
            f"add it with `hopflow agents allow-tool {self.configuration} {tool_id}`"
        )

    def container_refusal(self, tool_id: str, container_id: str, shown: str) -> str | None:
        for t, c in self.entries:
            if t == tool_id and c is not None and (container_id == c or container_id.startswith(c)):
                return None
        return (
            f"{tool_id} on container {shown!r} ({container_id[:12]}) refused: it is not allowlisted for "
            f"{tool_id} of agent {self.configuration!r}; allow it with "
            f"`hopflow containers allow {self.configuration} {container_id[:12]} --tool {tool_id}`"
        )


def container_refusal(allowlist: Allowlist | None, tool_id: str, container_id: str, shown: str) -> str | None:
    """Why `tool_id` may not act on this container, or None. Outside an agent run it never may."""
    if allowlist is None:
        return (
            f"{tool_id} on container {shown!r} refused: only an agent's run may act on a container, "
            "and only on containers allowlisted for it"
        )
    return allowlist.container_refusal(tool_id, container_id, shown)
