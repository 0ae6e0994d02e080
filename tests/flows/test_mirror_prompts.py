"""No prompt and no secret at rest: after a mission whose LLM prompt carries a unique marker and whose
HTTP step sends a secret, every table, Prefect artifact, Prefect log line and exported log file is
scanned for both. Prompt storage `redacted` keeps lengths and hashes, `full` keeps the text."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.flows.mission import run_mission
from hopflow.flows.reconciler import sync_run_logs
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import get_engine, session_scope
from hopflow.models.orm import LLMCall, Mission
from hopflow.models.secrets import representations
from hopflow.models.settings import get_settings, reset_settings
from hopflow.tasks.llm import offline_answer, render_prompt_text
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogWorker

from tests.httpd import recording_server

pytestmark = pytest.mark.flows

PROMPT = "Summarise the order book. The codeword is ${env.HOPFLOW_TEST_MARKER} and it stays private."


@pytest.fixture
def secret_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local HTTP endpoint that records the headers it was sent."""
    with recording_server() as (url, seen):
        yield f"{url}/status", seen


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    marker, secret = f"zebra-{uuid.uuid4().hex}", f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("HOPFLOW_TEST_MARKER", marker)
    monkeypatch.setenv("HOPFLOW_TEST_SECRET", secret)
    return marker, secret


def spec(url: str) -> dict[str, Any]:
    return {
        "name": "private",
        "hops": [
            {
                "name": "work",
                "steps": [
                    {
                        "tool": "http.get",
                        "parameter_mapping": {
                            "url": {"literal": url},
                            "headers": {"literal": {"Authorization": "Bearer ${env.HOPFLOW_TEST_SECRET}"}},
                        },
                        "result_mapping": {"status_code": {"asset": "status", "role": "output"}},
                    },
                    {
                        "tool": "llm.complete",
                        "parameter_mapping": {
                            "prompt": {"literal": PROMPT},
                            "prompt_slug": {"literal": "orders"},
                        },
                        "result_mapping": {"text": {"asset": "brief", "role": "output"}},
                    },
                ],
            }
        ],
    }


def run(url: str) -> tuple[str, str]:
    with session_scope() as session:
        user = ensure_user(session)
        mission_id = create_mission_from_spec(session, parse_mission_spec(spec(url)), user_id=user.id).id
    run_mission(mission_id)
    # Prefect ships this process's log lines in the background: every line of the run is on its server
    # before a test reads them (one CI run read them with the last steps' lines still queued).
    APILogWorker.drain_all(timeout=30)
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.flow_run_id is not None
        return mission_id, mission.flow_run_id


def database_text() -> Iterator[tuple[str, str]]:
    """(table.column, value as text) for every non-null value of every table."""
    engine = get_engine()
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    assert "llm_calls" in metadata.tables and "agent_run_logs" in metadata.tables
    with engine.connect() as conn:
        for _, table in sorted(metadata.tables.items()):
            for row in conn.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, default=str)
                        yield f"{table.name}.{column}", text


def prefect_text(flow_run_id: str) -> Iterator[tuple[str, str]]:
    """Everything Prefect holds about the run: artifacts, log lines, the flow and task runs."""
    run_uuid = uuid.UUID(flow_run_id)
    with get_client(sync_client=True) as client:
        for artifact in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_uuid]))
        ):
            yield f"artifact {artifact.key}", json.dumps(artifact.model_dump(mode="json"))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_uuid])))
        assert logs, "the run has log lines in Prefect"
        for log in logs:
            yield f"log {log.name}", log.message
        yield "flow run", client.read_flow_run(run_uuid).model_dump_json()
        for task_run in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_uuid]))
        ):
            yield f"task run {task_run.name}", task_run.model_dump_json()


def sync_until_exported(since: datetime, flow_names: list[str], timeout: float = 120.0) -> None:
    """Reconcile until the runs' log files are written: Prefect ships log lines a moment after a run
    ends, and the export waits for them (no empty file is ever written)."""
    deadline = time.monotonic() + timeout
    while True:
        sync_run_logs(since=since, flow_names=flow_names)
        if any(Path(get_settings().logs).glob("*.log")) or time.monotonic() > deadline:
            return
        time.sleep(1)


def log_files() -> Iterator[tuple[str, str]]:
    files = sorted(Path(get_settings().logs).glob("*.log"))
    assert files, "the run's logs were exported"
    for path in files:
        yield str(path), path.read_text(encoding="utf-8")


def find(needles: dict[str, str], places: Iterator[tuple[str, str]]) -> list[str]:
    return [
        f"{what} in {where}" for where, text in places for what, needle in needles.items() if needle in text
    ]


