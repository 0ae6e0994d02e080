"""Active AgentConfigurations -> deployments of agent_run_flow (`agent-run/<configuration name>`): served
in one process (`hopflow serve`), or registered for a work pool with a prefect.yaml (`hopflow deploy`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import hopflow.flows.reconciler as reconciler
import yaml
from hopflow.deployments.automations import ensure_crash_automation
from hopflow.deployments.templates import template_deployments, template_yaml_entries
from hopflow.deployments.triggers import event_trigger_yaml, event_triggers_for, schedule_yaml, schedules_for
from hopflow.flows.agent_run import agent_run_flow
from hopflow.models.schemas.agents import AgentView
from hopflow.tasks.agents import read_configurations, read_webhook_routes
from hopflow.tasks.agents.forms import agent_parameter_schema
from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.utilities.callables import ParameterSchema

logger = logging.getLogger("hopflow.deployments")

# The runner asks Prefect for due runs this often. Prefect's default (10 s) gives ~8 s from a trigger
# to the flow body; a triggered run waits half of it on average for the next poll, so 0.5 s takes
# ~0.25 s off the median trigger latency of 1 s (bench/trigger_latency.py), for two cheap API queries
# a second per serving process.
DEFAULT_POLL_SECONDS = 0.5
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Absolute: `prefect deploy` reads the file from where it runs, a worker from the pull step's folder.
FLOW_ENTRYPOINT = f"{PROJECT_ROOT / 'flows' / 'agent_run.py'}:agent_run_flow"
RECONCILER_ENTRYPOINT = f"{PROJECT_ROOT / 'flows' / 'reconciler.py'}:sync_run_logs"


def deployment_tags(view: AgentView) -> list[str]:
    definition = view.definition
    tags = ["hopflow", "agent", f"agent:{definition.name}", f"agent-id:{definition.id}"]
    if definition.category:
        tags.append(f"category:{definition.category}")
    return tags


def deployment_description(view: AgentView) -> str:
    definition = view.definition
    parts = [f"{definition.name} {definition.version} ({definition.id})"]
    parts += [p for p in (definition.tagline, definition.description, view.configuration.description) if p]
    parts += [f"Schedule: cron {s.cron} in {s.timezone or 'UTC'}." for s in schedules_for(view)]
    return "\n\n".join(parts)


def concurrency_for(view: AgentView) -> ConcurrencyLimitConfig:
    # ENQUEUE: a run over the limit waits its turn instead of being cancelled.
    return ConcurrencyLimitConfig(
        limit=view.definition.concurrency_limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
    )


def deployment_for(view: AgentView) -> RunnerDeployment:
    """The deployment of one configuration: its schedules, event triggers, concurrency, tags, description,
    and a Run form made of the blueprint's inputs."""
    deployment: RunnerDeployment = agent_run_flow.to_deployment(  # type: ignore[assignment]
        name=view.configuration.name,
        parameters={"configuration_id": view.configuration.id},
        schedules=schedules_for(view) or None,
        triggers=event_triggers_for(view) or None,  # type: ignore[arg-type]
        concurrency_limit=concurrency_for(view),
        tags=deployment_tags(view),
        description=deployment_description(view),
        version=view.definition.version,
        # By module, so a worker finds the flow wherever hopflow is installed.
        entrypoint_type=EntrypointType.MODULE_PATH,
        # Event payloads arrive templated; hopflow checks every payload itself, naming what is wrong.
        enforce_parameter_schema=False,
    )
    deployment._parameter_openapi_schema = ParameterSchema(**agent_parameter_schema(view))
    return deployment


def active_agents() -> list[AgentView]:
    """Every active configuration; a webhook path two of them claim stops everything, loudly."""
    read_webhook_routes()
    return read_configurations(active_only=True)


def build_deployments(views: list[AgentView] | None = None) -> list[RunnerDeployment]:
    return [deployment_for(v) for v in (active_agents() if views is None else views)]


def hopflow_support(reconcile_seconds: int | None) -> list[RunnerDeployment]:
    """The run-log reconciler deployment (flows/reconciler.py), and the crash automation on the server
    (deployments/automations.py)."""
    extra: list[RunnerDeployment] = []
    if reconcile_seconds is not None:
        extra.append(reconciler.reconciler_deployment(interval_seconds=reconcile_seconds))
    ensure_crash_automation()
    extra += retention_support()
    return extra


def retention_support() -> list[RunnerDeployment]:
    """HOPFLOW_RETENTION_DAYS set: the daily prune deployment (flows/retention.py)."""
    from hopflow.models.settings import get_settings

    days = get_settings().retention_days
    if days is None:
        return []
    from hopflow.flows.retention import retention_deployment

    return [retention_deployment(days)]


