"""A planner's proposed hop is tool output, on SQLite and PostgreSQL: its `${env.X}` text is stored
escaped and reaches the tool as written, never as the variable's value."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.orm import ToolStep
from hopflow.tasks.missions import create_mission_from_spec, prepare_next_hop, start_mission
from hopflow.tasks.specs import parse_mission_spec
from hopflow.tasks.steps import load_parameters

LEAK_ENV = "HOPFLOW_TEST_PLANNER_LEAK"


def test_a_planned_hops_env_reference_is_text_not_a_value(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEAK_ENV, "planner-leak-value-0042")
    hop = {"name": "echo", "steps": [{"tool": "noop.echo", "parameter_mapping": {
        "value": {"literal": {f"${{env.{LEAK_ENV}}}": [f"say ${{env.{LEAK_ENV}}}"]}}},
        "result_mapping": {"value": {"asset": "said", "role": "output"}}}]}  # fmt: skip
    planner = {"tool": "planner.checklist", "parameter_mapping": {"checklist": {"literal": [hop]}}}
    spec = {"name": "planned", "planner": planner}
    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id
    start_mission(mission_id, None)
    assert prepare_next_hop(mission_id) is not None
    with session_scope() as session:
        step = session.scalars(sa.select(ToolStep)).one()
        params = load_parameters(step.parameter_mapping)  # what the step runner hands the tool
        stored = step.parameter_mapping["value"]["json"]
    ref = f"${{env.{LEAK_ENV}}}"
    assert f"${ref}" in stored and "planner-leak-value" not in stored  # stored escaped
    assert params == {"value": {ref: [f"say {ref}"]}}
