"""`${env.NAME}` references: resolved from the environment at run time, redacted everywhere at rest."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

ENV_REF = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "***"
# Keys whose values are redacted in snapshots even when given literally.
SECRET_KEY_HINTS = ("secret", "password", "token", "api_key", "apikey", "authorization")


class MissingSecretError(LookupError):
    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"{where}: environment variable {name!r} referenced as ${{env.{name}}} is not set")
        self.name = name


def has_env_refs(value: Any) -> bool:
    if isinstance(value, str):
        return ENV_REF.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_env_refs(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_env_refs(v) for v in value)
    return False


def resolve_env_refs(value: Any, env: Mapping[str, str] | None = None, where: str = "value") -> Any:
    """A copy of `value` with every `${env.NAME}` replaced by its value; a missing one is an error."""
    env = os.environ if env is None else env
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise MissingSecretError(name, where)
            return env[name]

        return ENV_REF.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: resolve_env_refs(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_env_refs(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def redact(value: Any) -> Any:
    """A copy safe to store: every `${env.X}` reference becomes ***, and secret-named keys are masked."""
    if isinstance(value, str):
        return ENV_REF.sub(REDACTED, value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and any(h in k.lower() for h in SECRET_KEY_HINTS) and v not in (None, ""):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def scrub(text: str, secrets: list[str]) -> str:
    """Remove resolved secret values from free text (error messages, log lines)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def secret_values(value: Any, env: Mapping[str, str] | None = None) -> list[str]:
    """The environment values `value` references: what must never reach a log or a row."""
    env = os.environ if env is None else env
    found: list[str] = []
    if isinstance(value, str):
        found += [env[m] for m in ENV_REF.findall(value) if m in env]
    elif isinstance(value, Mapping):
        for v in value.values():
            found += secret_values(v, env)
    elif isinstance(value, list | tuple):
        for v in value:
            found += secret_values(v, env)
    return found
