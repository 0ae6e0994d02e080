"""Blueprint triggers -> what Prefect runs them by: cron schedules (with timezone) and
DeploymentEventTriggers; webhook triggers become routes of the receiver (deployments/webhooks.py)."""

from __future__ import annotations

import re
from typing import Any

from hopflow.models.enums import TriggerType
from hopflow.models.schemas.agents import (
    AgentView,
    EventTriggerSpec,
    ScheduleTriggerSpec,
    trigger_from_config,
)
from hopflow.tasks.agents import name_context, render_name
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Schedule

# Prefect's server fills this in from the event that fired; a single-expression template keeps the
# payload an object (it is rendered with `| tojson`, server/events/actions.py _wrap_v1_template).
EVENT_PAYLOAD_TEMPLATE = "{{ event.payload }}"


def _run_parameters(kind: TriggerType, playbook: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"trigger_type": kind.value}
    if playbook is not None:
        params["playbook"] = playbook
    return params


def schedules_for(view: AgentView) -> list[Schedule]:
    """One cron schedule per schedule trigger; its runs carry trigger_type "schedule"."""
    schedules = []
    for n, stored in enumerate(view.definition.triggers_config):
        trigger = trigger_from_config(stored)
        if isinstance(trigger, ScheduleTriggerSpec):
            schedules.append(
                Cron(
                    trigger.cron,
                    timezone=trigger.timezone,
                    parameters=_run_parameters(TriggerType.SCHEDULE, trigger.playbook),
                    # The UI's schedule card hides the time zone; the slug shows it.
                    slug=f"cron-{_slug(trigger.cron)}-{_slug(trigger.timezone or 'UTC')}-{n}",
                )
            )
    return schedules


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def event_triggers_for(view: AgentView) -> list[DeploymentEventTrigger]:
    """One DeploymentEventTrigger per event trigger; match values may name the configuration."""
    config = view.configuration
    context = name_context(config.id, config.name, config.workspace_id, view.definition.id)
    triggers = []
    for n, stored in enumerate(view.definition.triggers_config):
        trigger = trigger_from_config(stored)
        if not isinstance(trigger, EventTriggerSpec):
            continue
        parameters = _run_parameters(TriggerType.EVENT, trigger.playbook)
        parameters["payload"] = EVENT_PAYLOAD_TEMPLATE
        extra: dict[str, Any] = {}
        if trigger.match_related:
            extra["match_related"] = _render_labels(trigger.match_related, context)
        match = _render_labels(trigger.match, context)
        triggers.append(
            DeploymentEventTrigger(
                name=f"{config.name}: {trigger.event} (trigger {n})",
                description=event_trigger_description(config.name, trigger, match),
                expect={trigger.event},
                match=match,
                parameters=parameters,
                **extra,
            )
        )
    return triggers


def event_trigger_description(
    configuration: str, trigger: EventTriggerSpec, match: dict[str, str | list[str]]
) -> str:
    """What the automation does, in the words the Automations page shows under its name."""
    labels = ", ".join(f"{k}={v}" for k, v in match.items())
    what = (
        f"Runs agent {configuration} (deployment agent-run/{configuration}, trigger_type event) when a "
        f"{trigger.event} event arrives" + (f" for {labels}" if labels else "") + "; the event's payload "
        "becomes the run's payload, checked against the agent's inputs."
        + (f" Playbook: {trigger.playbook}." if trigger.playbook else "")
    )
    return f"{trigger.description}\n\n{what}" if trigger.description else what


def _render_labels(labels: dict[str, str | list[str]], context: dict[str, Any]) -> dict[str, str | list[str]]:
    return {
        key: render_name(value, context)
        if isinstance(value, str)
        else [render_name(v, context) for v in value]
        for key, value in labels.items()
    }


def schedule_yaml(schedule: Schedule) -> dict[str, Any]:
    """A schedule as prefect.yaml writes it."""
    entry: dict[str, Any] = {"cron": schedule.cron, "timezone": schedule.timezone, "active": schedule.active}
    if schedule.parameters:
        entry["parameters"] = dict(schedule.parameters)
    return entry


def event_trigger_yaml(trigger: DeploymentEventTrigger) -> dict[str, Any]:
    """An event trigger as prefect.yaml writes it (`prefect deploy` reads the same shape)."""
    data = trigger.model_dump(mode="json", exclude_unset=True)
    data["type"] = "event"
    data["expect"] = sorted(trigger.expect)
    data["enabled"] = trigger.enabled
    return data
