"""`hopflow agents ...`, `hopflow serve`, `hopflow deploy`, `hopflow trigger`, `hopflow webhooks`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from hopflow.deployments.commands.common import (
    cell,
    clear_errors,
    console,
    fail,
    prefect_api_url,
    say,
    settings,
    styled_status,
    warn,
)
from hopflow.models.enums import AgentConfigurationStatus, TriggerType
from hopflow.tasks.agents.routes import deployment_name
from rich.table import Table
from rich.text import Text

agents_app = typer.Typer(help="Agent blueprints and their configurations.", no_args_is_help=True)


def _last_run(config: Any) -> Text:
    # A configuration that never ran has no last run: "never", not the column's `idle` default.
    if config.last_run_id is None or config.last_run_status is None:
        return cell("never", "dim")
    return styled_status(config.last_run_status.value)


def unset_env_refs(value: Any) -> list[str]:
    """Names of the `${env.X}` references in `value` (nested anywhere) that this environment lacks."""
    from hopflow.models.secrets import ENV_REF

    if isinstance(value, str):
        return [name for name in ENV_REF.findall(value) if name not in os.environ]
    if isinstance(value, dict):
        return [n for v in value.values() for n in unset_env_refs(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in unset_env_refs(v)]
    return []


def warn_unset_secrets(configuration_name: str, values: Any, routes: list[Any]) -> None:
    """Say now what would fail later: a referenced variable unset here fails every run that needs it,
    and a webhook without its secret answers 500 to every call."""
    for name in sorted(set(unset_env_refs(values))):
        warn(f"{configuration_name}: ${{env.{name}}} is referenced but {name} is not set in this "
             "environment; runs fail with MissingSecretError until it is set where they run")  # fmt: skip
    for route in routes:
        if not os.environ.get(route.secret_env):
            warn(f"{configuration_name}: webhook {route.method} {route.path} needs {route.secret_env} "
                 "(its HMAC secret); `hopflow webhooks` answers 500 to it until it is set")  # fmt: skip


def _migrated() -> None:
    # Like `hopflow run`: the embedded default works without a separate `hopflow db upgrade`.
    from hopflow.models import migrations

    with clear_errors():
        migrations.upgrade(None)


def _summary(stored: dict[str, Any]) -> str:
    config = stored.get("config", {})
    kind = stored["type"]
    if kind == "schedule":
        return f"schedule {config.get('cron')} ({config.get('timezone', 'UTC')})"
    if kind == "event":
        return f"event {config.get('event')}"
    if kind == "webhook":
        return f"webhook {config.get('method', 'POST')} {config.get('path')}"
    return kind


# --- hopflow agents ... --------------------------------------------------------------------------
@agents_app.command("register")
def register_blueprints(
    files: Annotated[list[Path], typer.Argument(help="Blueprint files (YAML or JSON).")],
) -> None:
    """Check blueprints and upsert them by id and version; any problem in any file writes nothing."""
    from hopflow.tasks.agents import register_blueprints as register

    settings()
    _migrated()
    with clear_errors():
        results = register(files)
    for r in results:
        console.print(
            cell(
                f"{r.action} {r.id} {r.name} {r.version}: {len(r.triggers)} trigger(s) "
                f"({', '.join(r.triggers) or 'none'}), {r.playbooks} playbook(s)  {r.source}"
            )
        )


@agents_app.command("list")
def list_agents(
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Only definitions with this tag (repeat: all must match)."),
    ] = None,
) -> None:
    """Registered definitions, then configurations with their last run."""
    from hopflow.tasks.agents import read_configurations, read_definitions

    settings()
    with clear_errors():
        definitions = read_definitions(tags=tag)
        views = read_configurations()
    if tag:
        # Only the configurations of the definitions shown.
        shown = {d.id for d in definitions}
        views = [v for v in views if v.definition.id in shown]
    # Readable at 80 columns: the name is cut with an ellipsis before anything else (`agents show`
    # has it all, playbooks included).
    table = Table(title="definitions", box=None, show_edge=False, pad_edge=False, header_style="bold")
    for col in ("id", "name", "version", "status", "triggers", "configs", "tags"):
        table.add_column(col, no_wrap=col != "triggers", overflow="ellipsis" if col == "name" else "fold",
                         max_width=30 if col == "name" else None)  # fmt: skip
    counts: dict[str, int] = {}
    for v in views:
        counts[v.definition.id] = counts.get(v.definition.id, 0) + 1
    for d in definitions:
        table.add_row(
            cell(d.id),
            cell(d.name),
            cell(d.version),
            styled_status(d.status.value),
            cell(", ".join(t["type"] for t in d.triggers_config) or "-"),
            cell(counts.get(d.id, 0)),
            cell(", ".join(d.tags) or "-"),
        )
    console.print(table)
    configs = Table(title="configurations", box=None, show_edge=False, pad_edge=False, header_style="bold")
    for col in ("name", "definition", "status", "last run", "at (UTC)", "deployment"):
        configs.add_column(col, no_wrap=True, overflow="ellipsis")
    for v in views:
        c = v.configuration
        configs.add_row(
            cell(c.name),
            cell(v.definition.id),
            styled_status(c.status.value),
            _last_run(c),
            cell(c.last_run_at.strftime("%Y-%m-%d %H:%M") if c.last_run_at else "-"),
            cell(deployment_name(c.name)),
        )
    console.print(configs)


@agents_app.command("show")
def show_agent(
    ref: Annotated[str, typer.Argument(help="Definition id or name, or configuration name or id.")],
) -> None:
    """A definition (triggers, inputs, playbooks, configurations) or a configuration (values, last run)."""
    from hopflow.tasks.agents import AgentNotFound, read_agent, read_definition, webhook_routes_for

    settings()
    with clear_errors():
        try:
            definition, configs = read_definition(ref)
        except AgentNotFound:
            view = read_agent(ref)
            c = view.configuration
            say(cell(f"{c.name} ({c.id}) of {view.definition.id} {view.definition.name} "
                               f"{view.definition.version}: ") + styled_status(c.status.value))  # fmt: skip
            say(cell(f"deployment       {deployment_name(c.name)}"))
            say(cell(f"workspace        {c.workspace_id or '-'}"))
            say(cell(f"memory namespace {c.external_memory_namespace or '-'}"))
            for route in webhook_routes_for(view):
                line = f"webhook          {route.method} {route.path}  (secret: ${route.secret_env})"
                if route.inbox:
                    line += f" -> {route.target}"
                say(cell(line))
            console.print(
                cell("last run         ")
                + _last_run(c)
                + cell(f" {c.last_run_at or ''} {c.last_run_id or ''}")
            )
            if c.last_run_full_output_ref:
                say(cell(f"output           {c.last_run_full_output_ref}"))
            if c.last_run_output_preview:
                console.print(c.last_run_output_preview, markup=False, highlight=False)
            console.print("\n[bold]effective configuration[/] (secrets as ${env.X} references)")
            console.print_json(json.dumps(c.effective_config_cache or {}, default=str))
            return
    console.print(
        cell(f"{definition.id} {definition.name} {definition.version} ")
        + styled_status(definition.status.value)
    )
    if definition.tagline:
        say(cell(definition.tagline))
    console.print(f"concurrency limit {definition.concurrency_limit}")
    say(cell(f"tags {', '.join(definition.tags) or '-'}"))
    console.print("\n[bold]triggers[/]")
    for stored in definition.triggers_config:
        console.print(f"  {_summary(stored)}", markup=False)
    console.print("\n[bold]inputs[/]")
    for item in definition.inputs_schema:
        flag = "required" if item.get("required") else f"default {item.get('default')!r}"
        console.print(
            f"  {item['key']}: {item.get('type', 'string')} ({flag})  {item.get('description', '')}",
            markup=False,
        )
    console.print("\n[bold]playbooks[/]")
    for p in definition.playbooks:
        steps = " -> ".join(s.get("name") or s["type"] for s in p.steps)
        console.print(f"  {p.name}{' (default)' if p.is_default else ''}: {steps}", markup=False)
    console.print("\n[bold]configurations[/]")
    for c in configs:
        say(cell(f"  {c.name} ") + styled_status(c.status.value) + cell(" last run ") + _last_run(c))
    if not configs:
        console.print(f"  none: hopflow agents configure {definition.id} --name NAME --config values.yaml")


@agents_app.command("configure")
def configure(
    definition: Annotated[str, typer.Argument(help="Definition id or name.")],
    name: Annotated[str, typer.Option("--name", help="Configuration name (names its deployment).")],
    config: Annotated[Path | None, typer.Option("--config", help="values.yaml: input key -> value.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Workspace name or id.")] = None,
    description: Annotated[str | None, typer.Option(help="What this instance is for.")] = None,
) -> None:
    """Create an active configuration of DEFINITION with values checked against its inputs."""
    from hopflow.tasks.agents import configure_agent, webhook_routes_for
    from hopflow.tasks.agents import read_agent as read

    settings()
    _migrated()
    with clear_errors():
        created = configure_agent(
            definition, name, values_path=config, workspace=workspace, description=description
        )
        view = read(created.id)
    deployment = deployment_name(created.name)
    say(cell(f"configured {created.name} ({created.id}) of {view.definition.id}: deployment {deployment}"))
    if created.external_memory_namespace:
        say(cell(f"memory namespace {created.external_memory_namespace}"))
    routes = webhook_routes_for(view)
    for route in routes:
        target = f" -> {route.target}" if route.inbox else ""
        say(cell(f"webhook {route.method} {route.path}{target} (whsec_ secret from ${route.secret_env})"))
    warn_unset_secrets(created.name, created.effective_config_cache or {}, routes)


@agents_app.command("reconfigure")
def reconfigure(
    ref: Annotated[str, typer.Argument(help="Configuration name or id.")],
    config: Annotated[Path, typer.Option("--config", help="values.yaml: input key -> value (all of them).")],
    description: Annotated[str | None, typer.Option(help="What this instance is for.")] = None,
) -> None:
    """Give a configuration new values, checked like `configure`; stored as a new version (the old
    ones are kept: `agents versions NAME`). Runs after this use the new values."""
    from hopflow.tasks.agents import read_agent, webhook_routes_for
    from hopflow.tasks.agents.reconfiguring import reconfigure_agent

    settings()
    _migrated()
    with clear_errors():
        updated, version = reconfigure_agent(ref, values_path=config, description=description)
        view = read_agent(updated.id)
    say(cell(f"reconfigured {updated.name}: values version {version} (was {version - 1})"))
    warn_unset_secrets(updated.name, updated.effective_config_cache or {}, webhook_routes_for(view))


@agents_app.command("versions")
def versions(ref: Annotated[str, typer.Argument(help="Configuration name or id.")]) -> None:
    """The stored versions of a configuration's values, newest first."""
    from hopflow.models.access.agent_versions import list_configuration_versions
    from hopflow.models.db import session_scope
    from hopflow.tasks.agents import read_agent

    settings()
    with clear_errors():
        view = read_agent(ref)
        with session_scope() as session:
            rows = [(v.version, v.created_at, v.yaml_config)
                    for v in list_configuration_versions(session, view.configuration.id)]  # fmt: skip
    if not rows:
        say(cell(f"{view.configuration.name}: version 1 only (as configured)"))
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("version", "created (UTC)", "values"):
        table.add_column(column, no_wrap=column != "values", overflow="fold")
    for number, created, yaml_config in rows:
        table.add_row(cell(number), cell(created.strftime("%Y-%m-%d %H:%M")), cell(yaml_config.strip()))
    console.print(table)