def serve_agents(
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    limit: int | None = None,
    reconcile_seconds: int | None = 60,
    views: list[AgentView] | None = None,
) -> None:
    """Serve every active configuration, living agent and mission template in this process until
    interrupted, with the run-log reconciler as a thread of this process (no flow runs of its own in
    the Runs list); a Prefect API outage is waited out (deployments/serving.py), not fatal."""
    from hopflow.deployments.living import living_deployments
    from hopflow.deployments.reconciler import Reconciler
    from hopflow.deployments.serving import serve_through_outages
    from hopflow.models.settings import get_settings
    from prefect.settings import PREFECT_API_URL

    deployments = build_deployments(views) + template_deployments()
    deployments += living_deployments()  # think/<agent> of every active living agent
    if not deployments and reconcile_seconds is None:
        raise LookupError(
            "nothing to serve: no active agent configuration (hopflow agents configure ...) "
            "and no mission template (hopflow missions deploy SPEC)"
        )

    def serve_once() -> None:
        # Inside the retry: registering the crash automation needs the API too.
        support = hopflow_support(None)  # the crash automation; the reconciler runs as a thread
        serve(*deployments, *support, limit=limit, query_seconds=poll_seconds, print_starting_message=False)

    reconciler = Reconciler(reconcile_seconds).start() if reconcile_seconds is not None else None
    try:
        serve_through_outages(
            serve_once,
            api_url=PREFECT_API_URL.value() or None,
            backoff_cap=get_settings().serve_retry_max_seconds,
        )
    finally:
        if reconciler is not None:
            reconciler.stop()


def deploy_agents(
    work_pool: str,
    *,
    prefect_yaml: Path | None = None,
    reconcile_seconds: int | None = reconciler.RECONCILER_INTERVAL_SECONDS,
    views: list[AgentView] | None = None,
) -> list[str]:
    """Register every active configuration and mission template (and the reconciler: hourly, and at
    once after a crashed or cancelled run) for `work_pool`'s workers; returns ids.

    Workers need hopflow installed and HOPFLOW_DATABASE_URL set: deployments load the flow by module.
    """
    from prefect import deploy

    views = active_agents() if views is None else views
    deployments = build_deployments(views) + template_deployments()
    if not deployments:
        raise LookupError(
            "nothing to deploy: no active agent configuration (hopflow agents configure ...) "
            "and no mission template (hopflow missions deploy SPEC)"
        )
    # A worker loads flows by module; a deployment that names a file needs an image or remote storage.
    for extra in hopflow_support(reconcile_seconds):
        if extra.entrypoint_type == EntrypointType.MODULE_PATH:
            deployments.append(extra)
        else:
            logger.warning("not deploying %s: its entrypoint is a file path; serve it instead", extra.name)
    ids = deploy(  # a sync call here: deploy() returns the ids, not a coroutine
        *deployments,
        work_pool_name=work_pool,
        build=False,
        push=False,
        print_next_steps_message=False,
        ignore_warnings=True,
    )
    if prefect_yaml is not None:
        write_prefect_yaml(prefect_yaml, views, work_pool, reconcile_seconds)
    return [str(i) for i in cast("list[Any]", ids)]


def prefect_yaml_document(
    views: list[AgentView], work_pool: str, reconcile_seconds: int | None = None
) -> dict[str, Any]:
    """What `prefect deploy --all` needs to register the same agent deployments (and the reconciler)."""
    import prefect

    entries: list[dict[str, Any]] = []
    for view in views:
        concurrency = concurrency_for(view)
        entries.append(
            {
                "name": view.configuration.name,
                "version": view.definition.version,
                "tags": deployment_tags(view),
                "description": deployment_description(view),
                "entrypoint": FLOW_ENTRYPOINT,
                "parameters": {"configuration_id": view.configuration.id},
                "work_pool": {"name": work_pool, "work_queue_name": None, "job_variables": {}},
                "schedules": [schedule_yaml(s) for s in schedules_for(view)],
                "triggers": [event_trigger_yaml(t) for t in event_triggers_for(view)],
                "concurrency_limit": {
                    "limit": concurrency.limit,
                    "collision_strategy": concurrency.collision_strategy.value,
                },
            }
        )
    entries += template_yaml_entries(work_pool)
    if reconcile_seconds is not None:
        entries.append(
            {
                "name": "sync-run-logs",
                "tags": ["hopflow"],
                "description": reconciler.reconciler_description(reconcile_seconds),
                "entrypoint": RECONCILER_ENTRYPOINT,
                "work_pool": {"name": work_pool, "work_queue_name": None, "job_variables": {}},
                "schedules": [{"interval": reconcile_seconds, "active": True}],
                "triggers": [event_trigger_yaml(reconciler.reconciler_trigger())],
                "concurrency_limit": 1,
            }
        )
    return {
        "name": "hopflow",
        "prefect-version": prefect.__version__,
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}],
        "deployments": entries,
    }


def write_prefect_yaml(
    path: Path, views: list[AgentView], work_pool: str, reconcile_seconds: int | None = None
) -> Path:
    header = (
        "# Written by `hopflow deploy`: the deployments of hopflow's active agent configurations\n"
        "# and mission templates, and the run-log reconciler (hourly, and after a crashed or\n"
        "# cancelled run).\n"
        "# `prefect deploy --all` registers the same ones; workers need hopflow installed and\n"
        "# HOPFLOW_DATABASE_URL set. Mission templates keep their Run form (their entrypoint\n"
        "# flow carries it); agents get Prefect's generic form from this file: `hopflow deploy`\n"
        "# registers them with theirs.\n"
    )
    document = prefect_yaml_document(views, work_pool, reconcile_seconds)
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
    return path
