"""A step's claim and finish on SQLite and PostgreSQL (where each is one statement): the step, its
output assets and their events move together, and a claim that loses any part keeps none of it.
The mission's LeaseKeeper, entered before the lease is taken, keeps it once it is."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.leases import acquire_lease, read_lease_holder
from hopflow.models.access.step_runs import read_step_to_run
from hopflow.models.db import session_scope, statement_scope
from hopflow.models.enums import AssetStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Event, Mission, ToolStep, utcnow
from hopflow.tasks.leases import LeaseKeeper
from hopflow.tasks.missions import create_mission_from_spec, prepare_next_hop, start_mission
from hopflow.tasks.specs import parse_mission_spec
from hopflow.tasks.steps import StepNotClaimed, begin_step, complete_step
from pydantic import BaseModel

OWNER = "runner-a"


def one_step_mission() -> tuple[str, str, str]:
    """A started mission of one noop.echo step with one output asset: (mission, step, asset) ids."""
    spec = {
        "name": "one-step",
        "hops": [
            {
                "name": "only",
                "steps": [
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"literal": 7}},
                        "result_mapping": {"value": {"asset": "out"}},
                    }
                ],
            }
        ],
    }
    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id
    start_mission(mission_id, None, OWNER)
    hop = prepare_next_hop(mission_id, None, OWNER)
    assert hop is not None
    with session_scope() as session:
        step_id = session.execute(sa.select(ToolStep.id).where(ToolStep.hop_id == hop.hop_id)).scalar_one()
        _, assets = read_step_to_run(session, step_id)
    (asset_id,) = assets
    return mission_id, step_id, asset_id


def state(step_id: str, asset_id: str) -> tuple[ToolExecutionStatus, int, AssetStatus, Any, list[Any]]:
    """The step's status and attempts, the asset's status and content, and the status events of both."""
    with session_scope() as session:
        step = session.get(ToolStep, step_id)
        asset = session.get(Asset, asset_id)
        assert step is not None and asset is not None
        events = session.execute(
            sa.select(Event.subject_type, Event.before, Event.after)
            .where(Event.subject_id.in_([step_id, asset_id]), Event.action == "status_changed")
            .order_by(Event.created_at, Event.subject_type)
        ).all()
        return step.status, step.attempts, asset.status, asset.content, [tuple(e) for e in events]


class Echoed(BaseModel):
    value: int


def test_claim_then_finish_move_step_and_output_with_their_events(hopflow_env: str) -> None:
    _, step_id, asset_id = one_step_mission()
    _, _, _, _, events_before = state(step_id, asset_id)

    begun = begin_step(step_id, "task-run-1", owner=OWNER)
    status, attempts, asset_status, _, events = state(step_id, asset_id)
    assert (status, attempts, asset_status) == (ToolExecutionStatus.EXECUTING, 1, AssetStatus.IN_PROGRESS)
    new = events[len(events_before) :]
    assert ("tool_steps", {"status": "ready_to_execute"}, {"status": "executing"}) in new
    assert ("assets", {"status": "pending"}, {"status": "in_progress"}) in new

    outcome = complete_step(step_id, Echoed(value=7), [], None, begun)
    status, attempts, asset_status, content, events = state(step_id, asset_id)
    assert (status, attempts, asset_status) == (ToolExecutionStatus.COMPLETED, 1, AssetStatus.READY)
    assert content == 7
    assert outcome.outputs == {"out": "7"}
    assert ("tool_steps", {"status": "executing"}, {"status": "completed"}) in events
    assert ("assets", {"status": "in_progress"}, {"status": "ready"}) in events


def test_a_claim_whose_output_another_writer_moved_keeps_nothing(hopflow_env: str) -> None:
    _, step_id, asset_id = one_step_mission()
    before = state(step_id, asset_id)
    # Another writer moves the output between the claim's read and its write.
    real_read = read_step_to_run

    def read_then_race(session: Any, sid: str) -> Any:
        read = real_read(session, sid)
        with session_scope() as other:
            other.execute(sa.update(Asset).where(Asset.id == asset_id).values(status=AssetStatus.IN_PROGRESS))
        return read

    import hopflow.tasks.steps as steps

    mp = pytest.MonkeyPatch()
    mp.setattr(steps, "read_step_to_run", read_then_race)
    try:
        with pytest.raises(StepNotClaimed, match="asset 'out' was moved by another runner"):
            begin_step(step_id, "task-run-1", owner=OWNER)
    finally:
        mp.undo()
    status, attempts, _, _, events = state(step_id, asset_id)
    # The step's own move, made before the asset's was refused, was rolled back with its events.
    assert (status, attempts) == (before[0], before[1])
    assert events == before[4]


def test_a_claim_by_a_runner_without_the_lease_keeps_nothing(hopflow_env: str) -> None:
    mission_id, step_id, asset_id = one_step_mission()
    before = state(step_id, asset_id)
    with pytest.raises(Exception, match="lost its lease"):
        begin_step(step_id, "task-run-1", owner="runner-b")
    assert state(step_id, asset_id) == before
    with session_scope() as session:
        assert read_lease_holder(session, mission_id) == OWNER


def test_a_finish_by_an_attempt_that_was_taken_over_keeps_nothing(hopflow_env: str) -> None:
    _, step_id, asset_id = one_step_mission()
    begun = begin_step(step_id, "task-run-1", owner=OWNER)
    with session_scope() as session:  # another runner took the step over: a later attempt
        session.execute(sa.update(ToolStep).where(ToolStep.id == step_id).values(attempts=2))
    during = state(step_id, asset_id)
    with pytest.raises(StepNotClaimed, match="another runner took the step over"):
        complete_step(step_id, Echoed(value=7), [], None, begun)
    assert state(step_id, asset_id) == during
    assert during[2] == AssetStatus.IN_PROGRESS


def empty_mission(name: str) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        mission = Mission(user_id=user.id, name=name)
        session.add(mission)
        session.flush()
        return mission.id


def test_a_lease_keeper_entered_before_the_lease_is_taken_keeps_it(hopflow_env: str) -> None:
    mission_id = empty_mission("kept")
    with LeaseKeeper(mission_id, OWNER, seconds=0.9) as keeper:
        time.sleep(0.7)  # two renewals find no lease yet: the keeper must not give up
        with session_scope() as session:
            assert acquire_lease(session, mission_id, OWNER, seconds=0.9, now=utcnow()) is None
        keeper.held()
        time.sleep(2.0)  # over twice the lease: only the keeper's renewals keep it
        with session_scope() as session:
            assert read_lease_holder(session, mission_id) == OWNER
            expires = session.get(Mission, mission_id).lease_expires_at  # type: ignore[union-attr]
            assert expires is not None and expires > utcnow()
        assert not keeper.lost.is_set()
    with session_scope() as session:  # let go on exit
        assert read_lease_holder(session, mission_id) is None


def test_a_lease_keeper_reports_a_lease_lost_after_it_was_held(hopflow_env: str) -> None:
    mission_id = empty_mission("lost")
    with session_scope() as session:
        assert acquire_lease(session, mission_id, OWNER, seconds=0.9, now=utcnow()) is None
    with LeaseKeeper(mission_id, OWNER, seconds=0.9) as keeper:
        keeper.held()
        with session_scope() as session:  # another runner takes it over
            session.execute(sa.update(Mission).where(Mission.id == mission_id).values(lease_owner="runner-b"))
        assert keeper.lost.wait(3)


def hop_read(step_id: str) -> Any:
    """The hop's read of the step, as begin_hop leaves it for the claim."""
    with session_scope() as session:
        return read_step_to_run(session, step_id)


