"""Crash recovery on SQLite and PostgreSQL: 1,000 pushes with 10% duplicate ids while cycles run, the process
running them SIGKILLed mid-cycle (waiting on a tool), started again, drained. Every unique event is processed
exactly once, the consciousness is what completed cycles saved, the killed cycle ends failed / CRASHED on the
sync that follows the kill (before any other cycle could find it) and stays so."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from hopflow.flows.reconciler import sync_run_logs
from hopflow.models.db import session_scope
from hopflow.models.enums import CycleStatus
from hopflow.models.orm import AgentConsciousness, AgentRunLog, InboxEvent, ThoughtLog
from hopflow.tasks import living
from prefect import get_client

pytestmark = [pytest.mark.flows, pytest.mark.slow]

TOTAL_PUSHES = 1000
DUPLICATES = 100
DEADLINE = 420.0


def _wait(what: str, condition: Callable[[], bool], proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"cycle process exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def _config() -> dict:
    return {
        "version": "3.0",
        "agent": {"name": "crashy", "system": "Note every event."},
        "model": {"provider": "offline", "name": "offline-standard"},
        "consciousness": {"maxTokens": 10_000_000, "minRecentCycles": 3},
        "loop": {"maxSteps": 3, "maxTokensPerCycle": 10_000_000},
        "tools": [],
    }


def _pushes() -> list[tuple[str, dict]]:
    """1,000 pushes: 900 unique ids, every tenth push repeats an earlier id with different data."""
    pushes: list[tuple[str, dict]] = []
    unique = 0
    for i in range(TOTAL_PUSHES):
        if i % 10 == 9:
            pushes.append((f"ev-{(i * 7) % unique:04d}", {"n": i, "duplicate": True}))
        else:
            pushes.append((f"ev-{unique:04d}", {"n": i}))
            unique += 1
    return pushes


def _processed() -> int:
    with session_scope() as s:
        return int(
            s.scalar(sa.select(sa.func.count(InboxEvent.id)).where(InboxEvent.processed_at.is_not(None))) or 0
        )


def _cycle_count() -> int:
    with session_scope() as s:
        return s.scalars(sa.select(AgentConsciousness.cycle_count)).one()


def _waiting_run() -> str | None:
    with session_scope() as s:
        return s.scalars(
            sa.select(AgentRunLog.run_id).where(AgentRunLog.cycle_status == CycleStatus.WAITING_TOOL)
        ).first()


def _run_row(run_id: str) -> AgentRunLog:
    with session_scope() as s:
        return s.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == run_id)).one()


def test_sigkill_mid_cycle_then_restart_processes_every_unique_event_exactly_once(
    hopflow_env: str, prefect_api: str, tmp_path: Path
) -> None:
    test_started = datetime.now(UTC) - timedelta(minutes=1)
    script = tmp_path / "script.json"
    # Each cycle calls noop.sleep: a window in which the cycle is surely mid-way (waiting_tool).
    script.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "when": "[service",
                        "toolCalls": [{"name": "noop__sleep", "arguments": {"seconds": 0.5}}],
                    }
                ]
            }
        )
    )
    living.create_living_agent("crashy", living.parse_living_config(_config()))
    env = {
        **os.environ,
        "HOPFLOW_DATABASE_URL": hopflow_env,
        "HOPFLOW_LLM_PROVIDER": "offline",
        "HOPFLOW_LLM_SCRIPT": str(script),
        "PREFECT_API_URL": prefect_api,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "cycles.log"

    def start(*extra: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "hopflow.deployments.cli",
            "living",
            "drain",
            "crashy",
            "--batch-size",
            "40",
        ]
        with log.open("ab") as out:
            return subprocess.Popen(
                [*command, *extra], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
            )

    pushes = _pushes()
    unique_ids = {event_id for event_id, _ in pushes}
    assert len(unique_ids) == TOTAL_PUSHES - DUPLICATES

    def push(batch: list[tuple[str, dict]]) -> list[bool]:
        return [living.push_event("crashy", eid, "service", data, wake=False).new for eid, data in batch]

    new = push(pushes[:300])
    proc = start("--watch")
    try:
        _wait("two completed cycles", lambda: _cycle_count() >= 2, proc, log)
        new += push(pushes[300:650])  # while cycles run
        killed_at_cycles = _cycle_count()
        _wait("a cycle waiting on its tool", lambda: _waiting_run() is not None, proc, log)
        killed = _waiting_run()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert killed is not None
    # The reconciler's sync (as `hopflow runs sync --stale-after` or the heartbeat automation would) ends the
    # killed cycle before any other cycle runs: Prefect CRASHED, the run row error, the cycle failed.
    report = sync_run_logs(since=test_started, stale_after=0, flow_names=["think"], export_logs=False)
    assert killed in report.crashed
    synced = _run_row(killed)
    assert (synced.cycle_status, synced.status.value, synced.prefect_state) == (
        CycleStatus.FAILED,
        "error",
        "CRASHED",
    )
    new += push(pushes[650:])
    assert new.count(True) == len(unique_ids)  # a duplicate is acknowledged and changes nothing

    restarted = start()  # drains, then exits
    try:
        assert restarted.wait(timeout=DEADLINE) == 0, log.read_text()[-4000:]
    finally:
        if restarted.poll() is None:
            restarted.kill()
            restarted.wait(timeout=60)

    with session_scope() as s:
        rows = s.scalars(sa.select(InboxEvent)).all()
        consciousness = s.scalars(sa.select(AgentConsciousness)).one()
        runs = s.scalars(sa.select(AgentRunLog).where(AgentRunLog.flow_name == "think")).all()
    # Every unique event stored once, with its first data, and processed.
    assert len(rows) == len(unique_ids) and {r.event_id for r in rows} == unique_ids
    assert all(not r.data.get("duplicate") for r in rows)
    assert all(r.processed_at is not None for r in rows)
    # ... and in the consciousness exactly once: none lost, none twice.
    seen = Counter(
        m.group(1)
        for msg in consciousness.messages
        if msg["role"] == "user"
        for m in [re.match(r"\[service (ev-\d{4})\]", msg["content"])]
        if m
    )
    assert set(seen) == unique_ids and set(seen.values()) == {1}
    # The consciousness is what the completed cycles saved: one block per completed cycle, numbered 1..n.
    completed = [r for r in runs if r.cycle_status == CycleStatus.COMPLETED and r.stop_reason.value != "idle"]
    assert consciousness.cycle_count == len(completed) > killed_at_cycles
    assert {m["cycle"] for m in consciousness.messages} == set(range(1, consciousness.cycle_count + 1))
    # The killed cycle: failed, its flow run CRASHED in Prefect and in the run log.
    dead = next(r for r in runs if r.run_id == killed)
    assert (dead.cycle_status, dead.status.value, dead.prefect_state) == (
        CycleStatus.FAILED,
        "error",
        "CRASHED",
    )
    assert not [r for r in runs if r.cycle_status in (CycleStatus.RUNNING, CycleStatus.WAITING_TOOL)]
    # Another sync changes nothing of it; Prefect itself holds CRASHED.
    sync_run_logs(since=test_started, flow_names=["think"], export_logs=False)
    again = _run_row(killed)
    assert (again.cycle_status, again.prefect_state) == (CycleStatus.FAILED, "CRASHED")
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(killed)).state
    assert state is not None and state.type.value == "CRASHED"
    # The agent was told, once: the dead cycle's thought.
    with session_scope() as s:
        died = [t.thought for t in s.scalars(sa.select(ThoughtLog)) if "died mid-cycle" in t.thought]
    assert len(died) == 1 and killed in died[0] and "(CRASHED)" in died[0]
