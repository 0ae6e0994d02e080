"""Mission templates -> deployments of mission_template_flow (`mission-run/<template name>`): their
schedule (cron with time zone, or interval), and a Run form made of the spec's inputs."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from hopflow.flows.mission_template import mission_template_flow
from hopflow.models.schemas.specs import MissionSpec
from hopflow.tasks.templates import TemplateView, parameter_schema, read_template, read_templates
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.utilities.callables import ParameterSchema

TEMPLATE_FLOW = "mission-run"
# Absolute, like the agents' entry in prefect.yaml (deployments/build.py). One flow per template, so
# that `prefect deploy` gives each the Run form `hopflow serve` does (flows/template_flows.py).
TEMPLATE_FLOWS_FILE = Path(__file__).resolve().parents[1] / "flows" / "template_flows.py"


def template_entrypoint(name: str) -> str:
    return f"{TEMPLATE_FLOWS_FILE}:{name}"


def schedule_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def template_schedules(view: TemplateView) -> list[Schedule]:
    if view.cron:
        tz = view.timezone or "UTC"
        return [Cron(view.cron, timezone=tz, slug=f"cron-{schedule_slug(view.cron)}-{schedule_slug(tz)}")]
    if view.interval_seconds:
        return [Interval(timedelta(seconds=view.interval_seconds), slug=f"every-{view.interval_seconds}s")]
    return []


def template_description(view: TemplateView, spec: MissionSpec) -> str:
    parts = [f"Mission template {view.name} v{view.version}: each run creates a fresh mission from it."]
    parts += [p for p in (spec.description, spec.goal and f"Goal: {spec.goal}") if p]
    if view.cron:
        parts.append(f"Schedule: cron {view.cron} in {view.timezone or 'UTC'}.")
    elif view.interval_seconds:
        parts.append(f"Schedule: every {view.interval_seconds} s.")
    if view.source:
        parts.append(f"Spec: {view.source}")
    return "\n\n".join(parts)


def template_deployment(view: TemplateView, spec: MissionSpec) -> RunnerDeployment:
    """One template's deployment: schedule, tags, description, and the spec's inputs as its Run form."""
    deployment: RunnerDeployment = mission_template_flow.to_deployment(  # type: ignore[assignment]
        name=view.name,
        parameters={"template": view.name},
        schedules=template_schedules(view) or None,
        tags=["hopflow", "mission-template", f"template:{view.name}"],
        description=template_description(view, spec),
        version=str(view.version),
        entrypoint_type=EntrypointType.MODULE_PATH,
        # hopflow checks the inputs itself (tasks/templates.py), naming what is wrong and where.
        enforce_parameter_schema=False,
    )
    deployment._parameter_openapi_schema = ParameterSchema(**parameter_schema(view, spec))
    return deployment


def template_deployments(names: list[str] | None = None) -> list[RunnerDeployment]:
    views = read_templates() if names is None else [read_template(n)[0] for n in names]
    out = []
    for view in views:
        _, spec = read_template(view.name)
        out.append(template_deployment(view, spec))
    return out


def apply_template_deployment(name: str) -> str:
    """Register (or update) the template's deployment on the Prefect API; `hopflow serve` runs it."""
    view, spec = read_template(name)
    return str(template_deployment(view, spec).apply())


def template_yaml_entries(work_pool: str) -> list[dict[str, Any]]:
    """The templates' deployments as prefect.yaml entries (`prefect deploy --all` registers the same)."""
    entries = []
    for view in read_templates():
        _, spec = read_template(view.name)
        schedules: list[dict[str, Any]] = []
        if view.cron:
            schedules.append({"cron": view.cron, "timezone": view.timezone or "UTC", "active": True})
        elif view.interval_seconds:
            schedules.append({"interval": view.interval_seconds, "active": True})
        entries.append(
            {
                "name": view.name,
                "version": str(view.version),
                "tags": ["hopflow", "mission-template", f"template:{view.name}"],
                "description": template_description(view, spec),
                "entrypoint": template_entrypoint(view.name),
                "parameters": {"template": view.name},
                "work_pool": {"name": work_pool, "work_queue_name": None, "job_variables": {}},
                "schedules": schedules,
            }
        )
    return entries
