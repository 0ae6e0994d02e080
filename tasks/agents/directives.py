"""One-off directives (seed 002): a run created with its own directive text, snapshotted on its run log
as a one-off, while the configuration's stored directive stays as it is."""

from __future__ import annotations

from typing import Any

from hopflow.models.secrets import ENV_REF

MAX_DIRECTIVE_CHARS = 16_000


class DirectiveTextError(ValueError):
    """One-off directive text that cannot be used; the message says why."""


def check_directive_text(text: Any, where: str = "directive text") -> str:
    """The text, checked: a non-empty string, bounded, with no `${env.X}` reference (it is outside input,
    never resolved, and playbooks bind `{{directive}}` into step parameters)."""
    if not isinstance(text, str):
        raise DirectiveTextError(f"{where} must be a string, not {type(text).__name__}")
    if not text.strip():
        raise DirectiveTextError(f"{where} is empty")
    if len(text) > MAX_DIRECTIVE_CHARS:
        raise DirectiveTextError(f"{where} is {len(text)} characters; at most {MAX_DIRECTIVE_CHARS}")
    if ENV_REF.search(text):
        raise DirectiveTextError(f"{where} contains an ${{env.…}} reference; such references are not allowed")
    return text


def one_off_snapshot(text: str) -> dict[str, Any]:
    return {"version": None, "name": None, "text": text, "one_off": True}
