"""One runner per mission: concurrent runners of one mission on a real Prefect API, SQLite and
PostgreSQL. Every step runs exactly once, one runner does the work, the others say why they stopped."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.flows.mission import run_mission
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus, ToolExecutionStatus
from hopflow.models.orm import Event, Mission, ToolStep
from hopflow.tasks.missions import MissionResult, create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from hopflow.tasks.tools import ToolContext
from hopflow.tasks.tools.registry import tool, unregister_tool
from pydantic import BaseModel

pytestmark = pytest.mark.flows

RUNNERS = 4
STEPS = 10


def ten_step_spec() -> dict[str, Any]:
    steps = [
        {
            "tool": "noop.sleep",
            "parameter_mapping": {"seconds": {"literal": 0.05}},
            "result_mapping": {"slept_seconds": {"asset": f"slept_{n}"}},
        }
        for n in range(STEPS)
    ]
    return {"name": "ten-steps", "hops": [{"name": "all", "steps": steps}]}


def store(spec: dict[str, Any]) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        return create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id


@pytest.mark.slow
def test_concurrent_runners_run_every_step_exactly_once(hopflow_env: str) -> None:
    mission_id = store(ten_step_spec())
    barrier = threading.Barrier(RUNNERS)
    results: list[MissionResult] = []
    errors: list[BaseException] = []

    def runner() -> None:
        barrier.wait()
        try:
            results.append(run_mission(mission_id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(RUNNERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert len(results) == RUNNERS

    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.status == MissionStatus.COMPLETED
        assert mission.lease_owner is None  # the winner let go
        winner = mission.flow_run_id
        steps = session.scalars(sa.select(ToolStep)).all()
        assert len(steps) == STEPS
        assert {s.status for s in steps} == {ToolExecutionStatus.COMPLETED}
        assert [s.attempts for s in steps] == [1] * STEPS
        claims = session.scalar(
            sa.select(sa.func.count())
            .select_from(Event)
            .where(
                Event.subject_type == "tool_steps",
                Event.action == "status_changed",
                Event.after["status"].as_string() == "executing",
            )
        )
        assert claims == STEPS

    workers = [r for r in results if r.held_by is None and not r.already_finished]
    assert len(workers) == 1, results
    assert workers[0].status == MissionStatus.COMPLETED
    for other in results:
        if other is workers[0]:
            continue
        # stopped because the winner held the mission, or because it was done by the time it looked
        assert other.held_by == winner or other.already_finished, other


class FlakyInput(BaseModel):
    value: int


class FlakyOutput(BaseModel):
    value: int


def test_each_attempt_of_a_retried_step_has_its_own_idempotency_key(hopflow_env: str) -> None:
    keys: list[str | None] = []

    @tool("test.fails-once", retries=1)
    def fails_once(params: FlakyInput, ctx: ToolContext) -> FlakyOutput:
        keys.append(ctx.idempotency_key)
        if len(keys) == 1:
            raise RuntimeError("first attempt fails")
        return FlakyOutput(value=params.value)

    try:
        spec = {
            "name": "retried",
            "hops": [
                {
                    "name": "once",
                    "steps": [
                        {
                            "tool": "test.fails-once",
                            "parameter_mapping": {"value": {"literal": 3}},
                            "result_mapping": {"value": {"asset": "three", "role": "output"}},
                        }
                    ],
                }
            ],
        }
        result = run_mission(store(spec))
    finally:
        unregister_tool("test.fails-once")
    assert result.status == MissionStatus.COMPLETED
    with session_scope() as session:
        step = session.scalars(sa.select(ToolStep)).one()
        assert step.attempts == 2 and step.status == ToolExecutionStatus.COMPLETED
        assert keys == [f"{step.id}:1", f"{step.id}:2"]


def test_a_timed_out_attempt_is_retried_and_counted(hopflow_env: str) -> None:
    calls: list[str | None] = []

    @tool("test.slow-once", retries=1, timeout_seconds=2)
    def slow_once(params: FlakyInput, ctx: ToolContext) -> FlakyOutput:
        calls.append(ctx.idempotency_key)
        if len(calls) == 1:
            time.sleep(5)  # past the 2 s time-out: Prefect marks the attempt timed out and retries it
        return FlakyOutput(value=params.value)

    try:
        spec = {
            "name": "timed-out",
            "hops": [
                {
                    "name": "once",
                    "steps": [
                        {
                            "tool": "test.slow-once",
                            "parameter_mapping": {"value": {"literal": 4}},
                            "result_mapping": {"value": {"asset": "four", "role": "output"}},
                        }
                    ],
                }
            ],
        }
        result = run_mission(store(spec))
    finally:
        unregister_tool("test.slow-once")
    assert result.status == MissionStatus.COMPLETED
    with session_scope() as session:
        step = session.scalars(sa.select(ToolStep)).one()
        assert step.attempts == 2 and step.status == ToolExecutionStatus.COMPLETED
        assert calls == [f"{step.id}:1", f"{step.id}:2"]
