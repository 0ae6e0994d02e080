"""The run-log reconciler: the sync_run_logs flow that mirrors every run of hopflow's flows changed since
its watermark (repairing what state hooks missed), and its deployment for work pools."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hopflow.tasks import mirror, settle
from prefect import flow, get_client, task
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


# --- the flow --------------------------------------------------------------------------------------
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

    flows = [name for name in mirror.HOPFLOW_FLOW_NAMES if name != "sync-run-logs"]  # never its own end
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
