"""Orchestration overhead per ToolStep: a hopflow mission of N no-op steps against a bare Prefect
flow of N no-op tasks doing the same work, on one Prefect API, in one run.

    python bench/overhead.py [--sizes 10,100,500] [--repeats 3] [--backends sqlite,postgresql]

Prints, per backend and N: median wall time of each flow call, per-step cost, and the ratio
(hopflow / bare). Also the marginal per-step cost (slope over N), which leaves out the fixed
per-flow cost both share. Uses PREFECT_API_URL if set, else Prefect's ephemeral API.

Two CPU columns, for the persisted bare task and hopflow: "CPU" is this process's CPU time (every
thread) during the call, the runner's own cost (on PostgreSQL without hopflow's statements, which
its server runs); "machine" is the whole machine's CPU time from the call's start until the machine
is idle again with `--settle idle` (until the call returns otherwise): the runner, the Prefect
server and both databases, which on a small machine bounds the wall time. A Prefect server works
through a flow's events for seconds after the flow returns (here ~1.1 cores for ~14 s after 300
tasks), so without `--settle idle` the flow that comes next pays for them.

The three flows take turns within each repeat (bare, bare+persist, hopflow), so a slow spell of the
machine lands on all three. Prefect's flow heartbeat is off for all of them (--heartbeats keeps it):
its thread sleeps in 1 s steps and is joined when a flow exits, which adds 0-1 s at random to every
flow call, the same for both kinds of flow; that noise alone moved a 100-step cell by +-5 ms per step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from hopflow.models.schemas.specs import MAX_STEPS_PER_HOP
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from bench.servers import PG_URL, machine_busy, start_prefect_server, wait_until_idle


@task(name="bare-noop")
def bare_noop(value: Any) -> Any:
    return value


@flow(name="bare-noops")
def bare_flow(n: int, persist: bool = False) -> int:
    # persist=True: the task keeps its result durably too (Prefect's own result storage), which is
    # closer to what a hopflow step does with its asset row.
    noop = bare_noop.with_options(persist_result=True, cache_policy=NO_CACHE) if persist else bare_noop
    for i in range(n):
        noop.with_options(task_run_name=f"noop-{i}")(i)
    return n


def mission_spec(n: int) -> dict[str, Any]:
    steps = [
        {
            "tool": "noop.echo",
            "parameter_mapping": {"value": {"literal": i}},
            "result_mapping": {"value": {"asset": f"out_{i}"}},
        }
        for i in range(n)
    ]
    # A hop holds at most MAX_STEPS_PER_HOP steps: larger sizes run as several hops.
    hops = [
        {"name": f"noops-{k}", "steps": steps[start : start + MAX_STEPS_PER_HOP]}
        for k, start in enumerate(range(0, n, MAX_STEPS_PER_HOP))
    ]
    return {"name": f"bench-{n}", "hops": hops}


def use_database(backend: str, workdir: Path) -> tuple[str, Any]:
    """Point hopflow at a fresh database on `backend`; returns (url, cleanup)."""
    from hopflow.models import migrations
    from hopflow.models.settings import reset_settings

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        cleanup = None
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"

        def cleanup() -> None:
            from hopflow.models.db import dispose_engines

            dispose_engines()
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))

    os.environ["HOPFLOW_DATABASE_URL"] = url
    for name in ("logs", "uploads", "data"):
        os.environ[f"HOPFLOW_{name.upper()}"] = str(workdir / name)
    reset_settings()
    migrations.upgrade(url)
    return url, cleanup


def settle_down(settle: float | None) -> None:
    """Before a timed call: sleep `settle` seconds, or (None, --settle idle) wait until the machine is
    idle (under 0.3 cores busy over a second, at most 120 s), so that the call does not pay for the
    Prefect server's work on the previous flow's events."""
    if settle is None:
        wait_until_idle(cores=0.3, window=1.0, limit=120.0)
    else:
        time.sleep(settle)


class Timing(NamedTuple):
    wall: float  # seconds, the flow call
    cpu: float  # seconds of this process's CPU (user + system, every thread) during the call
    # CPU seconds of the whole machine (this process, the Prefect server, both databases) from the
    # start of the call until the machine is idle again (--settle idle), else until the call returns
    machine: float


def timed(call: Any, settle: float | None) -> Timing:
    started, cpu, busy = time.perf_counter(), os.times(), machine_busy()
    call()
    ended = os.times()
    wall = time.perf_counter() - started
    if settle is None:
        settle_down(None)
    return Timing(wall, ended.user - cpu.user + ended.system - cpu.system, machine_busy() - busy)


def time_mission(n: int, settle: float | None = 0.0) -> Timing:
    from hopflow.flows.mission import mission_flow
    from hopflow.models.access.identity import ensure_user
    from hopflow.models.db import session_scope
    from hopflow.tasks.missions import create_mission_from_spec
    from hopflow.tasks.specs import parse_mission_spec

    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(
            session, parse_mission_spec(mission_spec(n)), user_id=user.id
        ).id
    settle_down(settle)
    results: list[Any] = []
    timing = timed(lambda: results.append(mission_flow(mission_id)), settle)
    assert results[0].status == "completed" and results[0].step_count == n
    return timing


def time_bare(n: int, persist: bool = False, settle: float | None = 0.0) -> Timing:
    settle_down(settle)
    return timed(lambda: bare_flow(n, persist), settle)


def slope(points: list[tuple[int, float]]) -> float:
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--prefect-server",
        choices=["postgres", "ephemeral"],
        default="postgres",
        help="Prefect's own server: a `prefect server start` on PostgreSQL (default, as in production) or "
        "the ephemeral SQLite one (it stalls under load: database is locked, 503, back-off)",
    )
    parser.add_argument(
        "--heartbeats",
        action="store_true",
        help="keep Prefect's flow heartbeat on (0-1 s of random wait at the end of every flow call)",
    )
    parser.add_argument(
        "--settle",
        default="0",
        help="before each timed flow call, the same for all three kinds: seconds to wait, or `idle` to "
        "wait until the machine is idle, so that each starts on a Prefect server done with the previous "
        "flow's events (default 0)",
    )
    args = parser.parse_args()
    args.settle = None if args.settle == "idle" else float(args.settle)
    sizes = [int(s) for s in args.sizes.split(",")]
    updates: dict[Any, Any] = {} if args.heartbeats else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    stop_server = None
    if args.prefect_server == "postgres" and not os.environ.get("PREFECT_API_URL"):
        api_url, stop_server = start_prefect_server(Path(tempfile.mkdtemp()))
        print(f"Prefect server on PostgreSQL at {api_url}")
        updates[PREFECT_API_URL] = api_url
    try:
        # Prefect reads its settings at import: switch them through its settings context.
        with temporary_settings(updates=updates):
            run(args, sizes)
    finally:
        if stop_server:
            stop_server()


def run(args: argparse.Namespace, sizes: list[int]) -> None:

    # Warm-up: start the API, import tools, fill caches.
    with tempfile.TemporaryDirectory() as tmp:
        _, cleanup = use_database("sqlite", Path(tmp))
        time_bare(2)
        time_mission(2)

    print(f"\nper-step cost, median of {args.repeats} runs per cell (wall time of the flow call)\n")
    cols = (
        "backend",
        "N",
        "bare ms/step",
        "bare+persist ms/step",
        "hopflow ms/step",
        "ratio",
        "ratio vs persist",
        "CPU: persist",
        "hopflow",
        "ratio",
        "machine: persist",
        "hopflow",
        "ratio",
    )
    widths = (11, 5, 14, 22, 17, 8, 18, 14, 9, 8, 18, 9, 8)
    print(
        "".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, w) in enumerate(zip(cols, widths, strict=True)))
    )
    print("-" * sum(widths))
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            _, cleanup = use_database(backend, Path(tmp))
            try:
                points: dict[str, list[tuple[int, float]]] = {
                    k: [] for k in ("bare", "persist", "hopflow", "cpu p", "cpu h", "machine p", "machine h")
                }
                for n in sizes:
                    # In turns, so that a slow spell of the machine lands on all three.
                    times = [
                        (
                            time_bare(n, settle=args.settle),
                            time_bare(n, persist=True, settle=args.settle),
                            time_mission(n, settle=args.settle),
                        )
                        for _ in range(args.repeats)
                    ]
                    bare, persist, hop = (
                        statistics.median(t.wall for t in column) for column in zip(*times, strict=True)
                    )
                    cpu_p = statistics.median(t[1].cpu for t in times)
                    cpu_h = statistics.median(t[2].cpu for t in times)
                    machine_p = statistics.median(t[1].machine for t in times)
                    machine_h = statistics.median(t[2].machine for t in times)
                    cells = (bare, persist, hop, cpu_p, cpu_h, machine_p, machine_h)
                    for key, value in zip(points, cells, strict=True):
                        points[key].append((n, value))
                    print(_row(backend, str(n), *(c / n for c in cells), widths=widths))
                if len(sizes) > 1:
                    marginal = (slope(points[k]) for k in points)
                    print(_row(backend, "slope", *marginal, widths=widths) + "   (marginal cost per step)")
            finally:
                if cleanup:
                    cleanup()
    print()


def _row(
    backend: str,
    n: str,
    bare: float,
    persist: float,
    hop: float,
    cpu_persist: float,
    cpu_hop: float,
    machine_persist: float,
    machine_hop: float,
    *,
    widths: tuple[int, ...],
) -> str:
    ratio = f"{hop / bare:.2f}x" if bare > 0 else "n/a"
    ratio_p = f"{hop / persist:.2f}x" if persist > 0 else "n/a"
    ratio_cpu = f"{cpu_hop / cpu_persist:.2f}x" if cpu_persist > 0 else "n/a"
    ratio_machine = f"{machine_hop / machine_persist:.2f}x" if machine_persist > 0 else "n/a"
    cells = [
        f"{backend:<{widths[0]}}",
        f"{n:>{widths[1]}}",
        f"{bare * 1000:>{widths[2]}.2f}",
        f"{persist * 1000:>{widths[3]}.2f}",
        f"{hop * 1000:>{widths[4]}.2f}",
        f"{ratio:>{widths[5]}}",
        f"{ratio_p:>{widths[6]}}",
        f"{cpu_persist * 1000:>{widths[7]}.2f}",
        f"{cpu_hop * 1000:>{widths[8]}.2f}",
        f"{ratio_cpu:>{widths[9]}}",
        f"{machine_persist * 1000:>{widths[10]}.2f}",
        f"{machine_hop * 1000:>{widths[11]}.2f}",
        f"{ratio_machine:>{widths[12]}}",
    ]
    return "".join(cells)


if __name__ == "__main__":
    main()
