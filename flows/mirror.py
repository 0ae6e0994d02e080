"""Mirroring flow runs into agent_run_logs: the state hooks every hopflow flow carries, the sync_run_logs
reconciler that repairs what hooks miss, its deployment, and the automation that crashes silent runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from hopflow.tasks import mirror, settle
from prefect import flow, get_client, task
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

Hook = Callable[[Any, Any, Any], None]
logger = logging.getLogger("hopflow.mirror")

CRASH_AUTOMATION_NAME = "hopflow: crash flow runs that stopped heartbeating"
# Every flow hopflow defines: the crash automation touches runs of these only, never another team's
# flows on a shared Prefect server.
HOPFLOW_FLOW_NAMES: tuple[str, ...] = (*mirror.MIRRORED_FLOWS, "sync-run-logs", "runs-report")


# --- state hooks -------------------------------------------------------------------------------------------
def _hook_failed(flow_obj: Any, flow_run: Any, what: str) -> None:
    # A hook never fails the flow: the reconciler repairs the row later. Tell the run's own log too.
    logger.exception("run log mirror: %s failed for flow run %s", what, getattr(flow_run, "id", "?"))
    try:
        from prefect.logging.loggers import flow_run_logger

        flow_run_logger(flow_run=flow_run, flow=flow_obj).warning(
            "hopflow could not %s (the sync_run_logs reconciler will repair it); see the process log", what
        )
    except Exception:
        pass


def _parent_run_id(parent_task_run_id: str | None) -> str | None:
    if not parent_task_run_id:
        return None
    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(UUID(parent_task_run_id))
    return str(task_run.flow_run_id) if task_run.flow_run_id else None


def _mirror(flow_obj: Any, flow_run: Any, state: Any, *, state_type: str | None = None) -> None:
    try:
        snap = mirror.snapshot_of(flow_run, flow_name=flow_obj.name, state=state, state_type=state_type)
        if snap.parent_task_run_id:
            try:
                snap.parent_run_id = _parent_run_id(snap.parent_task_run_id)
            except Exception:
                logger.debug("parent of flow run %s not resolved", snap.run_id, exc_info=True)
        mirror.mirror_runs([snap])
    except Exception:
        _hook_failed(flow_obj, flow_run, f"write the run log ({state_type or state.type.value})")
        return
    if not snap.is_final:
        return
    try:
        # Only what the API already has: its last lines arrive ~1 s after the run and the flow does not wait;
        # an export made now is redone by the reconciler once the logs have settled.
        plan = mirror.plan_log_exports([snap])
        with get_client(sync_client=True) as client:
            exported = mirror.export_logs(client, plan)
        if any(e.lines for e in exported.values()):
            mirror.record_log_exports(exported)
    except Exception:
        _hook_failed(flow_obj, flow_run, "export the run's logs")


def mirror_on_running(flow_obj: Any, flow_run: Any, state: Any) -> None:
    _mirror(flow_obj, flow_run, state)


def mirror_on_final(flow_obj: Any, flow_run: Any, state: Any) -> None:
    """Completion, failure and crash: the terminal state, timings, tokens, output and logs."""
    _mirror(flow_obj, flow_run, state)


def mirror_on_cancellation(flow_obj: Any, flow_run: Any, state: Any) -> None:
    # Prefect calls this hook with CANCELLING and does not call one for the CANCELLED that follows
    # (Prefect 3.x): record the cancellation now; the reconciler later writes Prefect's exact end time.
    _mirror(flow_obj, flow_run, state, state_type="CANCELLED")


def mirror_hooks(**extra: list[Hook]) -> dict[str, Any]:
    """The state hooks every hopflow flow carries, plus any extra ones per hook kind.

    Use as `@flow(..., **mirror_hooks(on_cancellation=[my_hook]))`. The flow's own hooks run first,
    so the mirror records what they did (a cancelled mission, say).
    """
    hooks: dict[str, list[Hook]] = {
        "on_running": [],
        "on_completion": [],
        "on_failure": [],
        "on_cancellation": [],
        "on_crashed": [],
    }
    for kind, fns in extra.items():
        if kind not in hooks:
            raise TypeError(f"mirror_hooks: unknown hook kind {kind!r}")
        hooks[kind] = [*hooks[kind], *fns]
    hooks["on_running"].append(mirror_on_running)
    hooks["on_completion"].append(mirror_on_final)
    hooks["on_failure"].append(mirror_on_final)
    hooks["on_crashed"].append(mirror_on_final)
    hooks["on_cancellation"].append(mirror_on_cancellation)
    return hooks


# --- the reconciler --------------------------------------------------------------------------------------
class SyncReport(BaseModel):
    since: datetime | None
    watermark: datetime | None
    pages: int
    read: int
    runs: int
    crashed: list[str] = []
    settled: list[str] = []  # open in Prefect, finished in hopflow's database: given that final state
    log_exports: int
    read_seconds: float
    write_seconds: float


@task(name="open-sync-window")
def open_sync_window(since: datetime | None, flow_names: list[str] | None) -> mirror.SyncWindow:
    return mirror.open_sync_window(since, flow_names)


@task(name="count-window-runs")
def count_window_runs(window: mirror.SyncWindow) -> int:
    return mirror.count_window_runs(window)


@task(name="sync-page", task_run_name="sync-page-{offset}")
def sync_page(window: mirror.SyncWindow, offset: int, limit: int, export_logs: bool) -> mirror.PageResult:
    return mirror.sync_page(window, offset, limit=limit, export=export_logs)


@task(name="crash-stale-runs")
def crash_stale_runs(window: mirror.SyncWindow, run_ids: list[str], stale_after: float) -> list[str]:
    crashed = mirror.crash_stale_runs(run_ids, stale_after)
    if crashed:
        snaps = mirror.read_snapshots(crashed, window.flow_ids)
        with get_client(sync_client=True) as client:
            exported = mirror.export_logs(client, mirror.plan_log_exports(snaps))
        mirror.mirror_runs(snaps, exported)
    return crashed


@task(name="settle-finished-runs")
def settle_finished_runs(window: mirror.SyncWindow, run_ids: list[str], settle_after: float) -> list[str]:
    settled = settle.settle_finished_runs(run_ids, settle_after)
    if settled:
        snaps = mirror.read_snapshots(settled, window.flow_ids)
        mirror.mirror_runs(snaps)
    return settled


@task(name="close-sync-window")
def close_sync_window(window: mirror.SyncWindow, latest: datetime | None) -> datetime | None:
    return mirror.close_sync_window(window, latest)


# Pages in flight at once: reading page k+1 from Prefect overlaps writing page k, and Prefect's API
# serves concurrent reads faster than one at a time (bench/mirror.py).
PAGE_CONCURRENCY = 4


@flow(
    name="sync-run-logs",
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=PAGE_CONCURRENCY),  # type: ignore[arg-type]
)
def sync_run_logs(
    since: datetime | None = None,
    stale_after: float | None = None,
    export_logs: bool = True,
    flow_names: list[str] | None = None,
    page_size: int = mirror.PAGE_LIMIT,
    settle_after: float = 60.0,
) -> SyncReport:
    """Mirror every run of hopflow's flows that changed since the watermark (or `since`) into
    agent_run_logs, in pages of `page_size` (one transaction each, a few in flight), then move the
    watermark.

    Repairs what hooks missed (a SIGKILLed process, a database that was down, a run cancelled in the
    Prefect UI). With `stale_after`, runs Prefect still shows RUNNING without any heartbeat or state
    change for that many seconds are marked CRASHED first, as the crash automation would. Runs
    Prefect shows open whose mission hopflow's database finished more than `settle_after` seconds
    ago get the mission's outcome as their final state (tasks/settle.py).
    """
    window = open_sync_window(since, flow_names)
    expected = count_window_runs(window)
    futures = [
        sync_page.submit(window, offset, page_size, export_logs) for offset in range(0, expected, page_size)
    ]
    pages = [future.result() for future in futures]
    # Runs created since the count: keep reading while pages come back full.
    offset = len(pages) * page_size
    while True:
        page = sync_page(window, offset, page_size, export_logs)
        pages.append(page)
        if page.read < page_size:
            break
        offset += page_size
    seen: set[str] = set()
    open_ids: list[str] = []
    for page in pages:
        open_ids += [r for r in page.open_run_ids if r not in seen and r not in open_ids]
        seen.update(page.run_ids)
    latest = max((p.latest for p in pages if p.latest is not None), default=None)
    crashed = crash_stale_runs(window, open_ids, stale_after) if stale_after is not None and open_ids else []
    # Open in Prefect but finished in hopflow's database (the runner lost Prefect's API before it
    # could report): hopflow's database is the truth, Prefect and the run row are set from it.
    still_open = [r for r in open_ids if r not in crashed]
    settled = settle_finished_runs(window, still_open, settle_after) if still_open else []
    watermark = close_sync_window(window, latest)
    return SyncReport(
        since=window.since,
        watermark=watermark,
        pages=len([p for p in pages if p.read]),
        read=sum(p.read for p in pages),
        runs=len(seen),
        crashed=crashed,
        settled=settled,
        log_exports=sum(p.log_exports for p in pages),
        read_seconds=round(sum(p.read_seconds for p in pages), 3),
        write_seconds=round(sum(p.write_seconds for p in pages), 3),
    )


# For workers (`hopflow deploy --work-pool`), where no `hopflow serve` process runs the reconciler as a
# thread: an hourly run (24 a day, not 1,440) plus a run as soon as one of hopflow's runs ends in a
# state its hooks may have missed. `hopflow serve` registers no reconciler deployment at all.
RECONCILER_INTERVAL_SECONDS = 3600
MISSED_HOOK_EVENTS = ("prefect.flow-run.Crashed", "prefect.flow-run.Cancelled")


def reconciler_description(interval_seconds: int) -> str:
    return (
        "Mirror Prefect flow runs of hopflow's flows into agent_run_logs (the run-log reconciler), "
        f"every {interval_seconds} s, and at once when a run of hopflow's flows is crashed or "
        "cancelled (its hooks may not have run). State hooks mirror every other run as it ends."
    )


def reconciler_trigger() -> Any:
    """Run the reconciler when a run of one of hopflow's flows (not its own) crashes or is cancelled."""
    from prefect.events import DeploymentEventTrigger

    flows = [name for name in HOPFLOW_FLOW_NAMES if name != "sync-run-logs"]  # never its own end
    return DeploymentEventTrigger(
        name="hopflow: mirror crashed and cancelled runs",
        description=(
            "Runs the run-log reconciler (sync-run-logs) when a flow run of hopflow's flows "
            f"({', '.join(flows)}) is crashed or cancelled: a killed process or a run cancelled "
            "before it started runs no state hook, so only the reconciler mirrors it."
        ),
        expect=set(MISSED_HOOK_EVENTS),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flows},
    )


