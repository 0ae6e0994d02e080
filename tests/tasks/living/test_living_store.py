"""Living agents on SQLite and PostgreSQL: creation, config versions, idempotent inbox, atomic save."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hopflow.models.access import living as access
from hopflow.models.db import session_scope
from hopflow.models.enums import EntityStatus
from hopflow.models.orm import AgentConsciousness, Entity, Event, InboxEvent
from hopflow.tasks import living
from hopflow.tasks.living.inbox import InboxError

SEED_EXAMPLE = Path(__file__).with_name("seed_003_config.json")


@pytest.fixture
def agent(hopflow_env: str) -> str:
    living.create_living_agent("pa", living.load_living_config(SEED_EXAMPLE), workspace="team")
    return "pa"


def test_create_makes_entity_config_version_1_and_empty_consciousness(agent: str) -> None:
    view = living.read_living_agent(agent)
    assert (view.status, view.config_version, view.workspace) == ("active", 1, "team")
    assert (view.cycle_count, view.message_count, view.token_estimate) == (0, 0, 0)
    with session_scope() as s:
        entity = s.get(Entity, view.entity_id)
        assert entity is not None and entity.entity_type.value == "agent"
        assert s.scalars(sa.select(AgentConsciousness)).one().messages == []
    with pytest.raises(living.LivingAgentError, match="exists already"):
        living.create_living_agent(agent, view.config)


def test_configure_adds_a_version_and_disable_goes_through_the_status_machine(agent: str) -> None:
    config = living.load_living_config(SEED_EXAMPLE)
    view = living.configure_living_agent(agent, config.model_copy(update={"middleware": []}))
    assert view.config_version == 2 and view.config.middleware == []
    assert living.set_living_agent_status(agent, EntityStatus.INACTIVE).status == "inactive"
    assert living.list_living_agents(active_only=True) == []
    with session_scope() as s:
        moves = s.scalars(sa.select(Event).where(Event.subject_type == "entities")).all()
        assert [(m.before, m.after) for m in moves] == [({"status": "active"}, {"status": "inactive"})]


def test_push_is_idempotent_per_agent_and_event_id(agent: str) -> None:
    first = living.push_event(agent, "m-1", "space_message", {"text": "hi"}, wake=False)
    again = living.push_event(agent, "m-1", "space_message", {"text": "changed"}, wake=False)
    assert first.new and not again.new
    with session_scope() as s:
        rows = s.scalars(sa.select(InboxEvent)).all()
        assert [(r.event_id, r.data) for r in rows] == [("m-1", {"text": "hi"})]


@pytest.mark.parametrize(
    ("event_id", "event_type", "data", "message"),
    [
        ("", "plan", {}, "event_id must be a non-empty string"),
        ("e", "email", {}, "type 'email' is not one of space_message, plan, service"),
        ("e", "plan", [1], "data must be a JSON object"),
        ("e", "plan", {"x": "y" * 70_000}, "bytes; at most 65536"),
        ("e", "plan", json.loads('{"a":' * 40 + "1" + "}" * 40), "nested deeper than 32"),
    ],
)
def test_bad_events_are_refused_with_a_clear_error_and_write_nothing(
    agent: str, event_id: str, event_type: str, data: object, message: str
) -> None:
    with pytest.raises(InboxError, match=message):
        living.push_event(agent, event_id, event_type, data, wake=False)  # type: ignore[arg-type]
    with session_scope() as s:
        assert s.scalar(sa.select(sa.func.count(InboxEvent.id))) == 0


def test_push_to_an_unknown_agent_is_refused(hopflow_env: str) -> None:
    with pytest.raises(InboxError, match="no living agent 'ghost'"):
        living.push_event("ghost", "e", "plan", {}, wake=False)


def test_claim_is_oldest_first_and_save_marks_exactly_the_claimed_events_with_the_consciousness(
    agent: str,
) -> None:
    for i in range(5):
        living.push_event(agent, f"e{i}", "service", {"i": i}, wake=False)
    with session_scope() as s:
        entity_id = living.read_living_agent(agent).entity_id
        claimed = access.claim_events(s, entity_id, 3)
        assert [e.event_id for e in claimed] == ["e0", "e1", "e2"]
        ids = [e.id for e in claimed]
    with session_scope() as s:
        assert (
            access.save_cycle(
                s,
                entity_id=entity_id,
                expected_cycle_count=0,
                messages=[{"role": "user"}],
                token_estimate=7,
                event_row_ids=ids,
            )
            == 1
        )
    with session_scope() as s:
        assert [e.event_id for e in access.claim_events(s, entity_id, 10)] == ["e3", "e4"]
        c = access.read_consciousness(s, entity_id)
        assert (c.cycle_count, c.token_estimate, c.messages) == (1, 7, [{"role": "user"}])


def test_a_second_save_of_the_same_cycle_loses_and_changes_nothing(agent: str) -> None:
    living.push_event(agent, "e0", "service", {}, wake=False)
    living.push_event(agent, "e1", "service", {}, wake=False)
    with session_scope() as s:
        entity_id = living.read_living_agent(agent).entity_id
        ids = [e.id for e in access.claim_events(s, entity_id, 10)]
    with session_scope() as s:
        access.save_cycle(
            s,
            entity_id=entity_id,
            expected_cycle_count=0,
            messages=[{"n": 1}],
            token_estimate=1,
            event_row_ids=ids[:1],
        )
    # A stale cycle (started at 0) and a cycle re-marking a processed event both lose, atomically.
    for expected, rows in ((0, ids[1:]), (1, ids)):
        with pytest.raises(access.ConcurrentCycleError), session_scope() as s:
            access.save_cycle(
                s,
                entity_id=entity_id,
                expected_cycle_count=expected,
                messages=[{"n": 2}],
                token_estimate=2,
                event_row_ids=rows,
            )
    with session_scope() as s:
        c = access.read_consciousness(s, entity_id)
        assert (c.cycle_count, c.messages) == (1, [{"n": 1}])
        assert [e.event_id for e in access.claim_events(s, entity_id, 10)] == ["e1"]
