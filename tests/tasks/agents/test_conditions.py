"""The safe condition evaluator and placeholder binding: pure functions, no database, no Prefect."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hopflow.tasks.agents import (
    BindingError,
    ConditionError,
    bind_placeholders,
    env_var_name,
    evaluate_condition,
    parse_condition,
    render_name,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"threshold": 50, "vip": True, "shop": "acme", "tags": ["a", "b"]},
    "payload": {"cart_value": 80, "customer": {"email": "ann@example.com"}, "items": [{"sku": "x"}]},
    "directive": "watch big carts",
    "trigger_type": "webhook",
    "window_start": None,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cart_value > 50", True),  # seed 001's form: a bare name is a payload key
        ("cart_value > 100", False),
        ("payload.cart_value >= inputs.threshold and inputs.vip", True),
        ("not inputs.vip or cart_value < 10", False),
        ("endswith(payload.customer.email, '@example.com')", True),
        ("lower(inputs.shop) == 'acme'", True),
        ("payload.missing is None", True),
        ("payload['items'][0].sku == 'x'", True),
        ("len(inputs.tags) == 2 and 'b' in inputs.tags", True),
        ("trigger_type in ['webhook', 'event']", True),
        ("window_start is None", True),
        ("1 < cart_value < 100", True),
        ("(cart_value - 30) / 2 == 25", True),
        ("'big' if cart_value > 50 else ''", True),
        ("directive and 'big' in directive", True),
        ("true and not false", True),
        ("shop == 'acme'", True),  # falls back to inputs when the payload has no such key
    ],
)
def test_condition_evaluates_over_inputs_payload_and_run_facts(expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, CONTEXT) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("inputs.shop | upper == 'ACME'", True),  # Jinja filters, as in prefect.yaml
        ("inputs.tags | join(',') == 'a,b'", True),
        ("payload.cart_value is number and inputs.threshold is divisibleby 10", True),
        ("payload.missing is none", True),
        ("2 ** 64 > 0", True),
    ],
)
def test_condition_speaks_jinja(expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, CONTEXT) is expected


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("__import__('os').system('true')", "'__import__' is not allowed"),
        ("payload.__class__", "'__class__' is not allowed"),
        ("payload['__class__']", "'__class__' is not allowed"),
        ("self.__init__.__globals__", "'__globals__' is not allowed"),
        ("inputs.__class__.mro()", "'__class__' is not allowed"),
        ("inputs.shop.mro()", "only these functions may be called"),
        ("inputs.shop.upper()", "only these functions may be called"),
        ("range(1000000000) | length", "only these functions may be called"),
        ("lipsum(1000000)", "only these functions may be called"),
        ("inputs.shop | center(1000000000)", "filter 'center' is not allowed"),
        ("inputs.shop | attr('upper')", "filter 'attr' is not allowed"),
        ("inputs.shop is sameas inputs", "test 'sameas' is not allowed"),
        ("(lambda: 1)()", "not a valid expression"),
        ("[x for x in inputs.tags]", "not a valid expression"),
        ("cart_value >", "not a valid expression"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_condition_refuses_what_the_sandbox_does_not_allow(expression: str, complaint: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(complaint)):
        parse_condition(expression)


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("'a' * 1000000000", "* works on numbers only"),
        ("inputs.tags * 1000000000", "* works on numbers only"),
        ("'%0999999999d' % 1", "% works on numbers only"),
        ("2 ** 100000", "exponent above 64"),
        ("payload.missing > 5", "'>' not supported"),
        ("unknown_name == 1", "'unknown_name' is undefined"),
        ("unknown_name.x.y", "'unknown_name' is undefined"),
        ("inputs.shop.first", "only keys of objects can be read"),
        ("cart_value / 0", "division by zero"),
        ("startswith(5, 'a')", "takes strings"),
    ],
)
def test_condition_fails_clearly_on_bad_values(expression: str, complaint: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(complaint)):
        evaluate_condition(expression, CONTEXT)


def test_whole_placeholder_keeps_the_bound_type_and_embedded_ones_become_text() -> None:
    bound = bind_placeholders(
        {
            "number": "{{inputs.threshold}}",
            "object": "{{ payload.customer }}",
            "list": ["{{inputs.tags}}", "{{inputs.vip}}"],
            "text": "shop {{inputs.shop}} cart {{payload.cart_value}} customer {{payload.customer}}",
            "missing": "{{payload.nope}}",
            "missing_in_text": "[{{payload.nope}}]",
            "plain": "no placeholders",
            "secret": "Bearer {{inputs.token}}",
        },
        {**CONTEXT, "inputs": {**CONTEXT["inputs"], "token": "${env.SHOP_TOKEN}"}},
    )
    assert bound == {
        "number": 50,
        "object": {"email": "ann@example.com"},
        "list": [["a", "b"], True],
        "text": 'shop acme cart 80 customer {"email":"ann@example.com"}',
        "missing": None,
        "missing_in_text": "[]",
        "plain": "no placeholders",
        # a secret stays a reference: the step runner resolves it at run time, never at rest
        "secret": "Bearer ${env.SHOP_TOKEN}",
    }


def test_unknown_placeholder_root_is_an_error() -> None:
    with pytest.raises(BindingError, match="unknown placeholder"):
        bind_placeholders("{{secrets.x}}", CONTEXT)


def test_placeholders_take_jinja_filters_and_refuse_blocks_and_unsafe_filters() -> None:
    assert bind_placeholders("{{ inputs.shop | upper }}", CONTEXT) == "ACME"
    assert bind_placeholders("tags: {{ inputs.tags | join(', ') }}", CONTEXT) == "tags: a, b"
    assert bind_placeholders("{{ payload.customer.email | default('none') }}", CONTEXT) == "ann@example.com"
    with pytest.raises(BindingError, match="blocks are not allowed"):
        bind_placeholders("{% for i in range(100000) %}x{% endfor %}", CONTEXT)
    with pytest.raises(BindingError, match="filter 'center' is not allowed"):
        bind_placeholders("{{ inputs.shop | center(1000000000) }}", CONTEXT)
    with pytest.raises(BindingError, match="'__class__' is not allowed"):
        bind_placeholders("{{ payload.__class__ }}", CONTEXT)


def test_bound_payload_text_is_never_rendered_again() -> None:
    """A payload holding template syntax is data: it is spliced in as it is, not evaluated."""
    context = {**CONTEXT, "payload": {"note": "{{ inputs.shop }} {% for x in y %}"}}
    text = bind_placeholders("note: {{ payload.note }}", context)
    assert text == "note: {{ inputs.shop }} {% for x in y %}"
    assert bind_placeholders("{{ payload.note }}", context) == "{{ inputs.shop }} {% for x in y %}"


def test_name_templates_render_per_configuration() -> None:
    context = {
        "instance_id": "c-1",
        "workspace_id": "w-9",
        "configuration": "acme-shop",
        "definition_id": "a",
    }
    assert render_name("sentinel_{{workspace_id}}_{{instance_id}}", context) == "sentinel_w-9_c-1"
    assert render_name("/hooks/{{configuration}}/orders", context) == "/hooks/acme-shop/orders"
    assert env_var_name(render_name("{{configuration}}_SECRET", context)) == "ACME_SHOP_SECRET"
