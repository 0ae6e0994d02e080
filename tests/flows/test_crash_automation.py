"""The crash automation `hopflow serve` installs touches hopflow's flows only: the trigger stored on a
real Prefect server is evaluated by Prefect's own server-side matching against heartbeat and
state-change events of hopflow's flows and of someone else's flow. (A SIGKILLed run crashed by it, next
to a SIGKILLed foreign run left alone, is tests/flows/test_mirror.py's slow test.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hopflow.deployments.automations import CRASH_AUTOMATION_NAME, ensure_crash_automation
from hopflow.tasks.mirror import HOPFLOW_FLOW_NAMES
from prefect import get_client
from prefect.server.events.schemas.automations import EventTrigger as ServerEventTrigger
from prefect.server.events.schemas.events import ReceivedEvent


@pytest.fixture
def stored_automation(prefect_api: str) -> Iterator[Any]:
    with get_client(sync_client=True) as client:
        for old in client.read_automations_by_name(CRASH_AUTOMATION_NAME):
            client.delete_automation(old.id)
    try:
        ensure_crash_automation()
        with get_client(sync_client=True) as client:
            [automation] = client.read_automations_by_name(CRASH_AUTOMATION_NAME)
        yield automation
    finally:
        with get_client(sync_client=True) as client:
            for old in client.read_automations_by_name(CRASH_AUTOMATION_NAME):
                client.delete_automation(old.id)


def flow_run_event(event: str, flow_name: str, tags: tuple[str, ...] = ()) -> ReceivedEvent:
    """A flow-run event as Prefect emits it: the run as the resource, its flow (by name) related."""
    now = datetime.now(UTC)
    related = [
        {"prefect.resource.id": f"prefect.flow.{uuid.uuid4()}", "prefect.resource.role": "flow",
         "prefect.resource.name": flow_name},
        *({"prefect.resource.id": f"prefect.tag.{t}", "prefect.resource.role": "tag"} for t in tags),
    ]  # fmt: skip
    return ReceivedEvent(
        occurred=now,
        received=now,
        event=event,
        resource={"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}", "prefect.resource.name": "x"},
        related=related,
        id=uuid.uuid4(),
    )


def test_the_stored_crash_automation_covers_hopflows_flows_and_no_other(stored_automation: Any) -> None:
    trigger = ServerEventTrigger.model_validate(stored_automation.trigger.model_dump(mode="json"))
    for name in ("mission", "agent-run", "think-cycle", "sync-run-logs", "runs-report"):
        assert name in HOPFLOW_FLOW_NAMES
        for event in ("prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Crashed"):
            assert trigger.covers(flow_run_event(event, name)), (name, event)
    # a flow of another team on the same server, even one tagged like ours or named like a prefix
    for name, tags in [("nightly-etl", ()), ("nightly-etl", ("hopflow",)), ("mission-control", ())]:
        for event in ("prefect.flow-run.heartbeat", "prefect.flow-run.Completed"):
            assert not trigger.covers(flow_run_event(event, name, tags)), (name, tags, event)
    # and not an event with no flow at all
    bare = flow_run_event("prefect.flow-run.heartbeat", "mission").model_copy(update={"related": []})
    assert not trigger.covers(bare)


def test_the_crash_automation_says_it_is_scoped_to_hopflow(stored_automation: Any) -> None:
    description = stored_automation.description
    assert description.startswith("hopflow's flows only (mission, agent-run, think-cycle")
    assert "Runs of other flows are not touched" in description
    assert stored_automation.actions[0].state.value == "CRASHED"
