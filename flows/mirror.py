"""Mirroring flow runs into agent_run_logs: state hooks for every hopflow flow, and the reconciler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hook = Callable[[Any, Any, Any], None]


def mirror_hooks(**extra: list[Hook]) -> dict[str, list[Hook]]:
    """The state hooks every hopflow flow carries, plus any extra ones per hook kind.

    Use as `@flow(..., **mirror_hooks(on_cancellation=[my_hook]))`.
    """
    hooks: dict[str, list[Hook]] = {
        "on_running": [],
        "on_completion": [],
        "on_failure": [],
        "on_cancellation": [],
        "on_crashed": [],
    }
    for kind, fns in extra.items():
        if kind not in hooks:
            raise TypeError(f"mirror_hooks: unknown hook kind {kind!r}")
        hooks[kind] = [*hooks[kind], *fns]
    return hooks
