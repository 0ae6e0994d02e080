"""Mission leases and step claims on SQLite and PostgreSQL: conditional UPDATEs that two racing
writers cannot both win, an expired lease taken over, a lost lease refused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.leases import LeaseLost, acquire_lease, release_lease, require_lease
from hopflow.models.access.status import compare_and_set
from hopflow.models.db import session_scope
from hopflow.models.enums import ToolExecutionStatus
from hopflow.models.orm import Hop, Mission, ToolStep, utcnow


def make_mission(url: str) -> tuple[str, str]:
    with session_scope(url) as session:
        user = ensure_user(session)
        mission = Mission(user_id=user.id, name="m")
        session.add(mission)
        session.flush()
        hop = Hop(mission_id=mission.id, user_id=user.id, sequence_order=1, name="h")
        session.add(hop)
        session.flush()
        step = ToolStep(
            hop_id=hop.id,
            user_id=user.id,
            tool_id="noop.echo",
            sequence_order=1,
            name="s",
            status=ToolExecutionStatus.READY_TO_EXECUTE,
        )
        session.add(step)
        session.flush()
        return mission.id, step.id


def race(n: int, fn) -> list:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    out: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return out


def test_racing_runners_one_takes_the_lease_the_others_see_it(db_url: str) -> None:
    mission_id, _ = make_mission(db_url)

    def take(i: int) -> str | None:
        with session_scope(db_url) as session:
            return acquire_lease(session, mission_id, f"runner-{i}", seconds=60, now=utcnow())

    holders = race(8, take)
    winners = [f"runner-{i}" for i, h in enumerate(holders) if h is None]
    assert len(winners) == 1
    assert {h for h in holders if h is not None} == set(winners)
    with session_scope(db_url) as session:
        assert session.get(Mission, mission_id).lease_owner == winners[0]


def test_an_expired_lease_is_taken_over_and_its_old_holder_is_fenced_off(db_url: str) -> None:
    mission_id, _ = make_mission(db_url)
    now = utcnow()
    with session_scope(db_url) as session:
        assert acquire_lease(session, mission_id, "dead", seconds=5, now=now) is None
    with session_scope(db_url) as session:  # still live: refused, the holder named
        assert acquire_lease(session, mission_id, "new", seconds=5, now=now + timedelta(seconds=1)) == "dead"
    later = now + timedelta(seconds=6)
    with session_scope(db_url) as session:
        assert acquire_lease(session, mission_id, "new", seconds=5, now=later) is None
    with pytest.raises(LeaseLost, match="flow run new holds it"), session_scope(db_url) as session:
        require_lease(session, mission_id, "dead", seconds=5, now=later)
    with session_scope(db_url) as session:
        assert not release_lease(session, mission_id, "dead")
        require_lease(session, mission_id, "new", seconds=5, now=later)
        assert release_lease(session, mission_id, "new")
        assert session.get(Mission, mission_id).lease_owner is None


def test_racing_step_claims_one_wins_and_attempts_count_once(db_url: str) -> None:
    _, step_id = make_mission(db_url)

    def claim(i: int) -> bool:
        with session_scope(db_url) as session:
            return compare_and_set(
                session,
                ToolStep,
                step_id,
                ToolExecutionStatus.READY_TO_EXECUTE,
                ToolExecutionStatus.EXECUTING,
                where=(ToolStep.attempts == 0,),
                values={"attempts": ToolStep.attempts + 1},
            )

    assert sorted(race(6, claim)) == [False] * 5 + [True]
    with session_scope(db_url) as session:
        step = session.get(ToolStep, step_id)
        assert step.status == ToolExecutionStatus.EXECUTING and step.attempts == 1
        # and a claim from a state the step is not in changes nothing
        assert not compare_and_set(
            session, ToolStep, step_id, ToolExecutionStatus.READY_TO_EXECUTE, ToolExecutionStatus.EXECUTING
        )
        moves = session.execute(
            sa.text("select count(*) from events where subject_id = :s and action = 'status_changed'"),
            {"s": step_id},
        ).scalar()
        assert moves == 1
