"""Status machines of seed 004 section 6: legal moves recorded as events, illegal ones refused."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.status import transition
from hopflow.models.enums import (
    ALLOWED_TRANSITIONS,
    AssetStatus,
    HopStatus,
    InvalidTransition,
    MissionStatus,
    ToolExecutionStatus,
    can_transition,
)
from hopflow.models.orm import Event, Mission
from sqlalchemy.orm import Session

M = MissionStatus

MISSION_HAPPY_PATH = [
    M.READY_FOR_NEXT_HOP,
    M.BUILDING_HOP,
    M.HOP_READY_TO_EXECUTE,
    M.EXECUTING_HOP,
    M.READY_FOR_NEXT_HOP,
    M.BUILDING_HOP,
    M.HOP_READY_TO_EXECUTE,
    M.EXECUTING_HOP,
    M.COMPLETED,
]


def test_mission_walks_the_seed_flow_and_every_move_is_an_event(session: Session) -> None:
    user = ensure_user(session)
    mission = Mission(user_id=user.id, name="m")
    session.add(mission)
    session.flush()
    for target in MISSION_HAPPY_PATH:
        transition(session, mission, target)
    session.commit()
    events = session.scalars(
        sa.select(Event).where(Event.subject_type == "missions", Event.subject_id == mission.id)
    ).all()
    moves = [(e.before["status"], e.after["status"]) for e in events]  # type: ignore[index]
    expected_from = [M.PROPOSED, *MISSION_HAPPY_PATH[:-1]]
    assert sorted(moves) == sorted(zip(expected_from, MISSION_HAPPY_PATH, strict=True))
    assert mission.status == M.COMPLETED


def test_illegal_move_names_both_states_and_changes_nothing(session: Session) -> None:
    user = ensure_user(session)
    mission = Mission(user_id=user.id, name="m")
    session.add(mission)
    session.commit()
    with pytest.raises(InvalidTransition, match="from 'proposed' to 'executing_hop'"):
        transition(session, mission, M.EXECUTING_HOP)
    assert mission.status == M.PROPOSED
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("state", [M.COMPLETED, M.CANCELLED])
def test_terminal_missions_cannot_move(state: MissionStatus) -> None:
    for target in MissionStatus:
        if target != state:
            assert not can_transition(state, target)


@pytest.mark.parametrize("enum", [MissionStatus, HopStatus, ToolExecutionStatus], ids=lambda e: e.__name__)
def test_every_non_terminal_state_can_fail_or_be_cancelled(enum: type) -> None:
    terminal = {"completed", "failed", "cancelled"}
    for state in enum:
        if state.value not in terminal:
            assert can_transition(state, enum("failed"))
            assert can_transition(state, enum("cancelled"))


def test_hop_and_step_flows_match_seed_004() -> None:
    H, T = HopStatus, ToolExecutionStatus
    for a, b in [
        (H.PROPOSED, H.READY_TO_RESOLVE),
        (H.READY_TO_RESOLVE, H.READY_TO_EXECUTE),
        (H.READY_TO_EXECUTE, H.EXECUTING),
        (H.EXECUTING, H.COMPLETED),
    ]:
        assert can_transition(a, b)
    assert not can_transition(H.PROPOSED, H.EXECUTING)
    assert not can_transition(H.COMPLETED, H.EXECUTING)
    for a2, b2 in [
        (T.PROPOSED, T.READY_TO_CONFIGURE),
        (T.READY_TO_CONFIGURE, T.READY_TO_EXECUTE),
        (T.READY_TO_EXECUTE, T.EXECUTING),
        (T.EXECUTING, T.COMPLETED),
    ]:
        assert can_transition(a2, b2)
    assert not can_transition(T.PROPOSED, T.COMPLETED)


def test_asset_flow_matches_seed_004() -> None:
    A = AssetStatus
    path = [A.PROPOSED, A.PENDING, A.IN_PROGRESS, A.READY]
    for a, b in itertools.pairwise(path):
        assert can_transition(a, b)
    assert can_transition(A.READY, A.ERROR)
    assert can_transition(A.READY, A.EXPIRED)
    assert not can_transition(A.PROPOSED, A.READY)
    assert not can_transition(A.EXPIRED, A.READY)


def test_every_enum_member_has_a_row_in_its_table() -> None:
    for enum, table in ALLOWED_TRANSITIONS.items():
        assert set(table) == set(enum), enum.__name__


def test_moving_to_the_current_status_is_a_silent_no_op(session: Session) -> None:
    user = ensure_user(session)
    mission = Mission(user_id=user.id, name="m")
    session.add(mission)
    session.flush()
    assert transition(session, mission, M.PROPOSED) is None