def _set_status(ref: str, status: AgentConfigurationStatus, reason: str | None) -> None:
    from hopflow.tasks.agents import set_agent_status

    settings()
    with clear_errors():
        config, changed = set_agent_status(ref, status, reason)
    verb = "now" if changed else "already"
    say(cell(f"{config.name} is {verb} ") + styled_status(config.status.value))
    if changed:
        console.print(
            "[dim]restart `hopflow serve` (or rerun `hopflow deploy`) to apply it to deployments[/]"
        )


@agents_app.command("disable")
def disable(
    ref: str, reason: Annotated[str | None, typer.Option(help="Recorded on the event.")] = None
) -> None:
    """Make a configuration inactive: no deployment, no webhook route, runs refused."""
    _set_status(ref, AgentConfigurationStatus.INACTIVE, reason)


@agents_app.command("enable")
def enable(
    ref: str, reason: Annotated[str | None, typer.Option(help="Recorded on the event.")] = None
) -> None:
    """Make an inactive configuration active again."""
    _set_status(ref, AgentConfigurationStatus.ACTIVE, reason)


@agents_app.command("archive")
def archive(
    ref: str, reason: Annotated[str | None, typer.Option(help="Recorded on the event.")] = None
) -> None:
    """Archive a configuration for good (archived is final)."""
    _set_status(ref, AgentConfigurationStatus.ARCHIVED, reason)


