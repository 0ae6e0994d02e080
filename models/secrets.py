"""`${env.NAME}` references: resolved from the environment at run time, only in operator-written text;
escaped in outside data; redacted everywhere at rest; resolved values scrubbed in every shape."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A reference: `${env.NAME}` not preceded by another `$` (`$${env.NAME}` is its escaped form).
ENV_REF = re.compile(r"(?<!\$)\$\{env\.(" + _NAME + r")\}")
# A run of `$` then `{env.NAME}`: one `$` is a reference, n > 1 the escape of n-1 `$` and the text.
_DOLLARS_REF = re.compile(r"(\$+)(\{env\.(" + _NAME + r")\})")
REDACTED = "***"
# Shorter secrets cannot be scrubbed from free text without destroying it: an agent configuration's
# references (its secrets) are refused below this, at configure time and when a run starts.
MIN_SECRET_CHARS = 8
# Keys whose values are redacted in snapshots even when given literally.
SECRET_KEY_HINTS = ("secret", "password", "token", "api_key", "apikey", "authorization")


class MissingSecretError(LookupError):
    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"{where}: environment variable {name!r} referenced as ${{env.{name}}} is not set")
        self.name = name


class ShortSecretError(ValueError):
    def __init__(self, name: str, where: str, length: int) -> None:
        head = f"{where}: " if where else ""
        super().__init__(
            f"{head}environment variable {name!r} referenced as ${{env.{name}}} holds {length} "
            f"character{'s' if length != 1 else ''}; a secret needs at least {MIN_SECRET_CHARS} "
            "(a shorter one cannot be scrubbed from logs and errors)"
        )
        self.name = name


def has_env_refs(value: Any) -> bool:
    if isinstance(value, str):
        return ENV_REF.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_env_refs(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_env_refs(v) for v in value)
    return False


def escape_env_refs(value: Any) -> Any:
    """A copy of outside data (payload, asset, tool output) that the resolver leaves as written:
    every `${env.X}`, in strings and keys at any depth, gets one more `$` (the resolver drops it)."""
    if isinstance(value, str):
        return _DOLLARS_REF.sub(lambda m: "$" + m.group(0), value)
    if isinstance(value, Mapping):
        return {escape_env_refs(k): escape_env_refs(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_env_refs(v) for v in value]
    return value


def _unescape(text: str) -> str:
    return _DOLLARS_REF.sub(lambda m: m.group(0)[1:] if len(m.group(1)) > 1 else m.group(0), text)


def resolve_env_refs(
    value: Any, env: Mapping[str, str] | None = None, where: str = "value", *, min_length: int = 0
) -> Any:
    """A copy of `value` with every `${env.NAME}` replaced by its value (a missing one, or one shorter
    than `min_length` where the values are secrets, is an error) and every escaped `$${env.NAME}` given
    back as the text `${env.NAME}`. Keys are never resolved, only unescaped."""
    env = os.environ if env is None else env
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            if len(match.group(1)) > 1:
                return match.group(0)[1:]
            name = match.group(3)
            if name not in env:
                raise MissingSecretError(name, where)
            if len(env[name]) < min_length:
                raise ShortSecretError(name, where, len(env[name]))
            return env[name]

        return _DOLLARS_REF.sub(sub, value)
    if isinstance(value, Mapping):
        return {
            _unescape(k) if isinstance(k, str) else k: resolve_env_refs(
                v, env, f"{where}.{k}", min_length=min_length
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [resolve_env_refs(v, env, f"{where}[{i}]", min_length=min_length) for i, v in enumerate(value)]
    return value


def short_secrets(value: Any, env: Mapping[str, str] | None = None) -> list[str]:
    """Why each reference in `value` whose variable is set is too short to be a secret (configure time:
    refused before anything is stored, rather than at the first run)."""
    env = os.environ if env is None else env
    found: list[str] = []
    if isinstance(value, str):
        for name in ENV_REF.findall(value):
            if name in env and len(env[name]) < MIN_SECRET_CHARS:
                found.append(str(ShortSecretError(name, "", len(env[name]))))
    elif isinstance(value, Mapping):
        for v in value.values():
            found += short_secrets(v, env)
    elif isinstance(value, list | tuple):
        for v in value:
            found += short_secrets(v, env)
    return found


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


def representations(secret: str) -> set[str]:
    """The shapes a secret takes in text: raw, repr (once and twice: `!r` of an error holding `!r`),
    JSON-escaped (ASCII or not), URL-encoded."""
    shapes = {secret}
    for shape in list(shapes):
        once = repr(shape)[1:-1]
        shapes |= {once, repr(once)[1:-1]}
    for shape in list(shapes):
        shapes |= {json.dumps(shape)[1:-1], json.dumps(shape, ensure_ascii=False)[1:-1]}
    shapes |= {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    return {s for s in shapes if s}


@lru_cache(maxsize=256)
def _grams(
    secrets: tuple[str, ...],
) -> tuple[frozenset[str], frozenset[str], re.Pattern[str], tuple[str, ...]]:
    """(every MIN_SECRET_CHARS-long piece of every shape of the long secrets, every half-long piece of
    those, a pattern of the runs of text made only of their characters, the shapes of short ones)."""
    grams: set[str] = set()
    halves: set[str] = set()
    exact: set[str] = set()
    n, h = MIN_SECRET_CHARS, MIN_SECRET_CHARS // 2
    for secret in secrets:
        for shape in representations(secret):
            if len(shape) >= n:
                grams.update(shape[i : i + n] for i in range(len(shape) - n + 1))
                halves.update(shape[i : i + h] for i in range(len(shape) - h + 1))
            elif len(shape) >= 4:  # too short to be an agent's secret; still not echoed where seen
                exact.add(shape)
    chars = "".join(sorted({c for g in grams for c in g}))
    runs = re.compile(f"[{re.escape(chars)}]{{{n},}}" if chars else r"(?!)")
    return frozenset(grams), frozenset(halves), runs, tuple(sorted(exact, key=len, reverse=True))


def scrub(text: str, secrets: list[str]) -> str:
    """Remove resolved secret values from free text (error messages, log lines): any piece of
    MIN_SECRET_CHARS or more characters of any of their shapes (raw, repr, JSON, URL-encoded) becomes
    ***, so a shortened or escaped echo is caught too."""
    wanted = tuple(sorted({s for s in secrets if s}))
    if not wanted or not text:
        return text
    grams, halves, runs, exact = _grams(wanted)
    n, h = MIN_SECRET_CHARS, MIN_SECRET_CHARS // 2
    covered: bytearray | None = None
    # Only runs of n+ characters that all occur in a secret's shapes can hold a piece of one (found in
    # C); in a run, a piece starting at i holds the h-aligned half at p = i rounded up to h: look up
    # aligned halves only, and check the n-windows around a hit.
    for run in runs.finditer(text) if grams else ():
        start, end = run.span()
        for p in range(start + (-start) % h, end - h + 1, h):
            if text[p : p + h] not in halves:
                continue
            for i in range(max(start, p - h), min(p, end - n) + 1):
                if text[i : i + n] in grams:
                    covered = covered if covered is not None else bytearray(len(text))
                    covered[i : i + n] = b"\x01" * n
    if covered is not None:
        out: list[str] = []
        i = 0
        while i < len(text):
            j = i
            if covered[i]:
                while j < len(text) and covered[j]:
                    j += 1
                out.append(REDACTED)
            else:
                j = covered.find(1, i)
                j = len(text) if j < 0 else j
                out.append(text[i:j])
            i = j
        text = "".join(out)
    for shape in exact:
        text = text.replace(shape, REDACTED)
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
