"""The run-log mirror: (a) hook lag, from a flow run's terminal state to its agent_run_logs row, and
what the hooks add to a flow call; (b) reconciler throughput into PostgreSQL for N flow runs, against
bare Prefect paging through the same runs.

    python bench/mirror.py [--runs 10000] [--lag-runs 20] [--concurrency 32]

Starts a `prefect server start` on a fresh PostgreSQL database (as production runs Prefect; its
SQLite server stalls under load: database locked, 503s, back-offs) unless PREFECT_API_URL is set, and writes
hopflow's rows into a fresh PostgreSQL schema. Prints two tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from hopflow.flows.mirror import mirror_hooks
from prefect import flow, get_client
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from bench.servers import PG_URL, start_prefect_server, wait_until_idle


@flow(name="bench-mirror-bare")
def bare_probe(i: int) -> int:
    return i


@flow(name="bench-mirror-hooked", **mirror_hooks())
def hooked_probe(i: int) -> int:
    return i


# --- set-up -------------------------------------------------------------------------------------------
def use_postgres_schema(workdir: Path) -> Callable[[], None]:
    """Point hopflow at a fresh, migrated PostgreSQL schema; returns its cleanup."""
    from hopflow.models import migrations
    from hopflow.models.db import dispose_engines
    from hopflow.models.settings import reset_settings

    schema = f"bench_mirror_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    os.environ["HOPFLOW_DATABASE_URL"] = url
    for name in ("logs", "uploads", "data"):
        os.environ[f"HOPFLOW_{name.upper()}"] = str(workdir / name)
    reset_settings()
    migrations.upgrade(url)

    def cleanup() -> None:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        admin.dispose()

    return cleanup


def settle() -> float:
    """After the burst of creations Prefect's server keeps processing their events for a while; timing
    the sync during that would measure the contention. Returns the seconds waited."""
    return wait_until_idle(cores=0.15 * (os.cpu_count() or 1), window=2.0, limit=240.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- (a) hook lag -------------------------------------------------------------------------------------
def hook_lag(k: int) -> list[tuple[str, str]]:
    """K hooked flow runs: lag from the terminal state's timestamp (Prefect's) to the commit of the
    terminal row (its status event, written in the hook's transaction), and the call-time overhead."""
    from hopflow.models.db import session_scope
    from hopflow.models.orm import AgentRunLog, Event

    for i in range(3):  # warm-up: imports, connections, flow registration
        bare_probe(i)
        hooked_probe(i)
    bare_times, hooked_times, lags, before_return = [], [], [], 0
    for i in range(k):
        t0 = time.perf_counter()
        bare_probe(i)
        bare_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        state = hooked_probe(i, return_state=True)
        hooked_times.append(time.perf_counter() - t0)
        run_id = str(state.state_details.flow_run_id)
        with session_scope() as session:  # read as soon as the call returned: no wait, no retry
            row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).one_or_none()
            event = session.scalars(
                sa.select(Event)
                .where(Event.subject_id == run_id, Event.action == "status_changed")
                .order_by(Event.created_at.desc())
            ).first()
        if row is not None and row.status.value == "success":
            before_return += 1
        terminal: datetime = state.timestamp
        if event is not None:
            lags.append((event.created_at - terminal).total_seconds() * 1000)
    added = statistics.median(hooked_times) - statistics.median(bare_times)
    ratio = statistics.median(hooked_times) / statistics.median(bare_times)
    return [
        ("flow runs", str(k)),
        ("terminal row present when the flow call returned", f"{before_return}/{k}"),
        ("lag terminal state -> row, p50", f"{statistics.median(lags):.1f} ms"),
        ("lag terminal state -> row, p95", f"{pct(lags, 0.95):.1f} ms"),
        ("lag terminal state -> row, max", f"{max(lags):.1f} ms"),
        ("flow call, bare Prefect (median)", f"{statistics.median(bare_times) * 1000:.1f} ms"),
        ("flow call, with mirror hooks (median)", f"{statistics.median(hooked_times) * 1000:.1f} ms"),
        ("hooks add per flow run", f"{added * 1000:.1f} ms ({ratio:.2f}x)"),
    ]


# --- (b) reconciler throughput ------------------------------------------------------------------------
async def create_runs(flow_obj: Any, n: int, concurrency: int) -> float:
    """N finished flow runs through the REST API: one POST /flow_runs/ each, created COMPLETED (every
    10th FAILED). One call instead of create + set state halves the set-up: Prefect's server, not the
    client, is the bottleneck here (~20 ms a call on two cores, whatever the concurrency)."""
    semaphore = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    async with get_client() as client:
        flow_id = await client.create_flow(flow_obj)

        async def one(i: int) -> None:
            failed = i % 10 == 0
            state = {"type": "FAILED", "name": "Failed", "message": f"bench failure {i}"} if failed else {
                "type": "COMPLETED", "name": "Completed"}  # fmt: skip
            body = {"flow_id": str(flow_id), "parameters": {"i": i}, "state": state}
            async with semaphore:
                response = await client.request("POST", "/flow_runs/", json=body)
                response.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started


