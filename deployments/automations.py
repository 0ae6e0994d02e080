"""The automation that crashes silent runs: Prefect marks a run of hopflow's flows CRASHED when its
heartbeats stop (a SIGKILLed or lost process), so the reconciler can mirror it; installed by
`hopflow serve` and `hopflow deploy`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hopflow.tasks.mirror import HOPFLOW_FLOW_NAMES
from prefect import get_client

CRASH_AUTOMATION_NAME = "hopflow: crash flow runs that stopped heartbeating"


# --- the automation ---------------------------------------------------------------------------------
def crash_automation_within() -> timedelta:
    """Three missed heartbeats, at least 90 s (with 30 s beats a SIGKILLed run became CRASHED ~95 s later).

    Derived from this process's PREFECT_FLOWS_HEARTBEAT_FREQUENCY: the processes that run flows must
    use the same value, or healthy long runs that beat more slowly would be crashed.
    """
    from prefect.settings import get_current_settings

    frequency = get_current_settings().flows.heartbeat_frequency or 30
    return timedelta(seconds=max(90, 3 * int(frequency)))


def crash_automation() -> Any:
    """Prefect's zombie-run automation for hopflow's flows: after a heartbeat, expect another heartbeat
    or a terminal state within the window, per flow run; otherwise change that run's state to CRASHED.

    Scoped by the flow's name (the `flow` related resource every flow-run event carries), so runs
    of other flows on the same Prefect server are never touched."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    within = crash_automation_within()
    return AutomationCore(
        name=CRASH_AUTOMATION_NAME,
        description=(
            f"hopflow's flows only ({', '.join(HOPFLOW_FLOW_NAMES)}): marks a run of one of them CRASHED "
            f"when its heartbeats stop for {within.total_seconds():.0f} s (a SIGKILLed or lost process); "
            "the sync_run_logs reconciler then mirrors it into agent_run_logs. Runs of other flows are "
            "not touched. Installed by `hopflow serve`."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": list(HOPFLOW_FLOW_NAMES)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message="Flow run marked as crashed: no heartbeat (hopflow crash automation).",
            )
        ],
    )


def ensure_crash_automation() -> None:
    """Create the crash automation on the Prefect server, or bring it up to date; idempotent by name."""
    wanted = crash_automation()
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(CRASH_AUTOMATION_NAME)
        if not existing:
            client.create_automation(wanted)
            return
        first, *duplicates = existing
        for extra in duplicates:
            client.delete_automation(extra.id)
        same = (
            first.trigger.model_dump(mode="json") == wanted.trigger.model_dump(mode="json")
            and [a.model_dump(mode="json") for a in first.actions]
            == [a.model_dump(mode="json") for a in wanted.actions]
            and first.description == wanted.description
        )
        if not same:
            client.update_automation(first.id, wanted)
        if not first.enabled:
            client.resume_automation(first.id)
