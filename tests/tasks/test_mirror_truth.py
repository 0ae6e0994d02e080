"""The run log tells the truth about agent runs' subflows, on SQLite and PostgreSQL: a mission subflow
carries its parent's trigger, and an agent run's detail breaks its tokens down by model (its calls
happen in the subflow)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hopflow.models.access.runs import read_run_detail, read_run_log, upsert_run_log
from hopflow.models.db import session_scope
from hopflow.models.enums import TriggerType
from hopflow.models.orm import AgentConfiguration, AgentDefinition, LLMCall
from hopflow.tasks.mirror import RunSnapshot, mirror_runs

NOW = datetime.now(UTC).replace(microsecond=0)


def snap(run_id: str, flow: str, parameters: dict[str, object], parent: str | None = None) -> RunSnapshot:
    return RunSnapshot(
        run_id=run_id,
        flow_name=flow,
        state_type="COMPLETED",
        start_time=NOW - timedelta(seconds=5),
        end_time=NOW,
        deployment_id=str(uuid.uuid4()) if parent is None else None,
        parent_task_run_id=str(uuid.uuid4()) if parent else None,
        parent_run_id=parent,
        parameters=parameters,
    )


def test_mission_subflows_carry_their_parent_runs_trigger(hopflow_env: str) -> None:
    for trigger in (TriggerType.WEBHOOK, TriggerType.EVENT, TriggerType.API):
        parent, child, late_child = (str(uuid.uuid4()) for _ in range(3))
        # In one batch (the reconciler) ...
        mirror_runs([
            snap(parent, "agent-run", {"trigger_type": trigger.value, "configuration_id": "x"}),
            snap(child, "mission", {"mission_id": str(uuid.uuid4())}, parent=parent),
        ])  # fmt: skip
        # ... and alone, after the parent's row is in (the subflow's own hook).
        mirror_runs([snap(late_child, "mission", {"mission_id": str(uuid.uuid4())}, parent=parent)])
        with session_scope() as session:
            for run_id in (parent, child, late_child):
                row = read_run_log(session, run_id)
                assert row is not None and row.trigger_type == trigger, (trigger, run_id)
    lone = str(uuid.uuid4())
    mirror_runs([snap(lone, "mission", {"mission_id": str(uuid.uuid4())})])
    with session_scope() as session:
        row = read_run_log(session, lone)
        assert row is not None and row.trigger_type == TriggerType.API  # a deployment run, no parent


def test_an_agent_runs_detail_shows_per_model_rows_of_its_subflows_calls(hopflow_env: str) -> None:
    parent, child, other = (str(uuid.uuid4()) for _ in range(3))
    with session_scope() as session:
        definition = AgentDefinition(id="agent_077", name="Counter", version="1.0")
        session.add(definition)
        config = AgentConfiguration(name="counter-a", agent_definition_id=definition.id)
        session.add(config)
        session.flush()
        upsert_run_log(session, parent, prefect_state="COMPLETED", agent_configuration_id=config.id,
                       flow_name="agent-run", prompt_tokens=17, completion_tokens=6)  # fmt: skip
        upsert_run_log(session, child, prefect_state="COMPLETED", parent_run_id=parent, flow_name="mission")
        upsert_run_log(session, other, prefect_state="COMPLETED", flow_name="mission")
        for run_id, model, prompt, completion in [
            (child, "gpt-a", 10, 4),
            (child, "gpt-a", 2, 1),
            (child, "gpt-b", 5, 1),
            (other, "gpt-c", 99, 99),  # another run's call: not this run's
        ]:
            session.add(LLMCall(flow_run_id=run_id, provider="offline", model=model,
                                agent_configuration_id=config.id if run_id == child else None,
                                prompt_tokens=prompt, completion_tokens=completion))  # fmt: skip
    with session_scope() as session:
        row = read_run_log(session, parent)
        assert row is not None
        detail = read_run_detail(session, row)
    by_model = detail["tokens"]["by_model"]
    rows = [(m["model"], m["calls"], m["prompt_tokens"], m["completion_tokens"]) for m in by_model]
    assert rows == [("gpt-a", 2, 12, 5), ("gpt-b", 1, 5, 1)]
    assert sum(r[2] for r in rows) == detail["tokens"]["prompt"]
