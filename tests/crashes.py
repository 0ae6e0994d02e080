"""Crashing a mission for tests: run `hopflow run SPEC` in another process (its own session), wait
until its `noop.sleep` step is executing, and SIGKILL it there, as a power cut would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from hopflow.models.db import session_scope
from hopflow.models.enums import ToolExecutionStatus
from hopflow.models.orm import ToolStep


def wait_for_sleeping_step(proc: subprocess.Popen[bytes], wait_seconds: float = 120) -> None:
    """Wait until a `noop.sleep` step is executing; fail with the process's output if it exits first."""
    deadline = time.monotonic() + wait_seconds
    sleeping = None
    while time.monotonic() < deadline and sleeping is None:
        assert proc.poll() is None, proc.communicate()
        with session_scope() as session:
            sleeping = session.scalars(
                sa.select(ToolStep).where(
                    ToolStep.tool_id == "noop.sleep", ToolStep.status == ToolExecutionStatus.EXECUTING
                )
            ).first()
        time.sleep(0.2)
    assert sleeping is not None, "the mission never reached its sleeping step"


def run_and_sigkill_mid_step(
    spec: Mapping[str, Any],
    tmp_path: Path,
    env: Mapping[str, str],
    before_kill: Callable[[], None] | None = None,
    wait_seconds: float = 120,
) -> None:
    """Start the mission in a child process with `env` added to this one's, wait until its
    `noop.sleep` step executes, call `before_kill`, then SIGKILL the child's whole process group."""
    spec_path = tmp_path / f"{spec['name']}.yaml"
    spec_path.write_text(yaml.safe_dump(dict(spec)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hopflow.deployments.cli", "run", str(spec_path)],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for_sleeping_step(proc, wait_seconds)
        if before_kill is not None:
            before_kill()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
