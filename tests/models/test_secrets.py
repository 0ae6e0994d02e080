"""`${env.X}` escaping, resolution and scrubbing: pure, no database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hopflow.models.secrets import (
    REDACTED,
    ShortSecretError,
    escape_env_refs,
    has_env_refs,
    resolve_env_refs,
    scrub,
    secret_values,
)
from pydantic import BaseModel, ValidationError

ENV = {"PW": "hunter2-but-longer", "TOKEN": "tok_" + "0123456789abcdefghijklmnopqrstuvwxyz" * 2}


@pytest.mark.parametrize(
    "outside",
    [
        "${env.PW}",
        {"${env.PW}": "${env.PW}", "list": ["${env.PW}", {"deep": ["x ${env.PW} y"]}]},
        "$${env.PW} and $$${env.PW}",
        ["plain", 1, None, 2.5, True],
    ],
)
def test_escaped_outside_data_resolves_back_to_itself_never_to_a_value(outside: Any) -> None:
    escaped = escape_env_refs(outside)
    assert not has_env_refs(escaped) and secret_values(escaped, ENV) == []
    assert resolve_env_refs(escaped, ENV) == outside
    # spliced as JSON text into an operator's literal: the operator's reference resolves, the data does not
    literal = f"Bearer ${{env.TOKEN}} order {json.dumps(escaped)}"
    assert resolve_env_refs(literal, ENV) == f"Bearer {ENV['TOKEN']} order {json.dumps(outside)}"
    assert ENV["PW"] not in resolve_env_refs(literal, ENV)


def test_short_secrets_are_refused_where_resolved_as_secrets() -> None:
    with pytest.raises(ShortSecretError, match=r"'S' referenced as \$\{env.S\} holds 3 characters"):
        resolve_env_refs({"a": "${env.S}"}, {"S": "abc"}, where="step 1", min_length=8)
    # not every reference is a secret: a mission spec's `seconds: ${env.SLEEP}` may well be "0"
    assert resolve_env_refs("${env.S}", {"S": "0"}) == "0"


class Strict(BaseModel):
    seconds: float


@pytest.mark.parametrize(
    "secret",
    [
        "tok_" + "0123456789abcdefghijklmnopqrstuvwxyz" * 2,  # long: pydantic shortens it in errors
        "C:\\keys\\prod\\k3y-with\\backslashes",  # repr doubles the backslashes
        'quote"and\'apostrophe-and-\u00e9-unicode',  # JSON-escaped
        "a b/c?d=e&f+g%h",  # URL-encoded
    ],
)
def test_every_shape_and_every_8_char_piece_of_a_secret_is_scrubbed(secret: str) -> None:
    try:
        Strict.model_validate({"seconds": secret})
    except ValidationError as exc:
        pydantic_error = str(exc)
    shapes = {
        "raw": f"failed: {secret}.",
        "repr": f"failed: {secret!r}",
        "repr twice": repr(f"{secret!r}"),
        "json": json.dumps({"error": secret}),
        "json ascii-free": json.dumps({"error": secret}, ensure_ascii=False),
        "url": f"http://x/?t={quote(secret, safe='')}&u={quote_plus(secret)}",
        "pydantic": pydantic_error,
        "piece": f"...{secret[3:11]}...",
    }
    for name, text in shapes.items():
        cleaned = scrub(text, [secret])
        assert REDACTED in cleaned, name
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in cleaned, (name, cleaned)


def test_scrub_leaves_text_without_secrets_alone() -> None:
    text = "step 1.1 (http.get) failed: 404 Not Found"
    assert scrub(text, [ENV["TOKEN"]]) == text and scrub(text, []) == text
