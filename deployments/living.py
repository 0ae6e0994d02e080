"""Active living agents -> deployments `think/<agent>` of think_cycle_flow, served by `hopflow serve`.

Each one wakes on its inbox's Prefect event (`hopflow.inbox.pushed`, emitted when a push stores a new
event), takes events pushed as Prefect events (`hopflow.inbox.push`, the payload stored first), runs one
cycle at a time (concurrency 1, ENQUEUE: a wake-up during a cycle waits its turn), and optionally on a cron.
"""

from __future__ import annotations

from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.enums import TriggerType
from hopflow.models.schemas.living import LivingAgentView
from hopflow.tasks.living import list_living_agents
from hopflow.tasks.living.inbox import PUSH_EVENT, PUSHED_EVENT, agent_resource_id
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

ENQUEUE = ConcurrencyLimitStrategy.ENQUEUE


def think_triggers(view: LivingAgentView) -> list[DeploymentEventTrigger]:
    resource = {"prefect.resource.id": agent_resource_id(view.name)}
    return [
        DeploymentEventTrigger(
            name=f"{view.name}: inbox pushed",
            description=(
                f"Wakes living agent {view.name}: runs one think cycle (deployment think/{view.name}) "
                f"when a push stores a new event in its inbox ({PUSHED_EVENT} for "
                f"{resource['prefect.resource.id']}). A push during a cycle waits its turn."
            ),
            expect={PUSHED_EVENT},
            match=resource,
            parameters={"agent": view.name, "trigger_type": TriggerType.EVENT.value},
        ),
        DeploymentEventTrigger(
            name=f"{view.name}: push event",
            description=(
                f"Takes a {PUSH_EVENT} event for {resource['prefect.resource.id']} as an inbox event "
                f"of living agent {view.name}: the cycle it runs (deployment think/{view.name}) stores "
                "the event's payload in the inbox first, then thinks."
            ),
            expect={PUSH_EVENT},
            match=resource,
            parameters={
                "agent": view.name,
                "trigger_type": TriggerType.EVENT.value,
                # A single-expression template keeps the payload an object (deployments/triggers.py).
                "incoming": "{{ event.payload }}",
            },
        ),
    ]


def think_deployment_for(view: LivingAgentView) -> RunnerDeployment:
    schedules = None
    if view.cron:
        params = {"agent": view.name, "trigger_type": TriggerType.SCHEDULE.value}
        schedules = [Cron(view.cron, timezone="UTC", parameters=params)]
    return think_cycle_flow.to_deployment(  # type: ignore[return-value]
        name=view.name,
        parameters={"agent": view.name},
        schedules=schedules,
        triggers=think_triggers(view),  # type: ignore[arg-type]
        # One cycle at a time per agent; a wake-up during a cycle waits its turn.
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ENQUEUE),
        tags=["hopflow", "living", f"living:{view.name}"],
        description=view.config.agent.description or f"living agent {view.name}",
        version=str(view.config_version),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def living_deployments(views: list[LivingAgentView] | None = None) -> list[RunnerDeployment]:
    """A `think/<agent>` deployment per active living agent."""
    views = list_living_agents(active_only=True) if views is None else views
    return [think_deployment_for(v) for v in views]
