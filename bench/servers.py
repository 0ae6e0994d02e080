"""What the benchmarks start: Prefect's own server on a fresh PostgreSQL database (as production runs
it; its SQLite server stalls under load: database locked, 503s, back-offs), and how they wait for
it to finish the work a flow left it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import sqlalchemy as sa

PG_URL = os.environ.get("HOPFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prefect_server(
    workdir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    clean_env: bool = False,
    log: Path | None = None,
    timeout: float = 180,
) -> tuple[str, Callable[[], None]]:
    """A `prefect server start` on a fresh PostgreSQL database: its API URL and a stop function that
    also drops the database. `clean_env` leaves this process's PREFECT_* settings out of the server's."""
    db = f"prefect_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{db}"'))
    port = free_port()
    database_url = sa.engine.make_url(PG_URL).set(drivername="postgresql+asyncpg", database=db, query={})
    env = {k: v for k, v in os.environ.items() if not (clean_env and k.startswith("PREFECT_"))}
    env.update(
        PREFECT_HOME=str(workdir / "prefect-server-home"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url.render_as_string(hide_password=False),
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **(extra_env or {}),
    )
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if log is not None and not isinstance(out, int):
            out.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{db}" with (force)'))
        admin.dispose()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return url, stop
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop()
    raise RuntimeError(f"prefect server did not become healthy in {timeout:.0f} s")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes and cores, from /proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def wait_until_idle(*, cores: float, window: float, limit: float) -> float:
    """Wait until fewer than `cores` CPU cores are busy over `window` seconds, at most `limit` seconds:
    a Prefect server goes on working through a flow's events for seconds after the flow returns (~1.1
    cores for ~14 s after 300 tasks on a 2-core machine). Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = machine_busy()
        time.sleep(window)
        if (machine_busy() - before) / window < cores:
            break
    return time.monotonic() - started