def reconciler_deployment(interval_seconds: int = RECONCILER_INTERVAL_SECONDS) -> RunnerDeployment:
    """sync_run_logs as a deployment for a work pool: an interval, the missed-hook trigger, one run at
    a time."""
    from prefect.types.entrypoint import EntrypointType

    return sync_run_logs.to_deployment(  # type: ignore[return-value]  # sync outside an event loop
        name="sync-run-logs",
        interval=timedelta(seconds=interval_seconds),
        triggers=[reconciler_trigger()],
        concurrency_limit=1,
        tags=["hopflow"],
        description=reconciler_description(interval_seconds),
        # By module, like the agent deployments, so a worker finds it wherever hopflow is installed.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


# --- crashes nobody reports ---------------------------------------------------------------------------
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


# --- reports ----------------------------------------------------------------------------------------------
@task(name="publish-run-report")
def publish_run_report(since: datetime | None, by: str) -> str:
    # Imported here: pandas costs every served run ~0.4 s of start-up, and only reports need it.
    from hopflow.tasks import reports as run_reports

    report = run_reports.read_run_report(since=since, by=by)
    return str(run_reports.publish_run_report(report, by=by, since=since))


@flow(name="runs-report")
def runs_report(since: datetime | None = None, by: Literal["agent", "model", "day"] = "agent") -> str:
    """The run report (runs, success rate, p50/p95 duration, tokens by group) as a table artifact;
    returns the artifact id."""
    return publish_run_report(since, by)
