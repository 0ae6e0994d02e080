"""The whole relational model exists after migration, on SQLite and PostgreSQL, and behaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.enums import AssetRole, AssetScopeType, MissionStatus
from hopflow.models.orm import Asset, Entity, InboxEvent, Mission
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

ARCHITECTURE_TABLES = {
    "users",
    "workspaces",
    "entities",
    "missions",
    "hops",
    "tool_steps",
    "assets",
    "agent_definitions",
    "agent_configurations",
    "playbooks",
    "directives",
    "agent_run_logs",
    "llm_calls",
    "run_artifacts",
    "agent_consciousness",
    "inbox_events",
    "memory_contexts",
    "projects",
    "plans",
    "plan_tasks",
    "thought_logs",
    "faults",
    "reflections",
    "events",
    "tags",
    "taggings",
    "tool_allowlist",
    "container_inventory",
}


def test_every_architecture_table_exists_after_upgrade(db_url: str) -> None:
    from hopflow.models.db import get_engine

    tables = set(sa.inspect(get_engine(db_url)).get_table_names())
    assert tables >= ARCHITECTURE_TABLES


def test_seed_004_asset_indexes_and_unique_scope_name_exist(db_url: str) -> None:
    from hopflow.models.db import get_engine

    inspector = sa.inspect(get_engine(db_url))
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("assets")}
    assert indexes["idx_assets_scope"] == ["scope_type", "scope_id"]
    assert indexes["idx_assets_role"] == ["role"]
    assert indexes["idx_assets_status"] == ["status"]
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("assets")}
    assert ("scope_type", "scope_id", "name") in uniques
    inbox = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("inbox_events")}
    assert ("agent_entity_id", "event_id") in inbox
    runs = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("agent_run_logs")}
    assert runs["ix_agent_run_logs_since_success"] == ["agent_configuration_id", "status", "end_time"]


def test_json_columns_are_jsonb_on_postgresql(db_url: str) -> None:
    from hopflow.models.db import get_engine

    engine = get_engine(db_url)
    columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("assets")}
    expected = "JSONB" if engine.dialect.name == "postgresql" else "JSON"
    assert type(columns["content"]).__name__ == expected
    assert type(columns["asset_metadata"]).__name__ == expected


def test_timestamps_round_trip_as_aware_utc(session: Session) -> None:
    user = ensure_user(session)
    tokyo = datetime(2026, 1, 2, 9, 30, tzinfo=timezone(timedelta(hours=9)))
    mission = Mission(user_id=user.id, name="tz", started_at=tokyo)
    session.add(mission)
    session.commit()
    session.expire_all()
    loaded = session.get(Mission, mission.id)
    assert loaded is not None and loaded.started_at is not None
    assert loaded.started_at.tzinfo is not None
    assert loaded.started_at == tokyo
    assert loaded.started_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None


def test_naive_datetime_is_refused_and_nothing_is_written(session: Session) -> None:
    user = ensure_user(session)
    session.commit()
    session.add(Mission(user_id=user.id, name="naive", started_at=datetime(2026, 1, 1, 12, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0


def test_enums_are_stored_by_value(session: Session) -> None:
    user = ensure_user(session)
    session.add(Mission(user_id=user.id, name="m", status=MissionStatus.READY_FOR_NEXT_HOP))
    session.commit()
    raw = session.execute(sa.text("select status from missions")).scalar_one()
    assert raw == "ready_for_next_hop"


def test_unknown_enum_value_is_refused_by_python_and_by_the_database(session: Session) -> None:
    user = ensure_user(session)
    session.commit()
    session.add(Mission(user_id=user.id, name="m", status="flying"))  # type: ignore[arg-type]
    with pytest.raises(StatementError, match="flying"):
        session.flush()
    session.rollback()
    # Raw SQL bypasses Python: the CHECK constraint still refuses it.
    with pytest.raises(IntegrityError):
        session.execute(
            sa.text(
                "insert into missions (id, user_id, name, status, created_at, updated_at) "
                "values ('x', :u, 'm', 'flying', :t, :t)"
            ),
            {"u": user.id, "t": datetime.now(UTC).replace(tzinfo=None)},
        )
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Mission(user_id=4242, name="orphan"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_inbox_is_idempotent_per_agent_and_event(session: Session) -> None:
    agent = Entity(name="a", entity_type="agent")
    session.add(agent)
    session.flush()
    session.add(InboxEvent(agent_entity_id=agent.id, event_id="e1", event_type="space_message"))
    session.flush()
    session.add(InboxEvent(agent_entity_id=agent.id, event_id="e1", event_type="space_message"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_asset_scope_name_unique_constraint_holds_in_the_database(session: Session) -> None:
    user = ensure_user(session)
    common = dict(user_id=user.id, scope_type=AssetScopeType.MISSION, scope_id="m1", type="text")
    session.add(Asset(name="a", role=AssetRole.INPUT, **common))
    session.flush()
    session.add(Asset(name="a", role=AssetRole.OUTPUT, **common))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
