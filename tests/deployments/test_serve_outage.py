"""`hopflow serve` survives a Prefect API outage: the server is SIGKILLed under a serving process, which
logs the outage and retries with backoff; once the server is back (same database, same port) the same
process registers again and runs what was queued. Also the outage classifier and the backoff, alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hopflow.deployments import serving
from hopflow.tasks.agents import configure_agent, register_blueprints
from sqlalchemy.engine import make_url
from websockets.exceptions import InvalidMessage

from tests.conftest import PG_URL, postgres_problem
from tests.deployments.servers import free_port, start, stop, wait_http
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml


# --- the pieces, without servers ----------------------------------------------------------------------
def test_outages_are_told_from_other_errors() -> None:
    request = httpx.Request("GET", "http://prefect/api/deployments")
    refused = httpx.ConnectError("Connection refused", request=request)
    assert serving.is_api_outage(refused)
    assert serving.is_api_outage(RuntimeError("Service exceeded error threshold."))
    assert serving.is_api_outage(ExceptionGroup("runner", [ValueError("x"), RuntimeError("y")])) is False
    wrapped = ExceptionGroup("runner", [RuntimeError("Service exceeded error threshold.")])
    assert serving.is_api_outage(wrapped)
    try:
        raise ValueError("while registering") from refused
    except ValueError as exc:
        assert serving.is_api_outage(exc)
    busy = httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))
    missing = httpx.HTTPStatusError("404", request=request, response=httpx.Response(404, request=request))
    assert serving.is_api_outage(busy) and not serving.is_api_outage(missing)
    assert not serving.is_api_outage(LookupError("no active agent configuration"))
    # The runner starting while the server dies: its events websocket's handshake is cut short, and
    # Prefect's runner raises this chain (as seen under `hopflow serve` in CI).
    handshake = InvalidMessage("did not receive a valid HTTP response")
    handshake.__cause__ = EOFError("connection closed while reading HTTP status line")
    started = RuntimeError(f"Runner failed to start: event_emitter — {handshake}")
    started.__cause__ = handshake
    assert serving.is_api_outage(started)
    assert serving.is_api_outage(RuntimeError("Runner failed to start: event_emitter")) is False
    assert serving.is_api_outage(TimeoutError("timed out during opening handshake"))


def test_serving_again_after_an_outage_backs_off_and_a_real_error_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[str] = []
    slept: list[float] = []
    request = httpx.Request("GET", "http://127.0.0.1:9/api/health")

    def serve_once() -> None:
        attempts.append("serve")
        if len(attempts) < 3:
            raise httpx.ConnectError("Connection refused", request=request)

    # what /health answers, in turn: down twice, up; down once, up
    healthy = iter([False, False, True, False, True])
    monkeypatch.setattr(serving, "api_healthy", lambda url, timeout=5.0: next(healthy))
    serving.serve_through_outages(
        serve_once, api_url="http://127.0.0.1:9/api", backoff_cap=4, sleep=slept.append
    )
    assert attempts == ["serve", "serve", "serve"]
    # first outage: 1 s, then /health twice down (1 s, 2 s); second outage: 2 s, /health down once (2 s)
    assert slept == [1.0, 1.0, 2.0, 2.0, 2.0]

    def broken() -> None:
        raise LookupError("nothing to serve")

    with pytest.raises(LookupError):
        serving.serve_through_outages(broken, api_url="http://127.0.0.1:9/api", sleep=slept.append)


# --- for real -----------------------------------------------------------------------------------------------
class RestartablePrefect:
    """`prefect server start` on its own database and a fixed port, which can be killed and started again."""

    def __init__(self, home: Path, database_url: str) -> None:
        self.home, self.port = home, free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        self.env.update(
            PREFECT_HOME=str(home),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
        )
        self.log = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.process = start(args, self.env, self.log, self.home)
        wait_http(f"{self.api}/health", "prefect server", self.process, self.log, timeout=180)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, 9)
        self.process.wait(30)


@contextmanager
def restartable_prefect(home: Path) -> Iterator[RestartablePrefect]:
    if postgres_problem() is None:
        database = f"prefect_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{database}"'))
        url = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=database, query={})
        server = RestartablePrefect(home, url.render_as_string(hide_password=False))
    else:
        admin, database = None, ""
        server = RestartablePrefect(home, f"sqlite+aiosqlite:///{home / 'prefect.db'}")
    try:
        server.start()
        yield server
    finally:
        if server.process is not None:
            stop(server.process)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop database if exists "{database}" with (force)'))
            admin.dispose()


def wait_for(what: str, check: Callable[[], Any], logs: list[Path], timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    shown = "\n".join(f"--- {log.name} ---\n{log.read_text()[-6000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{shown}")


@pytest.mark.flows
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the outage is Prefect's, not hopflow's
def test_serve_survives_a_prefect_api_outage_and_runs_what_is_queued_after_it(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "outage", values=VALUES)
    home = tmp_path / "prefect-home"
    home.mkdir()
    serve_log = tmp_path / "serve.log"
    with restartable_prefect(home) as prefect:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect.api,
            "HOPFLOW_DATABASE_URL": hopflow_env,
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "HOPFLOW_SERVE_RETRY_MAX_SECONDS": "4",
            # Prefect's client retries each refused poll 5 times with backoff, and its runner gives
            # up after several failed polls in a row: ~5 min before serve sees the outage. One
            # retry keeps the same path.
            "PREFECT_CLIENT_MAX_RETRIES": "1",
        }
        logs = [serve_log, prefect.log]
        serve = start(
            [sys.executable, "-m", "hopflow.deployments.cli", "serve", "--no-reconciler"],
            env,
            serve_log,
            tmp_path,
        )
        try:

            def deployment_id() -> str | None:
                try:
                    response = httpx.get(f"{prefect.api}/deployments/name/agent-run/outage", timeout=5)
                except httpx.HTTPError:
                    return None
                return response.json()["id"] if response.status_code == 200 else None

            wait_for("the served deployment", deployment_id, logs)
            prefect.kill()
            wait_for(
                "serve to log the outage",
                lambda: "serving again once it answers" in serve_log.read_text(),
                logs,
            )
            wait_for(
                "a retry with backoff", lambda: "still unreachable (attempt 2)" in serve_log.read_text(), logs
            )
            assert serve.poll() is None, serve_log.read_text()[-4000:]

            prefect.start()  # same database, same port
            # queued at once, before serve has necessarily noticed the API is back
            deployment = wait_for("the deployment again", deployment_id, logs)
            created = httpx.post(
                f"{prefect.api}/deployments/{deployment}/create_flow_run",
                json={"parameters": {"trigger_type": "api", "payload": {"order": {"id": 1, "total": 1}}}},
                timeout=30,
            )
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]

            def final_state() -> str | None:
                state = httpx.get(f"{prefect.api}/flow_runs/{run_id}", timeout=10).json()["state"]
                return (
                    state["type"] if state and state["type"] in {"COMPLETED", "FAILED", "CRASHED"} else None
                )

            assert wait_for("the queued run to finish", final_state, logs) == "COMPLETED"
            assert "answers again: registering and serving" in serve_log.read_text()
            assert serve.poll() is None  # the same process all along
        finally:
            stop(serve)
