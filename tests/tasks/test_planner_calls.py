"""A planner's model call: made with no database transaction open, retried as its tool says, and
every call (a failed attempt's too) saved as an llm_calls row of the mission. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import get_engine, session_scope
from hopflow.models.enums import HopStatus, MissionStatus
from hopflow.models.orm import Hop, LLMCall, Mission
from hopflow.tasks.llm import LLMCallRecord
from hopflow.tasks.missions import create_mission_from_spec, prepare_next_hop, start_mission
from hopflow.tasks.specs import parse_mission_spec
from hopflow.tasks.tools import ToolContext
from hopflow.tasks.tools.planners import PlannerOutput
from hopflow.tasks.tools.registry import tool, unregister_tool
from pydantic import BaseModel
from sqlalchemy import event


class FlakyInput(BaseModel):
    state: dict[str, Any]


class Probe:
    def __init__(self) -> None:
        self.open_transactions = 0
        self.seen_open: list[int] = []
        self.keys: list[str | None] = []
        self.lock = threading.Lock()


@pytest.fixture
def probe(hopflow_env: str) -> Iterator[Probe]:
    """Registers test.flaky-planner (fails once, then proposes a final hop) and counts open transactions."""
    probe = Probe()
    engine = get_engine(hopflow_env)

    def began(conn: Any) -> None:
        with probe.lock:
            probe.open_transactions += 1

    def ended(conn: Any) -> None:
        with probe.lock:
            probe.open_transactions -= 1

    event.listen(engine, "begin", began)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)

    @tool("test.flaky-planner", retries=1)
    def flaky(params: FlakyInput, ctx: ToolContext) -> PlannerOutput:
        probe.seen_open.append(probe.open_transactions)
        probe.keys.append(ctx.idempotency_key)
        ctx.llm_calls.append(
            LLMCallRecord(
                provider="offline",
                model="m",
                prompt_slug="plan",
                purpose="plan",
                used_by="test.flaky-planner",
                prompt_tokens=10,
                completion_tokens=5,
                duration_ms=1,
            )
        )
        if len(probe.seen_open) == 1:
            raise RuntimeError("the model timed out")
        return PlannerOutput(
            hop={
                "name": "echo",
                "is_final": True,
                "steps": [
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"literal": 1}},
                        "result_mapping": {"value": {"asset": "one", "role": "output"}},
                    }
                ],
            }
        )

    try:
        yield probe
    finally:
        unregister_tool("test.flaky-planner")
        event.remove(engine, "begin", began)
        event.remove(engine, "commit", ended)
        event.remove(engine, "rollback", ended)


def test_planner_runs_outside_transactions_with_retries_and_its_calls_saved(probe: Probe) -> None:
    spec = {"name": "planned", "planner": {"tool": "test.flaky-planner", "max_hops": 3}}
    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id
    start = start_mission(mission_id, "run-1")
    assert start.held_by is None
    nxt = prepare_next_hop(mission_id, "run-1", owner=start.owner)
    assert nxt is not None and nxt.is_final and nxt.name == "echo"
    assert probe.seen_open == [0, 0]  # both attempts ran with no transaction open
    assert probe.keys[0] != probe.keys[1]  # one idempotency key per attempt
    with session_scope() as session:
        calls = session.scalars(sa.select(LLMCall).where(LLMCall.mission_id == mission_id)).all()
        assert len(calls) == 2 and {c.flow_run_id for c in calls} == {"run-1"}
        assert sum(c.prompt_tokens for c in calls) == 20
        hop = session.scalars(sa.select(Hop).where(Hop.mission_id == mission_id)).one()
        assert hop.status == HopStatus.READY_TO_EXECUTE
        assert session.get(Mission, mission_id).status == MissionStatus.HOP_READY_TO_EXECUTE


def test_a_planner_that_fails_for_good_still_has_its_calls_saved(probe: Probe) -> None:
    spec = {"name": "planned", "planner": {"tool": "test.flaky-planner", "max_hops": 3}}
    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id
    start = start_mission(mission_id, "run-2")
    probe.seen_open.extend([0, 0])  # the tool now fails on its first call only: make both fail
    unregister_tool("test.flaky-planner")

    @tool("test.flaky-planner", retries=1)
    def always_fails(params: FlakyInput, ctx: ToolContext) -> PlannerOutput:
        ctx.llm_calls.append(
            LLMCallRecord(
                provider="offline",
                model="m",
                prompt_slug="plan",
                purpose="plan",
                used_by="test.flaky-planner",
                prompt_tokens=7,
                completion_tokens=1,
                duration_ms=1,
            )
        )
        raise RuntimeError("the model is down")

    with pytest.raises(RuntimeError, match="the model is down"):
        prepare_next_hop(mission_id, "run-2", owner=start.owner)
    with session_scope() as session:
        tokens = session.scalars(
            sa.select(LLMCall.prompt_tokens).where(LLMCall.mission_id == mission_id)
        ).all()
        assert tokens == [7, 7]
