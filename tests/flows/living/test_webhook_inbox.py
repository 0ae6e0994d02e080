"""Webhook routes that target a living agent's inbox, through the real receiver with Standard Webhooks
signatures, on SQLite and PostgreSQL: the signed body becomes one inbox event whose id is the delivery's
`webhook-id`, so a redelivery is acknowledged and the agent thinks about it once; no agent run starts.
Hostile bodies (not an object, over the inbox's bounds, unsigned) and a missing agent write nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hopflow.deployments import signatures
from hopflow.deployments.webhooks import REPLAYED_HEADER, create_webhook_app
from hopflow.flows.think_cycle import think_cycle_flow
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentConsciousness, InboxEvent, WebhookDelivery
from hopflow.models.settings import Settings, reset_settings
from hopflow.tasks import living
from hopflow.tasks.agents import configure_agent, read_webhook_routes, register_blueprints
from hopflow.tasks.agents.errors import RegistrationError

from tests.deployments.servers import serving
from tests.tasks.agents.factories import VALUES, blueprint, write_yaml

pytestmark = [pytest.mark.flows]

SECRET = "whsec_" + base64.b64encode(b"hopflow-inbox-secret-32-bytes-ok").decode()
INBOX_PATH = "/hooks/shop-a/inbox"
GHOST_PATH = "/hooks/shop-a/ghost"
INBOX_TRIGGERS = [
    {
        "type": "webhook",
        "path": "/hooks/{{configuration}}/inbox",
        "secret_env": "{{configuration}}_INBOX_SECRET",
        "inbox": "helper",
        "event_type": "space_message",
    },
    {
        "type": "webhook",
        "path": "/hooks/{{configuration}}/ghost",
        "secret_env": "{{configuration}}_INBOX_SECRET",
        "inbox": "nobody-here",
    },
]


def _living_config() -> dict[str, Any]:
    return {
        "version": "3.0",
        "agent": {"name": "helper", "system": "Read what comes in."},
        "model": {"provider": "offline", "name": "offline-standard"},
        "loop": {"maxSteps": 2, "maxTokensPerCycle": 100_000},
        "tools": [],
    }


class NoRuns:
    """The run starter: an inbox route must never start an agent run."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, deployment: str, parameters: dict[str, Any], key: str) -> str:
        self.calls.append(deployment)
        return str(uuid.uuid4())


@pytest.fixture
def starter() -> NoRuns:
    return NoRuns()


@pytest.fixture
def client(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starter: NoRuns
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("HOPFLOW_LLM_PROVIDER", "offline")
    reset_settings()
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint(triggers=INBOX_TRIGGERS))])
    configure_agent("agent_900", "shop-a", values=VALUES)
    living.create_living_agent("helper", living.parse_living_config(_living_config()))
    monkeypatch.setenv("SHOP_A_INBOX_SECRET", SECRET)
    app = create_webhook_app(Settings(webhook_max_body_bytes=256 * 1024), start_run=starter)
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def post(client: httpx.Client, body: bytes, webhook_id: str, path: str = INBOX_PATH) -> httpx.Response:
    # Signed afresh each time, as a sender's retry is: same webhook-id, new timestamp.
    headers = signatures.sign(signatures.parse_secret(SECRET), body, webhook_id)
    return client.post(path, content=body, headers={"Content-Type": "application/json", **headers})


def inbox_rows() -> list[InboxEvent]:
    with session_scope() as s:
        return list(s.scalars(sa.select(InboxEvent).order_by(InboxEvent.created_at)))


def test_a_webhook_becomes_one_inbox_event_and_a_redelivery_is_acknowledged_and_thought_once(
    client: httpx.Client, starter: NoRuns
) -> None:
    [route] = [r for r in read_webhook_routes() if r.path == INBOX_PATH]
    assert (route.inbox, route.event_type, route.target) == (
        "helper",
        "space_message",
        "inbox helper (space_message)",
    )
    body = json.dumps({"ticket": {"id": 7, "text": "printer on fire"}}).encode()

    first = post(client, body, "msg_ticket_7")
    assert first.status_code == 202, first.text
    assert first.json() == {"inbox": "helper", "event_id": "msg_ticket_7", "new": True}
    assert REPLAYED_HEADER.lower() not in first.headers
    redelivered = post(client, json.dumps({"ticket": {"id": 7, "text": "changed"}}).encode(), "msg_ticket_7")
    assert redelivered.status_code == 202 and redelivered.json()["new"] is False
    assert redelivered.headers[REPLAYED_HEADER] == "true"

    [row] = inbox_rows()
    assert (row.event_id, row.event_type, row.data) == (
        "msg_ticket_7",
        "space_message",
        {"ticket": {"id": 7, "text": "printer on fire"}},
    )
    assert starter.calls == []  # no agent run, and no delivery row: the inbox is the dedupe
    with session_scope() as s:
        assert s.scalars(sa.select(WebhookDelivery)).all() == []

    outcome = think_cycle_flow("helper")
    assert outcome.events == 1
    # A redelivery after the cycle changes nothing either: the agent has thought about it once.
    assert post(client, body, "msg_ticket_7").json()["new"] is False
    assert think_cycle_flow("helper").stop_reason.value == "idle"
    with session_scope() as s:
        messages = s.scalars(sa.select(AgentConsciousness.messages)).one()
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        '[space_message msg_ticket_7] {"ticket": {"id": 7, "text": "printer on fire"}}'
    ]


def test_hostile_or_misrouted_inbox_webhooks_write_nothing(client: httpx.Client) -> None:
    not_object = post(client, b"[1, 2, 3]", "msg_list")
    assert not_object.status_code == 422 and "data must be a JSON object" in not_object.text
    too_big = post(client, json.dumps({"blob": "x" * 70_000}).encode(), "msg_big")
    assert too_big.status_code == 422 and "at most 65536" in too_big.text
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    too_deep = post(client, json.dumps(deep).encode(), "msg_deep")
    assert too_deep.status_code == 422, too_deep.text
    unsigned = client.post(INBOX_PATH, content=b"{}", headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    ghost = post(client, b'{"a": 1}', "msg_ghost", path=GHOST_PATH)
    assert ghost.status_code == 503 and "nobody-here" in ghost.text
    assert inbox_rows() == []


@pytest.mark.parametrize(
    ("trigger", "complaint"),
    [
        ({"event_type": "service"}, "event_type needs inbox"),
        ({"inbox": "helper", "playbook": "order_brief"}, "has no playbook"),
        ({"inbox": "helper", "event_type": "gossip"}, "event_type"),
        ({"inbox": "he<script>"}, "inbox"),
    ],
)
def test_blueprint_inbox_fields_are_checked(
    hopflow_env: str, tmp_path: Path, trigger: dict[str, Any], complaint: str
) -> None:
    webhook = {"type": "webhook", "path": "/hooks/x", "secret_env": "X_SECRET", **trigger}
    data = blueprint(triggers=[webhook])
    with pytest.raises(RegistrationError, match=complaint):
        register_blueprints([write_yaml(tmp_path / "agent.yaml", data)])