# --- top-level commands --------------------------------------------------------------------------
def serve(
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            "--poll-seconds",
            help="How often the runner asks Prefect for due runs, in seconds "
            "(default: PREFECT_RUNNER_POLL_FREQUENCY when set, else 0.5).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Most flow runs at once in this process.")] = None,
    reconcile_seconds: Annotated[int, typer.Option(help="Run-log reconciler interval.")] = 60,
    reconciler: Annotated[bool, typer.Option(help="Also run the run-log reconciler (a thread).")] = True,
) -> None:
    """Serve every active agent configuration and mission template as deployments, plus the reconciler."""
    from hopflow.deployments.build import DEFAULT_POLL_SECONDS, active_agents, serve_agents
    from hopflow.tasks.agents import webhook_routes_for

    if poll_seconds is None:
        poll_seconds = float(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY") or DEFAULT_POLL_SECONDS)
    settings()
    _migrated()
    api = prefect_api_url()
    with clear_errors():
        views = active_agents()
    if not api:
        console.print(
            "[yellow]PREFECT_API_URL is not set: serving against an ephemeral API in this process; "
            "events, webhooks and `hopflow trigger` from elsewhere cannot reach it.[/]"
        )
    console.print(
        f"serving {len(views)} agent deployment(s) on {api or 'an ephemeral API'}, "
        f"polling every {poll_seconds:g} s"
    )
    for view in views:
        triggers = ", ".join(_summary(t) for t in view.definition.triggers_config) or "API only"
        console.print(f"  {deployment_name(view.configuration.name)}: {triggers}", markup=False)
        for route in webhook_routes_for(view):
            console.print(f"    webhook {route.method} {route.path} -> `hopflow webhooks`", markup=False)
    from hopflow.deployments.commands.templates import print_served_templates

    print_served_templates()
    with clear_errors():
        serve_agents(
            poll_seconds=poll_seconds,
            limit=limit,
            reconcile_seconds=reconcile_seconds if reconciler else None,
            views=views,
        )


def deploy(
    work_pool: Annotated[
        str, typer.Option("--work-pool", help="The Prefect work pool whose workers run agents.")
    ],
    prefect_yaml: Annotated[Path, typer.Option(help="Where to write the prefect.yaml.")] = Path(
        "prefect.yaml"
    ),
    reconcile_seconds: Annotated[
        int,
        typer.Option(
            min=60,
            help="Run-log reconciler interval (a flow run each time; it also runs when a run of hopflow's "
            "flows crashes or is cancelled).",
        ),
    ] = 3600,
) -> None:
    """Register every active configuration and mission template for a work pool's workers and write
    a prefect.yaml."""
    from hopflow.deployments.build import deploy_agents

    settings()
    _migrated()
    if not prefect_api_url():
        raise fail("PREFECT_API_URL is not set: a work pool lives on a Prefect server (prefect server start)")
    with clear_errors():
        ids = deploy_agents(work_pool, prefect_yaml=prefect_yaml, reconcile_seconds=reconcile_seconds)
    console.print(f"registered {len(ids)} deployment(s) for work pool {work_pool}; wrote {prefect_yaml}")
    console.print(f"start a worker with: prefect worker start --pool {work_pool}")


def trigger(
    configuration: Annotated[str, typer.Argument(help="Configuration name or id.")],
    payload: Annotated[
        str, typer.Option("--payload", help="JSON object of input values for this run.")
    ] = "{}",
    playbook: Annotated[str | None, typer.Option(help="Run this playbook instead of the default.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish and show its outcome.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 600.0,
    local: Annotated[
        bool, typer.Option(help="Run agent_run_flow here instead of through the deployment.")
    ] = False,
    directive_text: Annotated[
        str | None,
        typer.Option(help="A one-off directive for this run; the stored directive is left as it is."),
    ] = None,
) -> None:
    """Start a run of an agent now (an API trigger): through its deployment, or --local in this process."""
    from hopflow.models.documents import DocumentError, load_json
    from hopflow.tasks.agents import AgentSpecError, check_payload, configured_keys, input_schema, read_agent
    from hopflow.tasks.agents.directives import check_directive_text

    settings()
    _migrated()
    try:
        body = load_json(payload, "--payload")
    except DocumentError as exc:
        raise fail(str(exc)) from None
    with clear_errors():
        view = read_agent(configuration)
        if view.configuration.status != AgentConfigurationStatus.ACTIVE:
            raise fail(
                f"configuration {view.configuration.name!r} is {view.configuration.status.value}: "
                "enable it first"
            )
        configured = configured_keys(view.configuration.yaml_config)
        if issues := check_payload(input_schema(view.definition.inputs_schema), body, configured):
            raise AgentSpecError(issues, "--payload", kind="trigger payload")
    parameters: dict[str, Any] = {"configuration_id": view.configuration.id, "payload": body}
    if playbook:
        parameters["playbook"] = playbook
    if directive_text is not None:
        with clear_errors():
            parameters["directive_text"] = check_directive_text(directive_text, "--directive-text")
    if local:
        from hopflow.flows.agent_run import agent_run_flow

        with clear_errors():
            outcome = agent_run_flow(trigger_type=TriggerType.MANUAL.value, **parameters)
        console.print(
            cell(f"run {outcome.run_id}: ") + styled_status(outcome.status.value)
            + cell(f"  {outcome.full_output_ref or ''}")
        )  # fmt: skip
        if outcome.output_preview:
            console.print(outcome.output_preview, markup=False, highlight=False)
        return
    _trigger_deployment(
        view.configuration.name, {**parameters, "trigger_type": TriggerType.API.value}, wait, timeout
    )


def _trigger_deployment(name: str, parameters: dict[str, Any], wait: bool, timeout: float) -> None:
    from hopflow.tasks.mirror import TERMINAL_TYPES
    from prefect import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    deployment = deployment_name(name)
    try:
        flow_run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here, not a coroutine
            deployment, parameters=parameters, timeout=0, as_subflow=False, tags=["hopflow", "api"]
        )
    except ObjectNotFound:
        api = prefect_api_url() or "the ephemeral API"
        raise fail(f"deployment {deployment} is not registered on {api}: "
                   "start `hopflow serve` (or `hopflow deploy`) first") from None  # fmt: skip
    console.print(f"flow run [bold]{flow_run.id}[/] of {deployment} ({flow_run.name}) scheduled")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    state = flow_run.state
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run.id).state
            if state is not None and state.type.value in TERMINAL_TYPES:
                break
            time.sleep(1)
    kind = state.type.value if state is not None else "UNKNOWN"
    console.print(f"flow run {flow_run.id}: {kind}", highlight=False)
    if kind != "COMPLETED":
        raise fail(run_failure(str(flow_run.id), state, timeout if kind not in TERMINAL_TYPES else None))


def run_failure(run_id: str, state: Any, waited: float | None = None) -> str:
    """Why a run did not complete, from its final state's message (Prefect puts the exception there)
    and the run log's error; what a user of `trigger --wait` needs instead of a bare FAILED."""
    if waited is not None:
        still = state.type.value if state is not None else "unknown"
        return f"flow run {run_id} did not finish within {waited:g} s (still {still})"
    message = " ".join(str(getattr(state, "message", "") or "").split())
    logged = None
    try:
        from hopflow.models.access.runs import read_run_log
        from hopflow.models.db import session_scope

        with session_scope() as session:
            row = read_run_log(session, run_id)
            logged = row.error_message if row is not None else None
    except Exception:  # the state's message is enough on its own
        logged = None
    cause = logged if logged and (not message or len(logged) > len(message)) else message
    kind = state.type.value if state is not None else "UNKNOWN"
    return (f"flow run {run_id} {kind}: {cause or 'no error message'}"
            f" (details: `hopflow runs show {run_id}`)")  # fmt: skip


def webhooks(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
) -> None:
    """Receive signed webhook calls for every active configuration and start their runs through Prefect."""
    import uvicorn
    from hopflow.deployments.webhooks import create_webhook_app

    cfg = settings()
    _migrated()
    with clear_errors():
        app = create_webhook_app(cfg)
    announce_routes(app, host, port)
    console.print(
        "sign each call with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature; "
        f"secrets whsec_<base64>); bodies up to {cfg.webhook_max_body_bytes} bytes",
        markup=False,
    )
    if not prefect_api_url():
        console.print(
            "[yellow]PREFECT_API_URL is not set: runs would go to an ephemeral API nobody serves.[/]"
        )
    uvicorn.run(app, host=host, port=port, log_level="info")


def announce_routes(app: Any, host: str, port: int) -> None:
    """The receiver's routes, and a warning for each whose secret is not in the environment
    (such a route answers 500 to every call until it is set)."""
    routes = app.state.routes._routes
    for method, path in sorted(routes):
        route = routes[(method, path)]
        console.print(
            f"{method} http://{host}:{port}{path} -> {route.target} (secret ${route.secret_env})",
            markup=False,
        )
        if not os.environ.get(route.secret_env):
            warn(f"{route.secret_env} is not set: {method} {path} answers 500 until it is "
                 f"(export {route.secret_env}=... and restart `hopflow webhooks`)")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the top-level agent commands (serve, deploy, trigger, webhooks) to the main app."""
    app.command()(serve)
    app.command()(deploy)
    app.command()(trigger)
    app.command()(webhooks)
