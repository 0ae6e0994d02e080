"""A bare Prefect flow of one task, served like `hopflow serve` serves agents: the floor that
bench/trigger_latency.py compares hopflow's trigger latency with, in the same run.

    python bench/bare_flow.py POLL_SECONDS
"""

from __future__ import annotations

import sys

from prefect import flow, serve, task


@task(name="bare-step")
def bare_step() -> int:
    return 1


@flow(name="bare-latency")
def bare_latency() -> int:
    return bare_step()


if __name__ == "__main__":
    poll = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    serve(bare_latency.to_deployment(name="bare"), query_seconds=poll, print_starting_message=False)
