"""Bounded parsing of documents from outside: YAML alias bombs, deep nesting, NaN, NUL, big integers."""

from __future__ import annotations

import pytest
from hopflow.models.documents import MAX_DEPTH, DocumentError, data_problem, load_json, load_yaml

BOMB = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def test_yaml_alias_bomb_is_refused_before_it_expands() -> None:
    with pytest.raises(DocumentError, match="expands to more than 1000000 nodes through YAML aliases"):
        load_yaml(BOMB)
    with pytest.raises(DocumentError, match="refers to a node that contains it"):
        load_yaml("a: &a [1, *a]")
    assert load_yaml("base: &b {x: 1}\nuse: [*b, *b]") == {"base": {"x": 1}, "use": [{"x": 1}, {"x": 1}]}


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 3000])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(levels: int) -> None:
    text = "[" * levels + "]" * levels
    with pytest.raises(DocumentError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_yaml(text)
    with pytest.raises(DocumentError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json(text)
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_json_keeps_big_integers_exact_and_refuses_nan_and_infinity() -> None:
    assert load_json('{"n": 10000000000000000000000000000000000000000}') == {"n": 10**40}
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(DocumentError, match="not a JSON number"):
            load_json(f'{{"n": {constant}}}')
    problem = data_problem({"a": [1, {"b": float("nan")}]})
    assert problem == "nan is not a JSON number (NaN and Infinity are refused) (at a[1].b)"


def test_nul_characters_are_named() -> None:
    assert data_problem({"name": "a\x00b"}) == "a string holds a NUL character (at name)"
    assert data_problem({"k\x00": 1}) == "a key holds a NUL character"
    with pytest.raises(DocumentError, match="NUL"):
        load_json('{"a": "x\\u0000"}')
