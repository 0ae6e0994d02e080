"""Assets: one name per scope, and seed 004 section 5's queries (index scans at a million rows)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hopflow.models.access.assets import (
    DuplicateAssetError,
    create_asset,
    read_current_hop,
    read_hop_intermediates,
    read_hop_state,
    read_mission_inputs,
    read_mission_outputs,
    scope_assets_stmt,
)
from hopflow.models.access.identity import ensure_user
from hopflow.models.enums import AssetRole, AssetScopeType
from hopflow.models.orm import Asset, Hop, Mission
from hopflow.models.schemas import MissionView
from sqlalchemy.orm import Session


def _mission_with_assets(session: Session) -> tuple[Mission, Hop]:
    user = ensure_user(session)
    mission = Mission(user_id=user.id, name="m")
    session.add(mission)
    session.flush()
    hop = Hop(mission_id=mission.id, user_id=user.id, sequence_order=1, name="h1")
    session.add(hop)
    session.flush()
    mission.current_hop_id = hop.id
    for name, role in [
        ("question", AssetRole.INPUT),
        ("data", AssetRole.INPUT),
        ("answer", AssetRole.OUTPUT),
    ]:
        create_asset(
            session,
            user_id=user.id,
            scope_type=AssetScopeType.MISSION,
            scope_id=mission.id,
            name=name,
            type="text",
            role=role,
            content_summary=name,
        )
    for name, role in [
        ("draft", AssetRole.INTERMEDIATE),
        ("notes", AssetRole.INTERMEDIATE),
        ("hop_in", AssetRole.INPUT),
    ]:
        create_asset(
            session,
            user_id=user.id,
            scope_type=AssetScopeType.HOP,
            scope_id=hop.id,
            name=name,
            type="text",
            role=role,
        )
    session.commit()
    return mission, hop


def test_section_5_queries_return_the_right_assets(session: Session) -> None:
    mission, hop = _mission_with_assets(session)
    assert {a.name for a in read_mission_inputs(session, mission.id)} == {"question", "data"}
    assert [a.name for a in read_mission_outputs(session, mission.id)] == ["answer"]
    assert {a.name for a in read_hop_state(session, hop.id)} == {"draft", "notes", "hop_in"}
    assert {a.name for a in read_hop_intermediates(session, hop.id)} == {"draft", "notes"}
    current = read_current_hop(session, mission.id)
    assert current is not None and current.id == hop.id


def test_second_asset_with_same_name_in_scope_is_refused_and_nothing_changes(session: Session) -> None:
    mission, _ = _mission_with_assets(session)
    before = session.scalar(sa.select(sa.func.count()).select_from(Asset))
    with pytest.raises(DuplicateAssetError, match=f"'question' already exists in mission {mission.id}"):
        create_asset(
            session,
            user_id=mission.user_id,
            scope_type=AssetScopeType.MISSION,
            scope_id=mission.id,
            name="question",
            type="text",
            role=AssetRole.OUTPUT,
        )
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Asset)) == before


def test_same_name_in_another_scope_is_fine(session: Session) -> None:
    mission, hop = _mission_with_assets(session)
    create_asset(
        session,
        user_id=mission.user_id,
        scope_type=AssetScopeType.HOP,
        scope_id=hop.id,
        name="question",
        type="text",
        role=AssetRole.INPUT,
    )
    session.commit()


def test_mission_schema_keys_state_by_name_and_derives_inputs_outputs(session: Session) -> None:
    mission, hop = _mission_with_assets(session)
    session.expire_all()
    view = MissionView.model_validate(session.get(Mission, mission.id))
    assert set(view.mission_state) == {"question", "data", "answer"}
    assert {a.name for a in view.inputs} == {"question", "data"}
    assert [a.name for a in view.outputs] == ["answer"]
    assert view.mission_state["question"].value_representation == "question"
    assert view.hops[0].id == hop.id
    assert {a.name for a in view.hops[0].intermediates} == {"draft", "notes"}
    assert view.current_hop is not None and view.current_hop.id == hop.id


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.million
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_scope_queries_use_idx_assets_scope_at_a_million_rows(session: Session) -> None:
    user = ensure_user(session)
    session.commit()
    # A million assets over 10,000 missions (100 each), written by the database itself.
    session.execute(
        sa.text(
            """
            insert into assets (id, user_id, scope_type, scope_id, name, type, status, role,
                                asset_metadata, created_at, updated_at)
            select md5(g::text), :uid, 'mission', 'mission-' || (g % 10000), 'asset-' || g, 'text',
                   'ready', (array['input','output','intermediate'])[1 + g % 3], '{}'::jsonb, now(), now()
            from generate_series(1, 1000000) g
            """
        ),
        {"uid": user.id},
    )
    session.commit()
    session.execute(sa.text("analyze assets"))
    plans = {}
    for label, stmt in {
        "mission inputs": scope_assets_stmt(AssetScopeType.MISSION, "mission-42", AssetRole.INPUT),
        "mission outputs": scope_assets_stmt(AssetScopeType.MISSION, "mission-42", AssetRole.OUTPUT),
        "hop state": scope_assets_stmt(AssetScopeType.HOP, "hop-42"),
    }.items():
        compiled = stmt.compile(dialect=session.bind.dialect, compile_kwargs={"literal_binds": True})  # type: ignore[union-attr]
        plan = "\n".join(r[0] for r in session.execute(sa.text(f"explain {compiled}")))
        plans[label] = plan
        print(f"-- {label}\n{plan}")
        assert "idx_assets_scope" in plan, plan
        assert "Seq Scan" not in plan, plan
    assert len(read_mission_inputs(session, "mission-42")) == 34
