"""Consciousness save + load against LangGraph's checkpointers; one think cycle against a bare Prefect flow.

    python bench/consciousness.py [--sizes 100,10000] [--repeats 5] [--backends sqlite,postgresql]
                                  [--langgraph-python .venv-bench/bin/python] [--cycles 5]

1. Save + load of a consciousness of N messages: hopflow's save_cycle (the consciousness row, in its own
   transaction) and a fresh-session read, against LangGraph's SqliteSaver / PostgresSaver putting the same
   messages as a checkpoint's channel value and reading it back with get_tuple. LangGraph runs in its own
   environment (`pip install langgraph-checkpoint-sqlite langgraph-checkpoint-postgres` into a separate
   venv, never a hopflow dependency): this script runs itself there with --worker, in the same run.
2. One whole think cycle (idle, and one event answered without tools by the offline provider) against a
   bare Prefect flow run, on one Prefect API (PREFECT_API_URL if set, else the ephemeral one).

Prints a Markdown table: medians in milliseconds and the ratio hopflow / LangGraph (below 1: hopflow faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("HOPFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def messages_of(n: int) -> list[dict[str, Any]]:
    """N chat messages shaped like a consciousness: user events, assistant answers, tool calls and results."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        cycle = i // 10 + 1
        kind = i % 4
        if kind == 0:
            out.append(
                {
                    "role": "user",
                    "content": f"[space_message ev-{i}] " + json.dumps({"text": f"status of ticket {i}?"}),
                    "cycle": cycle,
                }
            )
        elif kind == 1:
            call = {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": "fetchJiraTickets", "arguments": '{"project": "HOP"}'},
            }
            out.append({"role": "assistant", "content": "", "tool_calls": [call], "cycle": cycle})
        elif kind == 2:
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": f"call_{i - 1}",
                    "content": '{"tickets": [1, 2, 3], "status": 200}',
                    "cycle": cycle,
                }
            )
        else:
            out.append(
                {
                    "role": "assistant",
                    "content": f"Ticket {i} is in review; I will follow up tomorrow.",
                    "cycle": cycle,
                }
            )
    return out


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


