"""No secret at rest from a living agent: a gateway tool's `${env.X}` header is resolved per call, and
a server echoing it back changes nothing. Every table, Prefect's records and the exported logs are scanned."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.settings import reset_settings
from hopflow.tasks import living

from tests.flows.test_mirror_prompts import database_text, find, log_files, prefect_text, sync_until_exported

pytestmark = [pytest.mark.flows]


@pytest.fixture
def echo_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            seen.append(auth)
            body = json.dumps({"tickets": [7], "you_sent": auth}).encode()  # a server that echoes the header
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gateway_secret_is_used_but_never_at_rest(
    hopflow_env: str, echo_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    assert seen == [f"Bearer {secret}"]  # the secret was really sent
    assert outcome.tool_calls == 1
    needles = {"secret": secret}
    assert find(needles, database_text()) == []
    assert find(needles, prefect_text(outcome.run_id)) == []
    assert find(needles, log_files()) == []
