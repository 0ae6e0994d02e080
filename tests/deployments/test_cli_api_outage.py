"""`hopflow run` when Prefect's API dies mid-run (its server SIGKILLed during a step): the CLI
reports what hopflow's database says, not the connection error alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import Mission

from tests.crashes import wait_for_sleeping_step
from tests.deployments.servers import free_port, start, wait_http

pytestmark = [pytest.mark.flows, pytest.mark.slow]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_reports_the_database_when_prefect_dies_mid_run(hopflow_env: str, tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    server_env.update(
        PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false"
    )
    log = home / "server.log"
    server = start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        server_env,
        log,
        home,
    )
    api = f"http://127.0.0.1:{port}/api"
    spec = {
        "name": "outage",
        "inputs": [{"name": "seed", "type": "text", "content": "x"}],
        "hops": [
            {
                "name": "h",
                "steps": [
                    {"tool": "noop.echo", "parameter_mapping": {"value": {"asset": "seed"}},
                     "result_mapping": {"value": {"asset": "a"}}},
                    {"tool": "noop.sleep", "parameter_mapping": {"seconds": {"literal": 6}},
                     "result_mapping": {"slept_seconds": {"asset": "slept"}}},
                    {"tool": "noop.echo", "parameter_mapping": {"value": {"asset": "a"}},
                     "result_mapping": {"value": {"asset": "b", "role": "output"}}},
                ],
            }
        ],
    }  # fmt: skip
    spec_path = tmp_path / "outage.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    try:
        wait_http(f"{api}/health", "prefect server", server, log)
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        cli_env.update(
            PREFECT_API_URL=api,
            PREFECT_HOME=str(tmp_path / "cli-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # Prefect's client retries a refused connection 5 times with backoff, for each call the
            # flow makes after the kill: minutes before the verdict, which comes from the database
            # either way. One retry keeps the path and this test's time.
            PREFECT_CLIENT_MAX_RETRIES="1",
        )
        cli = subprocess.Popen(
            [sys.executable, "-m", "hopflow.deployments.cli", "run", str(spec_path)],
            cwd=tmp_path,
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_for_sleeping_step(cli, 180)
        os.killpg(server.pid, signal.SIGKILL)  # Prefect's API dies during step 2
        server.wait(30)
        out, err = cli.communicate(timeout=300)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)
    stdout, stderr = out.decode(), err.decode()
    with session_scope() as session:
        status = session.scalars(sa.select(Mission.status)).one()
    # whatever Prefect's client said, the CLI's verdict is the database's
    if status == MissionStatus.COMPLETED:
        assert cli.returncode == 0, (stdout, stderr)
        assert "completed" in stdout
    else:
        assert cli.returncode == 1, (stdout, stderr)
        assert f"hopflow's database says it is {status.value}" in stderr, stderr
