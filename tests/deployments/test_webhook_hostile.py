"""The webhook receiver against hostile senders, on a real database: a body trickled slowly is dropped
with 408 (the connection is not held), a body nested too deep is a 422, and a body may not set an input
the blueprint keeps for the configuration."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hopflow.deployments import signatures
from hopflow.deployments.webhooks import create_webhook_app
from hopflow.models.settings import Settings
from hopflow.tasks.agents import configure_agent, register_blueprints

from tests.deployments.servers import serving
from tests.tasks.agents.factories import VALUES, blueprint, write_yaml

SECRET = signatures.new_secret()


def sign(body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for a body, as a sender would add them."""
    return signatures.sign(signatures.parse_secret(SECRET), body, f"msg_{uuid.uuid4().hex}")
PATH = "/hooks/shop-a/orders"


@pytest.fixture
def url(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "shop-a", values=VALUES)
    monkeypatch.setenv("SHOP_A_SECRET", SECRET)
    settings = Settings(webhook_body_timeout_seconds=1.0)
    with serving(create_webhook_app(settings)) as base:
        yield base


def test_a_slow_sender_gets_408_and_the_connection_is_closed(url: str) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += "Content-Length: 100\r\n\r\n"
        sock.sendall(head.encode() + b'{"order": ')  # ...and never the other 90 bytes
        received = b""
        while b"\r\n\r\n" not in received:  # the server answers without waiting for the rest
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 408"), received[:200]


def test_a_deep_body_is_422_and_a_stolen_input_is_named(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        for body, complaint in (
            (b"[" * 5000 + b"]" * 5000, "body: nested deeper than 64 levels"),
            (
                json.dumps({"status_url": "http://127.0.0.1:8899/steal", "order": {}}).encode(),
                "payload.status_url: unknown input 'status_url'",
            ),
            (json.dumps({"token": "x"}).encode(), "input 'token' cannot be set by a trigger"),
        ):
            headers = {"Content-Type": "application/json", **sign(body)}
            response = client.post(PATH, content=body, headers=headers)
            assert response.status_code == 422 and complaint in response.text, response.text
