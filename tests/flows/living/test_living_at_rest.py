"""No secret at rest from a living agent: a gateway tool's `${env.X}` header is resolved per call, and
a server echoing it back changes nothing. Every table, Prefect's records and the exported logs are scanned."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.settings import reset_settings
from hopflow.tasks import living

from tests.flows.test_mirror_prompts import database_text, find, log_files, prefect_text, sync_until_exported
from tests.httpd import recording_server

pytestmark = [pytest.mark.flows]


@pytest.fixture
def echo_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    def reply(headers: dict[str, str]) -> tuple[bytes, str]:  # a server that echoes the header
        return json.dumps(
            {"tickets": [7], "you_sent": headers.get("Authorization", "")}
        ).encode(), "application/json"

    with recording_server(reply) as served:
        yield served


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gateway_secret_is_used_but_never_at_rest(
    hopflow_env: str,
    echo_server: tuple[str, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = echo_server
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("LIVING_TEST_TOKEN", secret)
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "when": "tickets",
                        "toolCalls": [{"name": "fetchTickets", "arguments": {"project": "HOP"}}],
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("HOPFLOW_LLM_PROVIDER", "offline")
    monkeypatch.setenv("HOPFLOW_LLM_SCRIPT", str(script))
    reset_settings()
    config = {
        "version": "3.0",
        "agent": {"name": "a", "system": "You fetch tickets."},
        "model": {"provider": "openai", "name": "gpt-4o"},
        "tools": [
            {
                "name": "fetchTickets",
                "executionType": "gateway",
                "inputSchema": {"type": "object", "properties": {"project": {"type": "string"}}},
                "execution": {
                    "url": f"{url}/search",
                    "method": "GET",
                    "headers": {"Authorization": "Bearer ${env.LIVING_TEST_TOKEN}"},
                },
            }
        ],
    }
    living.create_living_agent("secretive", living.parse_living_config(config))
    living.push_event("secretive", "m1", "space_message", {"text": "list the tickets"}, wake=False)
    started = datetime.now(UTC) - timedelta(seconds=5)
    outcome = think_cycle_flow("secretive")
    sync_until_exported(started, ["think"])
    assert [h.get("Authorization") for h in seen] == [f"Bearer {secret}"]  # the secret was really sent
    assert outcome.tool_calls == 1
    needles = {"secret": secret}
    assert find(needles, database_text()) == []
    assert find(needles, prefect_text(outcome.run_id)) == []
    assert find(needles, log_files()) == []