def test_a_claim_from_the_hops_read_reads_nothing_itself(hopflow_env: str) -> None:
    import hopflow.tasks.steps as steps

    _, step_id, asset_id = one_step_mission()
    steps.leave_reads({step_id: hop_read(step_id)})
    mp = pytest.MonkeyPatch()
    mp.setattr(steps, "read_step_to_run", lambda *_: pytest.fail("the claim read the step again"))
    try:
        begun = begin_step(step_id, "task-run-1", owner=OWNER)
    finally:
        mp.undo()
    assert begun.attempt == 1 and not begun.skip
    status, attempts, asset_status, _, events = state(step_id, asset_id)
    assert (status, attempts, asset_status) == (ToolExecutionStatus.EXECUTING, 1, AssetStatus.IN_PROGRESS)
    assert ("tool_steps", {"status": "ready_to_execute"}, {"status": "executing"}) in events
    assert step_id not in steps._reads  # used once


def test_a_stale_read_of_a_step_another_runner_finished_runs_nothing(hopflow_env: str) -> None:
    import hopflow.tasks.steps as steps

    _, step_id, asset_id = one_step_mission()
    stale = hop_read(step_id)  # read while the step was ready ...
    begun = begin_step(step_id, "task-run-1", owner=OWNER)  # ... then run to the end by another claim
    complete_step(step_id, Echoed(value=7), [], None, begun)
    done = state(step_id, asset_id)

    steps.leave_reads({step_id: stale})
    again = begin_step(step_id, "task-run-2", owner=OWNER)
    assert again.skip  # the compare-and-set missed, and the fresh read found it done
    assert state(step_id, asset_id) == done  # no second attempt, no event, nothing half-written