def bare_page_read(flow_name: str, in_flight: int = 1) -> tuple[int, float]:
    """Bare Prefect: page through the same runs with the same filter and page size, nothing else;
    `in_flight` pages at a time (the reconciler reads 4 at a time)."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from hopflow.tasks.mirror import count_window_runs, open_sync_window, read_flow_run_page

    window = open_sync_window(None, [flow_name], use_watermark=False)
    started = time.perf_counter()
    total = count_window_runs(window)

    def page(offset: int) -> list[str]:
        with get_client(sync_client=True) as client:
            return [str(fr.id) for fr in read_flow_run_page(client, window, offset)]

    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        # Prefect's settings (the API URL) live in context variables: each thread runs in a copy.
        pages = [pool.submit(contextvars.copy_context().run, page, o) for o in range(0, total, 200)]
        seen = {run_id for future in pages for run_id in future.result()}
    return len(seen), time.perf_counter() - started


def reconciler(n: int, concurrency: int) -> list[tuple[str, str]]:
    from hopflow.flows.reconciler import sync_run_logs
    from hopflow.models.db import session_scope
    from hopflow.models.orm import AgentRunLog

    @flow(name=f"bench-mirror-{uuid.uuid4().hex[:8]}")
    def bench_runs(i: int) -> int:
        return i

    print(f"creating {n} finished flow runs in Prefect ...", flush=True)
    create_s = asyncio.run(create_runs(bench_runs, n, concurrency))
    settled = settle()
    print(f"Prefect server idle again after {settled:.0f} s", flush=True)
    total = n
    bare_count, bare_s = bare_page_read(bench_runs.name)
    bare4_count, bare4_s = bare_page_read(bench_runs.name, in_flight=4)
    assert bare_count == bare4_count == total, (bare_count, bare4_count, total)

    print("syncing (no log export) ...", flush=True)
    t0 = time.perf_counter()
    plain = sync_run_logs(flow_names=[bench_runs.name], export_logs=False)
    plain_s = time.perf_counter() - t0
    with session_scope() as session:
        rows = session.scalar(
            sa.select(sa.func.count())
            .select_from(AgentRunLog)
            .where(AgentRunLog.flow_name == bench_runs.name)
        )
    assert rows == total and plain.runs == total, (rows, plain.runs, total)
    t0 = time.perf_counter()
    again = sync_run_logs(
        flow_names=[bench_runs.name], since=datetime(1970, 1, 1, tzinfo=UTC), export_logs=False
    )
    again_s = time.perf_counter() - t0
    print("syncing again with log export ...", flush=True)
    t0 = time.perf_counter()
    logs = sync_run_logs(
        flow_names=[bench_runs.name], since=datetime(1970, 1, 1, tzinfo=UTC), export_logs=True
    )
    logs_s = time.perf_counter() - t0

    # The write path alone: the same runs, already read, written again into emptied tables one page
    # (one transaction) at a time, with nothing else running in this process.
    from hopflow.tasks.mirror import open_sync_window, read_flow_run_page, snapshot_of

    window = open_sync_window(None, [bench_runs.name], use_watermark=False)
    snaps = []
    with get_client(sync_client=True) as client:
        for offset in range(0, total, 200):
            snaps += [
                snapshot_of(fr, flow_name=bench_runs.name)
                for fr in read_flow_run_page(client, window, offset)
            ]
    with session_scope() as session:
        session.execute(sa.text("truncate agent_run_logs, events, run_artifacts"))
    from hopflow.tasks.mirror import mirror_runs

    t0 = time.perf_counter()
    for start in range(0, len(snaps), 200):
        mirror_runs(snaps[start : start + 200])
    write_only_s = time.perf_counter() - t0

    def rate(count: int, seconds: float) -> str:
        return f"{count / seconds:,.0f} runs/s ({seconds:.2f} s)"

    return [
        ("flow runs (finished, in Prefect on PostgreSQL)", f"{total:,}"),
        ("creating them through the API", rate(total, create_s)),
        ("bare Prefect: page-read them, one page at a time", rate(bare_count, bare_s)),
        ("bare Prefect: page-read them, 4 pages in flight", rate(bare4_count, bare4_s)),
        ("sync, first pass: whole flow call", rate(plain.runs, plain_s)),
        ("  of which reading Prefect (summed over pages)", rate(plain.runs, plain.read_seconds)),
        ("  of which writing PostgreSQL (summed over pages)", rate(plain.runs, plain.write_seconds)),
        ("write path alone: pages of 200 into emptied tables", rate(len(snaps), write_only_s)),
        (
            "sync / bare page-read (one at a time; 4 in flight)",
            f"{plain_s / bare_s:.2f}x; {plain_s / bare4_s:.2f}x",
        ),
        ("sync, nothing changed (idempotent pass)", rate(again.runs, again_s)),
        (
            "sync with log export (files + run_artifacts)",
            rate(logs.runs, logs_s) + f", {logs.log_exports:,} files",
        ),
    ]


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 40))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="flow runs for the reconciler (b)")
    parser.add_argument("--lag-runs", type=int, default=20, help="hooked flow runs for the hook lag (a)")
    parser.add_argument("--concurrency", type=int, default=8, help="API calls in flight while creating runs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hopflow-bench-mirror-"))
    stop_server: Callable[[], None] | None = None
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        api_url, stop_server = start_prefect_server(workdir)
        print(f"Prefect server on PostgreSQL at {api_url}")
    cleanup = use_postgres_schema(workdir)
    try:
        # Heartbeats off: a flow call then costs ~0.15 s instead of ~1.1 s (PREFECT_NOTES), so the
        # hooks' own cost is visible; it does not change what the hooks do.
        with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            lag = hook_lag(args.lag_runs)
            throughput = reconciler(args.runs, args.concurrency)
        print_table("(a) state hooks: terminal state -> agent_run_logs (hopflow DB on PostgreSQL)", lag)
        print_table(
            "(b) reconciler sync_run_logs into PostgreSQL: pages of 200, one transaction each, 4 in flight",
            throughput,
        )
        print()
    finally:
        cleanup()
        if stop_server is not None:
            stop_server()


if __name__ == "__main__":
    main()
