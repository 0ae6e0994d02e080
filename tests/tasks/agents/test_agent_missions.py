"""A playbook becomes a mission spec: one hop per step that holds, placeholders bound, secrets kept as
references, delays as a visible wait step. Pure: no database, no Prefect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hopflow.models.enums import TriggerType
from hopflow.models.schemas.agents import PlaybookStepSpec
from hopflow.models.schemas.specs import LiteralValue
from hopflow.tasks.agents import (
    AgentRunContext,
    ConditionError,
    build_mission_spec,
    check_payload,
    input_schema,
)
from hopflow.tasks.specs import check_mission_spec

from tests.tasks.agents.factories import BASE, SECRET_ENV, SECRET_VALUE

WINDOW_START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def context(
    payload: dict[str, Any], steps: list[dict[str, Any]] | None = None, **inputs: Any
) -> AgentRunContext:
    return AgentRunContext(
        run_id="run-1",
        configuration_id="config-1",
        configuration_name="shop-a",
        definition_id="agent_900",
        definition_name="TestSentinel",
        definition_version="1.0.0",
        trigger_type=TriggerType.WEBHOOK,
        playbook="order_brief",
        steps=steps or BASE["playbooks"][0]["steps"],
        inputs={
            "shop": "Test Shop",
            "token": f"${{env.{SECRET_ENV}}}",
            "threshold": 100,
            "order": None,
            **inputs,
        },
        payload=payload,
        directive_text="watch big orders",
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        started_at=WINDOW_END,
    )


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)


def literal(spec: Any, hop: int, step: int, param: str) -> Any:
    value = spec.hops[hop].steps[step].parameter_mapping[param]
    assert isinstance(value, LiteralValue)
    return value.literal


def test_each_holding_step_becomes_a_hop_with_bound_literals() -> None:
    order = {"id": 7, "total": 300}
    spec, skipped = build_mission_spec(context({"order": order}, order=order))
    assert spec is not None and skipped == []
    assert [h.name for h in spec.hops] == ["auth", "order", "alert", "brief"]
    assert [[s.tool for s in h.steps] for h in spec.hops] == [
        ["text.count"],
        ["noop.echo"],
        ["report.build"],
        ["report.build"],
    ]
    assert literal(spec, 1, 0, "value") == order  # a whole placeholder keeps the object
    assert literal(spec, 2, 0, "title") == "Big order 7"
    assert literal(spec, 3, 0, "summary") == "directive: watch big orders"
    assert (
        literal(spec, 3, 0, "body")
        == f"via webhook from {WINDOW_START.isoformat()} to {WINDOW_END.isoformat()}"
    )
    # the secret stays a reference in what is stored; the step runner resolves it at run time
    assert literal(spec, 0, 0, "text") == f"Bearer ${{env.{SECRET_ENV}}}"
    assert SECRET_VALUE not in spec.model_dump_json()
    assert spec.metadata["playbook"] == "order_brief" and spec.metadata["agent_run_id"] == "run-1"
    assert check_mission_spec(spec) == []


def test_a_false_condition_skips_its_step() -> None:
    spec, skipped = build_mission_spec(context({"order": {"id": 8, "total": 5}}, order={"id": 8, "total": 5}))
    assert spec is not None and skipped == ["alert"]
    assert [h.name for h in spec.hops] == ["auth", "order", "brief"]


def test_conditions_see_resolved_inputs_in_memory_only() -> None:
    steps = [
        {
            "type": "noop.echo",
            "name": "only-with-token",
            "condition": f"inputs.token == '{SECRET_VALUE}'",
            "parameter_mapping": {"value": {"literal": "{{inputs.token}}"}},
        }
    ]
    spec, _ = build_mission_spec(context({}, steps))
    assert spec is not None and literal(spec, 0, 0, "value") == f"${{env.{SECRET_ENV}}}"


def test_delay_minutes_is_a_visible_wait_step_in_the_same_hop() -> None:
    steps = [
        {
            "type": "noop.echo",
            "name": "later",
            "delay_minutes": 1.5,
            "parameter_mapping": {"value": {"literal": 1}},
        }
    ]
    spec, _ = build_mission_spec(context({}, steps))
    assert spec is not None
    [hop] = spec.hops
    assert [(s.tool, s.name) for s in hop.steps] == [("noop.sleep", "wait 1.5 min"), ("noop.echo", "later")]
    assert literal(spec, 0, 0, "seconds") == 90


def test_every_condition_false_means_no_mission() -> None:
    steps = [{"type": "noop.echo", "condition": "false", "parameter_mapping": {"value": {"literal": 1}}}]
    spec, skipped = build_mission_spec(context({}, steps))
    assert spec is None and skipped == ["noop.echo"]


def test_a_condition_that_fails_names_the_step() -> None:
    steps = [{"type": "noop.echo", "name": "cmp", "condition": "payload.total > 5", "parameter_mapping": {}}]
    with pytest.raises(
        ConditionError, match=r"step 1 \(cmp\): condition 'payload.total > 5': TypeError: '>' not supported"
    ):
        build_mission_spec(context({}, steps))


def test_duplicate_step_names_get_distinct_hops() -> None:
    step = {"type": "noop.echo", "name": "echo", "parameter_mapping": {"value": {"literal": 1}}}
    spec, _ = build_mission_spec(context({}, [step, step]))
    assert spec is not None and [h.name for h in spec.hops] == ["echo", "echo#2"]


def test_payload_is_checked_against_the_inputs_and_env_references_are_refused() -> None:
    schema = input_schema(BASE["inputs"])
    assert check_payload(schema, {"order": {"id": 1}, "threshold": 3}) == []
    problems = [i.message for i in check_payload(schema, {"order": "x", "colour": 1, "shop": "${env.HOME}"})]
    assert any("wrong type for input 'order': expected json" in p for p in problems)
    assert any("unknown input 'colour'" in p for p in problems)
    assert any("${env.X} references are not accepted in a payload" in p for p in problems)
    assert "must be a JSON object" in check_payload(schema, [1, 2])[0].message


def test_playbook_step_fields_follow_seed_001() -> None:
    step = PlaybookStepSpec.model_validate(
        {
            "type": "llm.complete",
            "condition": "cart_value > 50",
            "delay_minutes": 10,
            "result_mapping": {"text": "t"},
        }
    )
    assert step.delay_minutes == 10 and step.result_mapping["text"].asset == "t"
    with pytest.raises(ValueError, match="less than or equal to 60"):
        PlaybookStepSpec.model_validate({"type": "noop.echo", "delay_minutes": 61})
