"""Trigger latency under `hopflow serve`: from a trigger (API, webhook, event) to the flow run RUNNING.

    python bench/trigger_latency.py [--count 5] [--poll 0.5] [--hopflow-db sqlite|postgresql]

Starts a Prefect server on PostgreSQL (a fresh database), `hopflow serve` and `hopflow webhooks` as
subprocesses, configures the example agent (examples/agents/sales_sentinel.yaml), then fires
`--count` triggers of each kind one after the other, each once the previous run has finished (the
agent's concurrency limit is 1). Prints, per kind, the median and p95 of:

- trigger -> flow run created (Prefect has the run; for an event, the automation has acted),
- created -> RUNNING (the runner's poll, its process start and the flow's imports up to the engine
  proposing RUNNING), split at the runner's PENDING: created -> PENDING is the wait for the runner's
  next poll, PENDING -> RUNNING the submission, the new interpreter's start and imports, and the
  engine's set-up (for hopflow, also the run name read from hopflow's database),
- trigger -> RUNNING (what a user waits for), and trigger -> body (the flow's first task starts).

A warm-up trigger of each kind runs first and is not counted (Prefect's trigger service loads a new
automation asynchronously). Times are this machine's clock on both sides.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import statistics
import subprocess
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.servers

import httpx
import sqlalchemy as sa

from bench.servers import PG_URL, free_port, start_prefect_server

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench-shop"
EVENT = "shop.order.created"


def wait_until(what: str, check: Callable[[], Any], timeout: float = 180.0, pause: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def hopflow_database(kind: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'hopflow.db'}", lambda: None
    schema = f"lat_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        admin.dispose()

    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}", drop


def hopflow(args: list[str], env: dict[str, str]) -> None:
    cli = [sys.executable, "-m", "hopflow.deployments"]
    done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"hopflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, api: str, webhook_url: str, secret: str, logs: list[Path]) -> None:
        from prefect import get_client

        self.api, self.webhook_url, self.secret, self.logs = api, webhook_url, secret, logs
        self.client = get_client(sync_client=True)
        self.client.__enter__()
        self.deployment = wait_until(
            "the served deployment", lambda: self._deployment(f"agent-run/{NAME}"), timeout=300, pause=0.5
        )
        self.seen: set[str] = set()

    def _deployment(self, name: str) -> Any:
        try:
            return self.client.read_deployment_by_name(name)
        except Exception:
            return None

    def runs(self) -> list[Any]:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        return self.client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.deployment.id])), limit=200
        )

    def new_run(self, kind: str) -> Any:
        fresh = [
            r for r in self.runs() if str(r.id) not in self.seen and r.parameters.get("trigger_type") == kind
        ]
        return fresh[0] if fresh else None

    def fire(self, kind: str, n: int) -> tuple[float, str | None]:
        """Fire one trigger; returns the wall time just before it and the flow run id, when the trigger
        returns one (an event does not)."""
        order = {"id": n, "total": 40}
        t0 = time.time()
        if kind == "bare":  # bare Prefect: a one-task flow served the same way (bench/bare_flow.py)
            from prefect.deployments import run_deployment

            run = run_deployment("bare-latency/bare", timeout=0, as_subflow=False)
            return t0, str(run.id)  # type: ignore[union-attr]
        if kind == "api":
            from prefect.deployments import run_deployment

            run = run_deployment(
                f"agent-run/{NAME}",
                parameters={"trigger_type": "api", "payload": {"order": order}},
                timeout=0,
                as_subflow=False,
            )
            return t0, str(run.id)  # type: ignore[union-attr]
        if kind == "webhook":
            from standardwebhooks.webhooks import Webhook

            body = json.dumps({"order": order})
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(self.secret).sign(msg_id, now, body),
            }
            response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=60)
            response.raise_for_status()
            return t0, response.json()["flow_run_id"]
        from prefect.events import emit_event
        from prefect.events.worker import EventsWorker

        emit_event(event=EVENT, resource={"prefect.resource.id": f"shop.{NAME}"}, payload={"order": order})
        EventsWorker.drain_all(timeout=30)
        return t0, None

    def finished(self, run_id: str) -> Any:
        run = self.client.read_flow_run(uuid.UUID(run_id))
        if run.state is not None and run.state.is_final():
            if run.state.type.value != "COMPLETED":
                raise RuntimeError(f"run {run_id} ended {run.state.type.value}: {run.state.message}")
            return run
        return None

    def pending_at(self, run_id: str) -> float:
        """When the runner picked the run up: the first PENDING state it proposed."""
        states = self.client.read_flow_run_states(uuid.UUID(run_id))
        return min(s.timestamp.timestamp() for s in states if s.type.value == "PENDING")

    def body_start(self, run_id: str) -> float | None:
        """When the flow's body started its first task, as Prefect recorded it."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.client.schemas.sorting import TaskRunSort

        tasks = self.client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        return tasks[0].start_time.timestamp() if tasks and tasks[0].start_time else None

    def measure(self, kind: str, n: int) -> dict[str, float]:
        t0, run_id = self.fire(kind, n)
        if run_id is None:  # an event: find the run its automation created (re-emit if it was lost)
            emitted = [t0]

            def created() -> Any:
                run = self.new_run(kind)
                if run is None and time.time() - emitted[-1] > 15 and len(emitted) < 5:
                    emitted.append(self.fire(kind, n)[0])
                return run

            run_id = str(wait_until("the event's flow run", created, timeout=120, pause=0.05).id)
            if len(emitted) > 1:
                t0 = emitted[-1]  # the emit that was acted upon (the earlier ones were dropped)
        self.seen.add(run_id)
        run = wait_until(
            f"{kind} run {run_id} to finish", lambda: self.finished(run_id), timeout=300, pause=0.2
        )
        body = wait_until("the run's first task", lambda: self.body_start(run_id), timeout=30, pause=0.5)
        pending = self.pending_at(run_id)
        return {
            "created": run.created.timestamp() - t0,
            "to_pending": pending - run.created.timestamp(),
            "pending_to_running": run.start_time.timestamp() - pending,
            "to_running": run.start_time.timestamp() - run.created.timestamp(),
            "running": run.start_time.timestamp() - t0,
            "body": body - t0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5, help="triggers of each kind (after one warm-up)")
    parser.add_argument(
        "--poll", type=float, help="the runner's poll in seconds, both servers (default: hopflow serve's)"
    )
    parser.add_argument("--hopflow-db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--kinds", default="bare,api,webhook,event", help="bare: Prefect alone, the floor")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    kinds = args.kinds.split(",")

    workdir = Path(tempfile.mkdtemp(prefix="hopflow-latency-"))
    cleanups: list[Callable[[], None]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        api, drop_server = start_prefect_server(
            workdir,
            clean_env=True,
            extra_env={"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "1"},
            log=workdir / "prefect-server.log",
        )
        cleanups.append(drop_server)
        db_url, drop_db = hopflow_database(args.hopflow_db, workdir)
        cleanups.append(drop_db)
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        env = {
            **os.environ,
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(workdir / "prefect-home"),
            "HOPFLOW_DATABASE_URL": db_url,
            "HOPFLOW_LOGS": str(workdir / "logs"),
            "HOPFLOW_DATA": str(workdir / "data"),
            "HOPFLOW_UPLOADS": str(workdir / "uploads"),
            "SHOP_TOKEN": "tok-bench",
            "BENCH_SHOP_WEBHOOK_SECRET": secret,
        }
        os.environ.update({k: env[k] for k in ("PREFECT_API_URL", "HOPFLOW_DATABASE_URL")})
        # Imported only now: Prefect reads its settings (the API URL above) when first imported.
        from hopflow.deployments.build import DEFAULT_POLL_SECONDS

        args.poll = DEFAULT_POLL_SECONDS if args.poll is None else args.poll
        hopflow(["db", "upgrade"], env)
        hopflow(["agents", "register", str(ROOT / "examples/agents/sales_sentinel.yaml")], env)
        values = ROOT / "examples/agents/sales_sentinel.values.yaml"
        hopflow(["agents", "configure", "agent_003", "--name", NAME, "--config", str(values)], env)
        cli = [sys.executable, "-m", "hopflow.deployments"]
        serve_log, hooks_log = workdir / "serve.log", workdir / "webhooks.log"
        procs.append(
            spawn([*cli, "serve", "--no-reconciler", "--poll-seconds", f"{args.poll:g}"], env, serve_log)
        )
        port = free_port()
        procs.append(spawn([*cli, "webhooks", "--port", str(port)], env, hooks_log))
        if "bare" in kinds:
            bare = [sys.executable, str(ROOT / "bench" / "bare_flow.py"), f"{args.poll:g}"]
            procs.append(spawn(bare, env, workdir / "bare.log"))
        wait_until("hopflow webhooks", lambda: healthy(f"http://127.0.0.1:{port}/_hopflow/health"), pause=0.5)
        bench = Bench(api, f"http://127.0.0.1:{port}/hooks/{NAME}/orders", secret, [serve_log, hooks_log])
        if "bare" in kinds:
            wait_until("the bare deployment", lambda: bench._deployment("bare-latency/bare"), timeout=300)
        results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for kind in kinds:
            bench.measure(kind, 0)  # warm-up, not counted
        for i in range(1, args.count + 1):
            for kind in kinds:
                results[kind].append(bench.measure(kind, i))
        print(
            f"\ntrigger latency under `hopflow serve` (poll {args.poll:g} s), Prefect server on "
            f"PostgreSQL, hopflow DB {args.hopflow_db}, {args.count} triggers each, median / p95 in s"
        )
        head = (
            f"{'kind':8} {'->created':>16} {'created->PENDING':>18} {'PENDING->RUNNING':>18} "
            f"{'created->RUNNING':>18} {'->RUNNING':>16} {'->body':>16}"
        )
        print(head + ("  ->RUNNING vs bare" if "bare" in kinds else ""))
        floor = statistics.median(r["running"] for r in results["bare"]) if "bare" in kinds else None
        for kind in kinds:
            cols = []
            for key in ("created", "to_pending", "pending_to_running", "to_running", "running", "body"):
                values_ = [r[key] for r in results[kind]]
                cols.append(f"{statistics.median(values_):6.2f} / {percentile(values_, 0.95):5.2f}")
            ratio = statistics.median(r["running"] for r in results[kind]) / floor if floor else None
            extra = f"  {ratio:.2f}x" if ratio is not None else ""
            widths = (16, 18, 18, 18, 16, 16)
            print(f"{kind:8} " + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True)) + extra)
        print(json.dumps({k: v for k, v in results.items()}, default=lambda x: round(x, 3)), file=sys.stderr)
    finally:
        for proc in reversed(procs):
            kill(proc)
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as exc:
                print(f"cleanup failed: {exc}", file=sys.stderr)
        if args.keep:
            print(f"logs kept in {workdir}")


if __name__ == "__main__":
    main()