def test_a_single_statement_claim_that_loses_an_output_writes_nothing_at_all(hopflow_env: str) -> None:
    """On PostgreSQL the claim runs without a transaction: the statement alone must be all or nothing,
    which another session can see before the claimer's scope even ends."""
    from hopflow.models.access.step_runs import AssetMove, claim_step

    _, step_id, asset_id = one_step_mission()
    step, assets = hop_read(step_id)
    before = state(step_id, asset_id)
    with session_scope() as other:  # another writer moves the output after the read
        other.execute(sa.update(Asset).where(Asset.id == asset_id).values(status=AssetStatus.READY))
    moved_by_other = state(step_id, asset_id)
    with pytest.raises(StepNotClaimed), statement_scope() as conn:
        moves = [AssetMove(a, AssetStatus.IN_PROGRESS) for a in assets.values()]
        moved = claim_step(conn, step, step.status, moves, now=utcnow(), task_run_id="t", owner=OWNER)
        assert not moved.step and moved.stuck is not None and moved.stuck.id == asset_id
        if hopflow_env.startswith("postgresql"):
            assert state(step_id, asset_id) == moved_by_other  # seen from another session, at once
        raise StepNotClaimed("as the caller does")
    assert state(step_id, asset_id) == moved_by_other
    assert moved_by_other[:2] == before[:2]


def test_a_statement_unit_on_postgresql_has_no_transaction_around_it(hopflow_env: str) -> None:
    """What makes the claim one round trip: no BEGIN before its statement, no COMMIT after (on SQLite
    the unit is one transaction, rolled back when the block raises)."""
    mission_id = empty_mission("statement-unit")
    with pytest.raises(RuntimeError, match="after the write"), statement_scope() as conn:
        conn.execute(sa.update(Mission).where(Mission.id == mission_id).values(name="written"))
        dbapi: Any = conn.connection.dbapi_connection
        if hasattr(dbapi, "info"):  # psycopg: the server's transaction status (0: idle, none open)
            in_transaction = dbapi.info.transaction_status != 0
        else:  # sqlite3
            in_transaction = dbapi.in_transaction
        raise RuntimeError("after the write")
    with session_scope() as session:
        name = session.get(Mission, mission_id).name  # type: ignore[union-attr]
    if hopflow_env.startswith("postgresql"):
        assert (name, in_transaction) == ("written", False)  # the statement was its own transaction
    else:
        assert (name, in_transaction) == ("statement-unit", True)  # rolled back with the block
