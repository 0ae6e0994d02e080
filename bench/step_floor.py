"""What bounds a hopflow step's cost: the same mission run as is and with its step's two database
writes (the claim and the finish) taken out or moved, against the persisted bare Prefect task.

    python bench/step_floor.py [--sizes 30,300] [--repeats 5] [--backends postgresql,sqlite]

A diagnostic, not a mode of hopflow: the variants replace, in this process only, the two functions
that write a step's claim and finish on the usual path (`_claim_as_read` and `_finish` in
hopflow/tasks/steps.py). Without those writes a step is not exactly-once and a crash would lose more
than the step in flight; they show how much of the cost over the bare task the writes are, and how
much a different arrangement of them could save:

- `as is`: the step's claim before the tool and its finish after it, each one statement on
  PostgreSQL (one short transaction on SQLite), awaited where it is written;
- `no writes`: neither (the floor: what the rest of a hopflow step costs);
- `one write`: the claim moved to where the finish is, so one statement a step (the cost of
  merging a step's finish with the next step's claim, without its bookkeeping);
- `writer thread`: both statements in order in a background thread, never awaited by the step
  (the cost of writes that never block the step: pipelined or deferred).

Each repeat runs the five flows in turns at each size, each starting on an idle machine and timed
to its return (the Prefect server on PostgreSQL works through a flow's events for seconds after;
waiting for it keeps one flow from paying for the one before). Prints per variant the marginal cost
per step (the slope of wall time over the sizes, as bench/overhead.py: the fixed cost of a flow
left out), the median over the repeats and its ratio to the persisted bare task's median, and the
range of the paired ratios (each repeat's slope against the same repeat's bare task's).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from bench.overhead import slope, time_bare, time_mission, use_database
from bench.servers import start_prefect_server

VARIANTS = ("as is", "no writes", "one write", "writer thread")


@contextmanager
def variant(name: str) -> Iterator[None]:
    """The step's claim and finish writes replaced as `name` says, for the block."""
    from hopflow.models.db import statement_scope
    from hopflow.tasks import steps

    claim, finish = steps._claim_as_read, steps._finish
    reads: dict[str, Any] = {}
    writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bench-writer")

    def claimed(step: Any, assets: dict[str, Any], *, task_run_id: str | None, owner: str | None) -> Any:
        reads[step.id] = (step, assets, task_run_id, owner)
        outputs = {f: assets[t["asset_id"]] for f, t in step.result_mapping.items()}
        return steps._begun(step, outputs, None, [])

    def claim_later(step_id: str, *_: Any) -> None:
        step, assets, task_run_id, owner = reads.pop(step_id)
        claim(step, assets, task_run_id=task_run_id, owner=owner)

    def in_writer(step: Any, assets: dict[str, Any], *, task_run_id: str | None, owner: str | None) -> Any:
        writer.submit(claim, step, assets, task_run_id=task_run_id, owner=owner)
        return claimed(step, assets, task_run_id=task_run_id, owner=owner)

    def finish_in_writer(step_id: str, attempt: int, result: Any, moves: Any, _db: Any) -> None:
        def write() -> None:
            with statement_scope() as conn:
                finish(step_id, attempt, result, moves, conn)

        writer.submit(write)

    replacements: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "as is": (claim, finish),
        "no writes": (claimed, lambda *_: None),
        "one write": (claimed, claim_later),
        "writer thread": (in_writer, finish_in_writer),
    }
    steps._claim_as_read, steps._finish = replacements[name]  # type: ignore[assignment]
    try:
        yield
    finally:
        writer.shutdown(wait=True)
        steps._claim_as_read, steps._finish = claim, finish  # type: ignore[assignment]


def time_variant(name: str, n: int) -> float:
    """Seconds of one mission flow call of `n` no-op steps under `variant(name)`, from an idle machine."""
    with variant(name):
        return time_mission(n, settle=None).wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="30,300", help="steps a flow: at least two sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    api_url, stop_server = start_prefect_server(Path(tempfile.mkdtemp()))
    sizes = [int(n) for n in args.sizes.split(",")]
    print(f"Prefect server on PostgreSQL at {api_url}; flows of {args.sizes} steps, {args.repeats} repeats")
    try:
        updates = {PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        with temporary_settings(updates=updates):
            for backend in args.backends.split(","):
                run(backend, sizes, args.repeats)
    finally:
        stop_server()


def run(backend: str, sizes: list[int], repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _, cleanup = use_database(backend, Path(tmp))
        try:
            time_bare(2)
            for name in VARIANTS:  # warm-up: imports, caches, prepared statements
                time_variant(name, 2)
            bare: list[float] = []
            slopes: dict[str, list[float]] = {name: [] for name in VARIANTS}
            for _ in range(repeats):
                points: dict[str, list[tuple[int, float]]] = {name: [] for name in ("bare", *VARIANTS)}
                for n in sizes:
                    points["bare"].append((n, time_bare(n, persist=True, settle=None).wall))
                    for name in VARIANTS:
                        points[name].append((n, time_variant(name, n)))
                bare.append(slope(points["bare"]))
                for name in VARIANTS:
                    slopes[name].append(slope(points[name]))
        finally:
            if cleanup:
                cleanup()
    floor = statistics.median(bare)
    print(f"\n{backend}: marginal wall time per step, median of {repeats} (and the paired ratios' range)")
    print(f"  {'bare task, persisted result':<28}{floor * 1000:8.2f} ms")
    for name in VARIANTS:
        paired = sorted(t / b for t, b in zip(slopes[name], bare, strict=True))
        median = statistics.median(slopes[name])
        print(
            f"  {'hopflow, ' + name:<28}{median * 1000:8.2f} ms  {median / floor:5.2f}x"
            f"  (paired {paired[0]:.2f}x to {paired[-1]:.2f}x)"
        )


if __name__ == "__main__":
    main()
