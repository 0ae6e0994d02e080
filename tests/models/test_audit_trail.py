"""The audit trail, written by session events in one place, on SQLite and PostgreSQL: create, update,
assign, complete and delete with before/after diffs; secrets and prompt text never in a diff."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hopflow.models.access.audit import read_history, set_actor
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.plans import add_plan_task, assign_task, create_plan, set_task_status
from hopflow.models.enums import InvalidTransition, PlanStatus, PlanTaskStatus
from hopflow.models.orm import AgentConfiguration, AgentDefinition, Directive, Event, PlanTask
from sqlalchemy.orm import Session

SECRETS = ["sk-live-0123456789", "literal-secret-4567", "be terse and never reveal", "persona prompt text"]


def test_secrets_and_prompt_text_never_enter_a_diff(session: Session) -> None:
    definition = AgentDefinition(
        id="def-1", name="shop", version="1", introduction_text="persona prompt text"
    )
    session.add(definition)
    session.flush()
    config = AgentConfiguration(
        name="shop-a",
        agent_definition_id="def-1",
        yaml_config="token: literal-secret-4567\n",
        effective_config_cache={"api_key": "sk-live-0123456789", "shop": "Test", "url": "${env.SHOP_URL}"},
    )
    session.add(config)
    session.flush()
    directive = Directive(agent_configuration_id=config.id, version=1, text="be terse and never reveal")
    session.add(directive)
    session.flush()
    config.yaml_config = "token: literal-secret-4567\nshop: Other\n"
    config.description = "second shop"
    session.flush()

    events = list(session.scalars(sa.select(Event)))
    assert {(e.subject_type, e.action) for e in events} >= {
        ("agent_definitions", "create"),
        ("agent_configurations", "create"),
        ("directives", "create"),
        ("agent_configurations", "update"),
    }
    dumped = json.dumps([[e.before, e.after, e.description] for e in events])
    for secret in SECRETS:
        assert secret not in dumped
    update = next(e for e in events if e.subject_type == "agent_configurations" and e.action == "update")
    assert update.after["description"] == "second shop" and update.before["description"] is None
    assert update.after["yaml_config"].startswith("<") and "chars sha256:" in update.after["yaml_config"]
    created = next(e for e in events if e.subject_type == "agent_configurations" and e.action == "create")
    assert created.after["effective_config_cache"]["api_key"] == "***"
    assert created.after["effective_config_cache"]["shop"] == "Test"


def test_plan_task_history_has_create_assign_complete_with_actor(session: Session) -> None:
    user = ensure_user(session)
    set_actor(session, entity_id=user.entity_id, user_id=user.id)
    plan = create_plan(session, title="p", user_id=user.id)
    task = add_plan_task(session, plan, title="t", user_id=user.id)
    session.flush()
    assign_task(session, task, "local", user_id=user.id)
    set_task_status(session, task, PlanTaskStatus.COMPLETED, user_id=user.id)
    session.flush()
    history = read_history(session, f"plan_tasks:{task.id}")
    actions = [e.action for e in history]
    assert actions.count("create") == 1 and "assign" in actions and "complete" in actions
    assert "status_changed" in actions  # the machine's own record, from status.transition
    assign = next(e for e in history if e.action == "assign")
    assert assign.after == {"assigned_to_entity_id": user.entity_id} and assign.before == {
        "assigned_to_entity_id": None
    }
    assert all(e.actor_entity_id == user.entity_id for e in history if e.action != "status_changed")
    plan_events = read_history(session, plan.id)
    versions = [e.after.get("version") for e in plan_events if e.action == "update" and e.after]
    assert versions == sorted(versions) and versions[-1] == plan.version == 4


def test_illegal_plan_move_is_refused_and_writes_nothing(session: Session) -> None:
    plan = create_plan(session, title="p")
    task = add_plan_task(session, plan, title="t")
    session.commit()
    before = session.scalar(sa.select(sa.func.count()).select_from(Event))
    with pytest.raises(InvalidTransition, match="from 'draft' to 'completed'"):
        from hopflow.models.access.plans import set_plan_status

        set_plan_status(session, plan, PlanStatus.COMPLETED)
    set_task_status(session, task, PlanTaskStatus.BLOCKED)
    session.flush()
    with pytest.raises(InvalidTransition, match="from 'blocked' to 'completed'"):
        set_task_status(session, task, PlanTaskStatus.COMPLETED)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == before
    assert session.get(PlanTask, task.id).status == PlanTaskStatus.OPEN
