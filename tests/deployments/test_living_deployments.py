"""Active living agents as deployments `think/<agent>`: inbox event triggers, concurrency 1 with ENQUEUE, the
optional cron, and a disabled agent left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from hopflow.deployments.living import living_deployments
from hopflow.models.enums import EntityStatus
from hopflow.tasks import living

SEED_EXAMPLE = Path(__file__).parents[1] / "tasks" / "living" / "seed_003_config.json"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_active_living_agent_is_a_think_deployment(hopflow_env: str) -> None:
    config = living.load_living_config(SEED_EXAMPLE)
    living.create_living_agent("pa", config, cron="*/15 * * * *")
    living.create_living_agent("quiet", config)
    living.create_living_agent("off", config)
    living.set_living_agent_status("off", EntityStatus.INACTIVE)

    deployments = {d.name: d for d in living_deployments()}
    assert sorted(deployments) == ["pa", "quiet"]
    d = deployments["pa"]
    assert (d.flow_name, d.entrypoint) == ("think", "hopflow.flows.think_cycle.think_cycle_flow")
    assert d.parameters == {"agent": "pa"}
    assert d.concurrency_limit == 1
    assert d.concurrency_options is not None and d.concurrency_options.collision_strategy.value == "ENQUEUE"
    assert d.tags == ["hopflow", "living", "living:pa"]
    [schedule] = d.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("*/15 * * * *", "UTC")
    assert schedule.parameters == {"agent": "pa", "trigger_type": "schedule"}
    pushed, push = d.triggers
    assert pushed.expect == {"hopflow.inbox.pushed"} and push.expect == {"hopflow.inbox.push"}
    assert (
        pushed.match.model_dump() == push.match.model_dump() == {"prefect.resource.id": "hopflow.living.pa"}
    )
    assert pushed.parameters == {"agent": "pa", "trigger_type": "event"}
    assert push.parameters == {"agent": "pa", "trigger_type": "event", "incoming": "{{ event.payload }}"}
    assert deployments["quiet"].schedules == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_incoming_prefect_event_payload_is_pushed_by_the_cycle(hopflow_env: str) -> None:
    from hopflow.tasks.living.cycles import CycleError, begin_cycle

    living.create_living_agent("pa", living.load_living_config(SEED_EXAMPLE))
    incoming = {"event_id": "ev-9", "type": "plan", "data": {"goal": "ship"}}
    ctx = begin_cycle("pa", "00000000-0000-0000-0000-000000000001", "event", 10, incoming)
    assert [(i.event_id, i.event_type, i.data) for i in ctx.items] == [("ev-9", "plan", {"goal": "ship"})]
    assert ctx.choice.tier.value == "reasoning" and ctx.trigger_type == "event"
    with pytest.raises(CycleError, match="no living agent 'ghost'"):
        begin_cycle("ghost", "00000000-0000-0000-0000-000000000002")
