"""Entities and `--tag` filters as a user types them, on SQLite and PostgreSQL: `hopflow entities`,
plan tasks assigned by an entity's name, `missions list --tag` and `agents list --tag` through the one
tags/taggings scheme; bad input gives one clear line and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.tags import read_tags
from hopflow.models.db import session_scope
from hopflow.models.orm import Entity, Mission, PlanTask, Tagging, utcnow
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import SpecError, parse_mission_spec

from tests.deployments.cli import count, invoke, refused
from tests.tasks.agents.factories import blueprint, write_yaml


# --- entities ----------------------------------------------------------------------------------------
def test_entities_create_list_show_and_assign_a_plan_task_by_name(hopflow_env: str) -> None:
    made = invoke("entities", "create", "Ada", "--type", "human", "--contact", "ada@example.org")
    assert "created (human Ada)" in made
    invoke("entities", "create", "scout", "--type", "agent", "--specialty", "research")
    listed = invoke("entities", "list")
    assert "human  active    Ada  (-)" in listed and "agent  active    scout  (research)" in listed
    agents_only = invoke("entities", "list", "--type", "agent")
    assert "scout" in agents_only and "Ada" not in agents_only

    invoke("plans", "create", "survey")
    invoke("plans", "add-task", "survey", "read papers", "--assignee", "scout", "--due", "2027-03-01")
    invoke("plans", "add-task", "survey", "review", "--assignee", "Ada")
    with session_scope() as session:
        scout = session.scalars(sa.select(Entity).where(Entity.name == "scout")).one()
        task = session.scalars(sa.select(PlanTask).where(PlanTask.title == "read papers")).one()
        assert task.assigned_to_entity_id == scout.id
    assert "read papers  [0 step(s), priority 0] due 2027-03-01 -> scout" in invoke("plans", "show", "survey")
    shown = invoke("entities", "show", "scout")
    assert "type       agent" in shown and "specialty  research" in shown
    assert "open        read papers  (plan survey) due 2027-03-01" in shown and "review" not in shown
    assert "contact    ada@example.org" in invoke("entities", "show", "Ada")


def test_bad_entity_input_is_a_clear_error_and_writes_nothing(hopflow_env: str) -> None:
    before = count(Entity)
    assert "entity type 'robot': use one of human, agent" in refused(
        "entities", "create", "R2", "--type", "robot"
    )
    assert "entity type 'robot'" in refused("entities", "list", "--type", "robot")
    assert "entity name: 1-255" in refused("entities", "create", "  ", "--type", "human")
    assert count(Entity) == before
    invoke("entities", "create", "Ada", "--type", "human")
    assert "entity name 'Ada' is taken" in refused("entities", "create", "Ada", "--type", "agent")
    assert count(Entity) == before + 1
    assert "no entity (human or agent) with id or name 'nobody'" in refused("entities", "show", "nobody")
    invoke("plans", "create", "p1")
    assert "no entity (human or agent) with id or name 'nobody'" in refused(
        "plans", "add-task", "p1", "t1", "--assignee", "nobody"
    )
    assert count(PlanTask) == 0


# --- missions list --tag -----------------------------------------------------------------------------
def mission_spec(name: str, tags: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "tags": tags,
        "hops": [{"name": "h", "steps": [{"tool": "noop.echo", "parameter_mapping": {"value": {"literal": 1}},
                                          "result_mapping": {"value": {"asset": "one"}}}]}],
    }  # fmt: skip


def store(spec: dict[str, Any]) -> str:
    with session_scope() as session:
        mission = create_mission_from_spec(session, parse_mission_spec(spec), user_id=ensure_user(session).id)
        return mission.id


def test_missions_list_filters_by_every_tag_given(hopflow_env: str) -> None:
    both = store(mission_spec("m-both", ["Ops", "q4"]))
    store(mission_spec("m-ops", ["ops"]))
    store(mission_spec("m-none", []))
    with session_scope() as session:
        # Stored through the tags/taggings scheme, lower-cased.
        assert read_tags(session, "missions", both) == ["ops", "q4"]
    ops = invoke("missions", "list", "--tag", "ops")
    assert "m-both" in ops and "m-ops" in ops and "m-none" not in ops
    narrow = invoke("missions", "list", "--tag", "ops", "--tag", "Q4")
    assert "m-both" in narrow and "m-ops" not in narrow
    assert "m-" not in invoke("missions", "list", "--tag", "nothing-has-this")
    assert "m-none" in invoke("missions", "list")
    assert "tag 'bad tag!'" in refused("missions", "list", "--tag", "bad tag!")


def test_a_bad_tag_in_a_mission_spec_is_refused_and_nothing_is_written(hopflow_env: str) -> None:
    with pytest.raises(SpecError) as caught:
        store(mission_spec("m-bad", ["fine", "not fine"]))
    assert "tags" in str(caught.value) and "not fine" in str(caught.value)
    assert count(Mission) == 0 and count(Tagging) == 0


# --- agents list --tag -------------------------------------------------------------------------------
def test_agents_list_filters_definitions_by_tag_and_registration_replaces_tags(
    hopflow_env: str, tmp_path: Path
) -> None:
    first = write_yaml(tmp_path / "a.yaml", blueprint(tags=["Sales", "eu"]))
    second = write_yaml(
        tmp_path / "b.yaml", blueprint(id="agent_901", name="OtherAgent", triggers=[], tags=["sales"])
    )
    invoke("agents", "register", str(first), str(second))
    sales = invoke("agents", "list", "--tag", "sales")
    assert "agent_900" in sales and "agent_901" in sales
    eu = invoke("agents", "list", "--tag", "sales", "--tag", "eu")
    assert "agent_900" in eu and "agent_901" not in eu and "eu, sales" in eu
    assert "agent_90" not in invoke("agents", "list", "--tag", "hr")
    assert "tags eu, sales" in invoke("agents", "show", "agent_900")

    # The blueprint is the truth: registering it again with other tags replaces them.
    write_yaml(tmp_path / "a.yaml", blueprint(tags=["hr"]))
    assert "updated agent_900" in invoke("agents", "register", str(first))
    assert "agent_900" not in invoke("agents", "list", "--tag", "eu")
    assert "agent_900" in invoke("agents", "list", "--tag", "hr")


def test_a_bad_tag_in_a_blueprint_registers_nothing(hopflow_env: str, tmp_path: Path) -> None:
    bad = write_yaml(tmp_path / "a.yaml", blueprint(tags=["ok", "Not OK!"]))
    output = refused("agents", "register", str(bad))
    assert "tags" in output and "Not OK!" in output
    assert count(Tagging) == 0
    assert "agent_900" not in invoke("agents", "list")


def test_an_agent_runs_missions_carry_its_definitions_tags(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hopflow.models.enums import TriggerType
    from hopflow.tasks.agents import AgentRunContext, configure_agent, create_agent_mission

    from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES

    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    invoke("agents", "register", str(write_yaml(tmp_path / "a.yaml", blueprint(tags=["sales", "eu"]))))
    config = configure_agent("agent_900", "shop-a", values_path=write_yaml(tmp_path / "v.yaml", VALUES))
    started = utcnow()
    made = create_agent_mission(
        AgentRunContext(
            run_id="run-tags-1", configuration_id=config.id, configuration_name="shop-a",
            definition_id="agent_900", definition_name="TestSentinel", definition_version="1.0.0",
            trigger_type=TriggerType.API, playbook="order_brief",
            steps=[{"name": "echo", "type": "noop.echo", "parameter_mapping": {"value": {"literal": 1}},
                    "result_mapping": {"value": "echoed"}}],
            inputs={}, payload={}, window_start=started, window_end=started, started_at=started,
        )
    )  # fmt: skip
    assert made.mission_id is not None
    with session_scope() as session:
        assert read_tags(session, "missions", made.mission_id) == ["eu", "sales"]
    assert "shop-a:order_brief" in invoke("missions", "list", "--tag", "eu")