def test_no_prompt_and_no_secret_anywhere_with_default_storage(
    hopflow_env: str,
    marked: tuple[str, str],
    secret_server: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker, secret = marked
    url, seen = secret_server
    monkeypatch.setenv("DEBUG_REDACTED_MODE", "true")
    reset_settings()
    assert get_settings().prompt_storage.value == "none"
    started = datetime.now(UTC) - timedelta(seconds=5)
    with caplog.at_level(logging.INFO, logger="hopflow"):
        _, flow_run_id = run(url)
        sync_until_exported(started, ["mission"])
    assert [h.get("Authorization") for h in seen] == [
        f"Bearer {secret}"
    ]  # the secret was really used, and the marker really sent:
    with session_scope() as session:
        call = session.scalars(sa.select(LLMCall)).one()
        assert (call.storage_mode, call.prompt_slug, call.flow_run_id) == ("none", "orders", flow_run_id)
        assert call.prompt_tokens > 0 and call.completion_tokens > 0 and call.tool_step_id is not None
        assert (call.prompt_text, call.output_text, call.prompt_sha256, call.prompt_chars) == (None,) * 4
    # DEBUG_REDACTED_MODE logged the prompt, redacted: its length and a hash prefix, never the text.
    prompt = PROMPT.replace("${env.HOPFLOW_TEST_MARKER}", marker)
    redacted = f"<prompt {len(prompt)} chars sha256:{hashlib.sha256(prompt.encode()).hexdigest()[:8]}>"
    assert redacted in caplog.text

    needles = {"prompt marker": marker, "secret": secret}
    assert find(needles, database_text()) == []
    assert find(needles, prefect_text(flow_run_id)) == []
    assert find(needles, log_files()) == []
    assert find(needles, iter([("process log", caplog.text)])) == []

    # The step logs are among the lines scanned (so the scans mean something): they say which tool ran
    # with what, masking the secret header, and the model's tokens, but no word of the prompt's text.
    lines = [text for where, text in prefect_text(flow_run_id) if where.startswith("log ")]
    steps = [line for line in lines if line.startswith("tool ")]
    assert any("tool http.get" in line and "Authorization" in line and "***" in line for line in steps), steps
    assert any("tool llm.complete done" in line and "completion tokens" in line for line in steps), steps
    assert any("prompt = text of" in line and "never logged" in line for line in steps), steps
    # (the offline model echoes the prompt's first sentence in its answer: only parameter lines are checked)
    started_lines = [line for line in steps if " done in " not in line]
    prompt_words = {"prompt text": "Summarise the order book"}
    assert find(prompt_words, iter([(f"log line {i}", line) for i, line in enumerate(started_lines)])) == []


def test_redacted_storage_keeps_lengths_and_hashes_only(
    hopflow_env: str,
    marked: tuple[str, str],
    secret_server: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker, secret = marked
    monkeypatch.setenv("HOPFLOW_PROMPT_STORAGE", "redacted")
    reset_settings()
    run(secret_server[0])
    prompt = render_prompt_text(PROMPT.replace("${env.HOPFLOW_TEST_MARKER}", marker))
    answer = offline_answer(prompt)
    with session_scope() as session:
        call = session.scalars(sa.select(LLMCall)).one()
    assert call.storage_mode == "redacted"
    assert (call.prompt_chars, call.output_chars) == (len(prompt), len(answer))
    assert call.prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest()
    assert call.output_sha256 == hashlib.sha256(answer.encode()).hexdigest()
    assert (call.prompt_text, call.output_text) == (None, None)
    assert find({"prompt marker": marker, "secret": secret}, database_text()) == []


def test_full_storage_keeps_the_prompt_and_output_text(
    hopflow_env: str,
    marked: tuple[str, str],
    secret_server: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker, secret = marked
    monkeypatch.setenv("HOPFLOW_PROMPT_STORAGE", "full")
    reset_settings()
    run(secret_server[0])
    with session_scope() as session:
        call = session.scalars(sa.select(LLMCall)).one()
    assert call.storage_mode == "full" and call.prompt_text is not None and marker in call.prompt_text
    assert call.output_text == offline_answer(call.prompt_text)
    assert call.prompt_chars == len(call.prompt_text)
    # the scan sees the marker where full storage put it (so the empty scans above mean something),
    # and full storage keeps prompts, not the secrets other steps used
    assert find({"prompt marker": marker}, database_text()) == ["prompt marker in llm_calls.prompt_text"]
    assert find({"secret": secret}, database_text()) == []


def secret_shapes(label: str, secret: str) -> dict[str, str]:
    """Every shape a secret takes in text, and head and tail pieces of each (what a shortened echo keeps)."""
    needles = {}
    for n, shape in enumerate(sorted(representations(secret))):
        needles[f"{label} shape {n}"] = shape
        needles |= {f"{label} head {n}": shape[:12], f"{label} tail {n}": shape[-12:]}
    return needles


def failing_spec(variable: str) -> dict[str, Any]:
    # noop.sleep's own validation echoes the value back: pydantic shortens a long one, repr doubles "\"
    step = {"tool": "noop.sleep", "parameter_mapping": {"seconds": {"literal": f"${{env.{variable}}}"}}}
    return {"name": f"leaky-{variable.lower()}", "hops": [{"name": "work", "steps": [step]}]}


def test_secrets_echoed_in_errors_are_scrubbed_in_every_shape_everywhere(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {
        "HOPFLOW_TEST_LONG": "tok_" + uuid.uuid4().hex + "0123456789abcdefghijklmnopqrstuv",  # 68 chars
        "HOPFLOW_TEST_SLASHES": "C:\\keys\\prod\\" + uuid.uuid4().hex[:16],
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    started = datetime.now(UTC) - timedelta(seconds=5)
    flow_runs = []
    with caplog.at_level(logging.INFO, logger="hopflow"):
        for name in secrets:
            with session_scope() as session:
                user = ensure_user(session)
                spec = parse_mission_spec(failing_spec(name))
                mission_id = create_mission_from_spec(session, spec, user_id=user.id).id
            with pytest.raises(Exception, match="float_parsing"):
                run_mission(mission_id)
            with session_scope() as session:
                row = session.get(Mission, mission_id)
                assert row is not None and row.status.value == "failed" and row.flow_run_id is not None
                flow_runs.append(row.flow_run_id)
        sync_until_exported(started, ["mission"])
    needles: dict[str, str] = {}
    for name, value in secrets.items():
        needles |= secret_shapes(name, value)
    stored = list(database_text())
    assert any("float_parsing" in text for _, text in stored)  # the errors were stored, scrubbed
    assert find(needles, iter(stored)) == []
    for flow_run_id in flow_runs:
        assert find(needles, prefect_text(flow_run_id)) == []
    assert find(needles, log_files()) == []
    assert find(needles, iter([("process log", caplog.text)])) == []
