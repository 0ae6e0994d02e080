"""First run on a fresh machine: `hopflow demo` against an empty Prefect flow, each as a whole new
process with a new PREFECT_HOME and working directory (so Prefect creates its database and
starts its ephemeral API from nothing, as on a fresh clone).

    python bench/first_run.py [--repeats 3]

Prints the median wall time of each and the ratio (target: demo <= 1.3x the empty flow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOPFLOW = Path(sys.executable).with_name("hopflow")

EMPTY_FLOW = """
from prefect import flow

@flow
def empty() -> None:
    pass

empty()
"""


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HOPFLOW_"))}
    env.update(
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # The same raised start-up time-out for both: Prefect's 20 s default is below a first start here.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    return env


def timed(cmd: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=tmp, env=fresh_env(Path(tmp)), capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    empty: list[float] = []
    demo: list[float] = []
    for _ in range(args.repeats):  # alternate, so drift on a busy machine hits both alike
        empty.append(timed([sys.executable, "-c", EMPTY_FLOW]))
        demo.append(timed([str(HOPFLOW), "demo"]))
    e, d = statistics.median(empty), statistics.median(demo)
    print(
        f"\nfirst run in a new process, new PREFECT_HOME, new working directory; median of {args.repeats}\n"
    )
    print(f"{'what':<34}{'median s':>10}{'runs (s)':>30}")
    print("-" * 74)
    print(f"{'empty Prefect flow':<34}{e:>10.1f}{', '.join(f'{x:.1f}' for x in empty):>30}")
    print(f"{'hopflow demo (3 hops, 6 steps)':<34}{d:>10.1f}{', '.join(f'{x:.1f}' for x in demo):>30}")
    print(f"\nratio demo / empty flow: {d / e:.2f}x (target <= 1.3x)\n")


if __name__ == "__main__":
    main()