# --- LangGraph, in its own environment ----------------------------------------------------------------------
def langgraph_worker(backend: str, url: str, sizes: list[int], repeats: int) -> dict[str, Any]:
    from langgraph.checkpoint.base import empty_checkpoint

    def run(saver: Any) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for n in sizes:
            msgs = messages_of(n)
            config = {"configurable": {"thread_id": f"t-{n}-{uuid.uuid4().hex[:6]}", "checkpoint_ns": ""}}
            saves, loads = [], []
            for r in range(repeats + 1):
                checkpoint = empty_checkpoint()
                checkpoint["channel_values"] = {"messages": msgs}
                checkpoint["channel_versions"] = {"messages": r + 1}
                started = time.perf_counter()
                config = saver.put(config, checkpoint, {"source": "loop", "step": r}, {"messages": r + 1})
                saved = time.perf_counter()
                got = saver.get_tuple(
                    {"configurable": {"thread_id": config["configurable"]["thread_id"], "checkpoint_ns": ""}}
                )
                loaded = time.perf_counter()
                assert len(got.checkpoint["channel_values"]["messages"]) == n
                if r:  # the first round warms up
                    saves.append(saved - started)
                    loads.append(loaded - saved)
            results[str(n)] = {"save": median_ms(saves), "load": median_ms(loads)}
        return results

    if backend == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(url, check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        return run(saver)
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        return run(saver)


def run_langgraph(
    python: str, backend: str, url: str, sizes: list[int], repeats: int
) -> dict[str, Any] | str:
    command = [python, __file__, "--worker", backend, "--worker-url", url,
               "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else str(done.returncode)
        return f"LangGraph worker failed: {last}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- hopflow ----------------------------------------------------------------------------------------------
def hopflow_store(url: str, sizes: list[int], repeats: int) -> dict[str, Any]:
    from hopflow.models.access import living as access
    from hopflow.models.db import session_scope

    results: dict[str, Any] = {}
    for n in sizes:
        msgs = messages_of(n)
        with session_scope(url) as s:
            agent = access.create_living_agent(s, name=f"bench-{n}-{uuid.uuid4().hex[:6]}", config={})
            entity_id = agent.entity_id
        saves, loads = [], []
        for r in range(repeats + 1):
            started = time.perf_counter()
            with session_scope(url) as s:
                access.save_cycle(s, entity_id=entity_id, expected_cycle_count=r, messages=msgs,
                                  token_estimate=n * 10, event_row_ids=[])  # fmt: skip
            saved = time.perf_counter()
            with session_scope(url) as s:
                got = access.read_consciousness(s, entity_id).messages
            loaded = time.perf_counter()
            assert len(got) == n
            if r:
                saves.append(saved - started)
                loads.append(loaded - saved)
        results[str(n)] = {"save": median_ms(saves), "load": median_ms(loads)}
    return results


def postgres_schema() -> tuple[str, str, Any]:
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    # LangGraph's saver takes a libpq URL (no SQLAlchemy driver suffix), in its own schema.
    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    lg_schema = schema + "_lg"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{lg_schema}"'))
    lg_url = f"{plain}{'&' if '?' in plain else '?'}options=-csearch_path%3D{lg_schema}"
    return url, lg_url, (admin, schema, lg_schema)


def drop_schemas(handle: Any) -> None:
    import sqlalchemy as sa

    admin, *schemas = handle
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    admin.dispose()


def cycle_costs(cycles: int) -> dict[str, float]:
    """Median wall time of: a bare flow run, an idle think cycle, a one-event cycle (offline, no tools)."""
    os.environ.setdefault("HOPFLOW_LLM_PROVIDER", "offline")
    from hopflow.flows.think_cycle import think_cycle_flow
    from hopflow.models import migrations
    from hopflow.models.settings import reset_settings
    from hopflow.tasks import living
    from prefect import flow

    workdir = Path(tempfile.mkdtemp(prefix="hopflow-bench-"))
    os.environ["HOPFLOW_DATABASE_URL"] = f"sqlite:///{workdir / 'hopflow.db'}"
    reset_settings()
    migrations.upgrade()
    config = {"version": "3.0", "agent": {"name": "bench"}, "model": {"provider": "offline", "name": "m"},
              "loop": {"toolChoice": "none"}}  # fmt: skip
    living.create_living_agent("bench", living.parse_living_config(config))

    @flow(name="bare")
    def bare() -> int:
        return 1

    bare()
    think_cycle_flow("bench")  # warm-ups
    times: dict[str, list[float]] = {"bare flow": [], "idle cycle": [], "one-event cycle": []}
    for i in range(cycles):
        started = time.perf_counter()
        bare()
        times["bare flow"].append(time.perf_counter() - started)
        started = time.perf_counter()
        think_cycle_flow("bench")
        times["idle cycle"].append(time.perf_counter() - started)
        living.push_event("bench", f"e{i}", "space_message", {"text": "hello"}, wake=False)
        started = time.perf_counter()
        think_cycle_flow("bench")
        times["one-event cycle"].append(time.perf_counter() - started)
    return {k: median_ms(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--langgraph-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bench/bin/python")
    )
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.worker:
        print(json.dumps(langgraph_worker(args.worker, args.worker_url, sizes, args.repeats)))
        return

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from hopflow.models import migrations

    rows = []
    for backend in args.backends.split(","):
        handle = None
        if backend == "sqlite":
            tmp = Path(tempfile.mkdtemp(prefix="hopflow-bench-"))
            url, lg_url = f"sqlite:///{tmp / 'hopflow.db'}", str(tmp / "langgraph.db")
        else:
            url, lg_url, handle = postgres_schema()
        try:
            migrations.upgrade(url)
            ours = hopflow_store(url, sizes, args.repeats)
            theirs = run_langgraph(args.langgraph_python, backend, lg_url, sizes, args.repeats)
        finally:
            if handle is not None:
                from hopflow.models.db import dispose_engines

                dispose_engines()
                drop_schemas(handle)
        for n in sizes:
            h = ours[str(n)]
            if isinstance(theirs, str):
                rows.append((backend, n, h["save"], h["load"], "-", "-", theirs))
                continue
            lg = theirs[str(n)]
            ratio = (h["save"] + h["load"]) / max(lg["save"] + lg["load"], 1e-9)
            rows.append((backend, n, h["save"], h["load"], lg["save"], lg["load"], f"{ratio:.2f}x"))

    head = ["backend", "messages", "hopflow save ms", "hopflow load ms", "LangGraph save ms"]
    head.append("LangGraph load ms")
    print("| " + " | ".join([*head, "hopflow / LangGraph"]) + " |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    if args.cycles:
        costs = cycle_costs(args.cycles)
        bare = costs["bare flow"]
        print()
        print("| run (SQLite, one Prefect API) | median ms | / bare flow |")
        print("|---|---|---|")
        for name, value in costs.items():
            print(f"| {name} | {value} | {value / bare:.2f}x |")


if __name__ == "__main__":
    main()
