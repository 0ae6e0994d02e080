"""The webhook receiver on a real database: routes by method and path, Standard Webhooks signatures
(timestamp tolerance both ways, tampering), the size limit before the body is read, bodies checked
against the agent's inputs, and one run per webhook-id however often (or however concurrently) it
comes. The run starter here records its calls; a real Prefect flow run per webhook-id is shown end to
end in tests/flows/test_agent_serve.py."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hopflow.deployments import signatures
from hopflow.deployments.deliveries import DeliveryBook
from hopflow.deployments.webhooks import HEALTH_PATH, REPLAYED_HEADER, create_webhook_app
from hopflow.models.access import webhooks as deliveries
from hopflow.models.db import session_scope
from hopflow.models.orm import WebhookDelivery, utcnow
from hopflow.models.settings import Settings
from hopflow.tasks.agents import configure_agent, register_blueprints

from tests.deployments.servers import serving
from tests.tasks.agents.factories import VALUES, blueprint, write_yaml

SECRET = "whsec_" + base64.b64encode(b"hopflow-test-secret-32-bytes-ok!").decode()
PATH = "/hooks/shop-a/orders"
LIMIT = 2048
BODY = json.dumps({"order": {"id": 1}}).encode()


@dataclass
class Starter:
    """Stands in for Prefect's arun_deployment: counts starts, can be slow or fail."""

    delay: float = 0.0
    fail: bool = False
    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    async def __call__(self, deployment: str, parameters: dict[str, Any], key: str) -> str:
        self.calls.append((deployment, parameters, key))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("Prefect API unreachable")
        return str(uuid.uuid4())


@pytest.fixture
def starter() -> Starter:
    return Starter()


@pytest.fixture
def client(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starter: Starter
) -> Iterator[httpx.Client]:
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "shop-a", values=VALUES)
    configure_agent("agent_900", "shop-nosecret", values=VALUES)
    configure_agent("agent_900", "shop-oldsecret", values=VALUES)
    monkeypatch.setenv("SHOP_A_SECRET", SECRET)
    monkeypatch.setenv("SHOP_OLDSECRET_SECRET", "s3cret-from-the-hmac-days")
    monkeypatch.delenv("SHOP_NOSECRET_SECRET", raising=False)
    app = create_webhook_app(Settings(webhook_max_body_bytes=LIMIT), start_run=starter)
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def signed(
    body: bytes, *, webhook_id: str | None = None, at: float | None = None, secret: str = SECRET
) -> dict[str, str]:
    webhook = signatures.parse_secret(secret)
    return signatures.sign(webhook, body, webhook_id or f"msg_{uuid.uuid4().hex}", at)


def post(
    client: httpx.Client, body: bytes, headers: dict[str, str] | None = None, path: str = PATH
) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json", **(headers or {})})


def delivery_rows() -> list[WebhookDelivery]:
    with session_scope() as session:
        return list(session.scalars(sa.select(WebhookDelivery)))


# --- signatures, without a server -------------------------------------------------------------------------
def test_standard_webhooks_signature_round_trip_and_faults() -> None:
    webhook = signatures.parse_secret(SECRET)
    headers = signatures.sign(webhook, BODY, "msg_1")
    assert headers["webhook-signature"].startswith("v1,")
    assert signatures.verify(webhook, BODY, headers) == "msg_1"
    faults = {
        "tampered body": (BODY + b" ", headers, "webhook-signature does not match"),
        "other id": (BODY, {**headers, "webhook-id": "msg_2"}, "webhook-signature does not match"),
        "stale": (BODY, signatures.sign(webhook, BODY, "m", time.time() - 301), "more than 300 s old"),
        "future": (BODY, signatures.sign(webhook, BODY, "m", time.time() + 301), "in the future"),
        "no id": (
            BODY,
            {k: v for k, v in headers.items() if k != "webhook-id"},
            "missing header(s) webhook-id",
        ),
        "junk signature": (BODY, {**headers, "webhook-signature": "garbage"}, "does not match"),
        "junk time": (BODY, {**headers, "webhook-timestamp": "yesterday"}, "not a Unix time"),
        "long id": (BODY, {**headers, "webhook-id": "x" * 256}, "longer than 255"),
    }
    for what, (body, hdrs, message) in faults.items():
        with pytest.raises(signatures.SignatureError, match=re.escape(message)):
            signatures.verify(webhook, body, hdrs)
        assert what


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        ("s3cret", "must be 'whsec_' followed by base64"),
        ("whsec_not*base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "the key is 5 bytes"),
    ],
)
def test_a_secret_that_is_not_standard_webhooks_is_refused_by_name(secret: str, complaint: str) -> None:
    with pytest.raises(signatures.SecretError, match="SHOP_A_SECRET") as info:
        signatures.parse_secret(secret, name="SHOP_A_SECRET")
    assert complaint in str(info.value)
    made = signatures.new_secret()
    assert made.startswith("whsec_") and len(base64.b64decode(made[6:])) == 32


# --- the receiver ---------------------------------------------------------------------------------------
def test_unknown_path_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    assert post(client, b"{}", signed(b"{}"), path="/hooks/nobody/orders").status_code == 404
    response = client.put(PATH, content=b"{}")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert client.get(HEALTH_PATH).json() == {"status": "ok", "routes": 3}


def test_a_valid_call_starts_one_run_and_its_replay_gets_the_first_answer(
    client: httpx.Client, starter: Starter
) -> None:
    headers = signed(BODY, webhook_id="msg_replayed")
    first = post(client, BODY, headers)
    assert first.status_code == 202, first.text
    assert REPLAYED_HEADER.lower() not in first.headers
    again = post(client, BODY, headers)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert len(starter.calls) == 1
    deployment, parameters, key = starter.calls[0]
    assert deployment == "agent-run/shop-a" and parameters["payload"] == {"order": {"id": 1}}
    assert key.endswith(":msg_replayed")  # Prefect's idempotency key for the flow run
    [row] = delivery_rows()
    assert (row.webhook_id, row.flow_run_id, row.route) == (
        "msg_replayed",
        first.json()["flow_run_id"],
        f"POST {PATH}",
    )
    # a new id is a new delivery
    assert post(client, BODY, signed(BODY)).json()["flow_run_id"] != first.json()["flow_run_id"]
    assert len(starter.calls) == 2


def test_stale_future_tampered_and_unsigned_calls_are_401_and_write_nothing(
    client: httpx.Client, starter: Starter
) -> None:
    cases = {
        "stale": (BODY, signed(BODY, at=time.time() - 6 * 60), "old"),
        "future": (BODY, signed(BODY, at=time.time() + 6 * 60), "in the future"),
        "tampered": (BODY.replace(b"1", b"2"), signed(BODY), "does not match"),
        "other secret": (BODY, signed(BODY, secret=signatures.new_secret()), "does not match"),
        "unsigned": (BODY, {}, "missing header(s) webhook-id, webhook-timestamp, webhook-signature"),
        # the pre-Standard-Webhooks header alone is no longer accepted
        "legacy": (BODY, {"X-Hopflow-Signature": "sha256=" + "0" * 64}, "missing header(s)"),
    }
    for what, (body, headers, complaint) in cases.items():
        response = post(client, body, headers)
        assert response.status_code == 401, what
        assert complaint in response.json()["detail"], what
    assert starter.calls == [] and delivery_rows() == []


def test_a_webhook_whose_secret_is_unset_or_not_whsec_refuses_every_call(client: httpx.Client) -> None:
    response = post(client, b"{}", signed(b"{}"), path="/hooks/shop-nosecret/orders")
    assert response.status_code == 500 and "secret is not configured" in response.text
    response = post(client, b"{}", signed(b"{}"), path="/hooks/shop-oldsecret/orders")
    assert response.status_code == 500 and "not a Standard Webhooks secret" in response.text
    assert delivery_rows() == []


def test_fifty_concurrent_copies_of_one_call_start_exactly_one_run(
    client: httpx.Client, starter: Starter
) -> None:
    starter.delay = 0.5  # the first copy is still starting its run while the others arrive
    headers = signed(BODY, webhook_id="msg_storm")
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: post(client, BODY, headers), range(50)))
    assert [r.status_code for r in responses] == [202] * 50, {r.status_code: r.text for r in responses}
    assert len({r.json()["flow_run_id"] for r in responses}) == 1
    assert sum(REPLAYED_HEADER.lower() not in r.headers for r in responses) == 1
    assert len(starter.calls) == 1
    assert len(delivery_rows()) == 1


def test_a_run_that_could_not_start_is_released_for_the_senders_retry(
    client: httpx.Client, starter: Starter
) -> None:
    headers = signed(BODY, webhook_id="msg_retry")
    starter.fail = True
    assert post(client, BODY, headers).status_code == 503
    assert delivery_rows() == []
    starter.fail = False
    response = post(client, BODY, headers)
    assert response.status_code == 202 and REPLAYED_HEADER.lower() not in response.headers
    assert len(starter.calls) == 2


def test_body_over_the_limit_is_413_declared_or_streamed(client: httpx.Client) -> None:
    big = json.dumps({"order": {"note": "x" * LIMIT}}).encode()
    assert post(client, big, signed(big)).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(8):
            yield b"x" * 512

    response = client.post(PATH, content=chunks(), headers=signed(b""))
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"order": "not an object"}', "payload.order: wrong type for input 'order': expected json"),
        (b'{"threshold": 5}', "payload.threshold: input 'threshold' cannot be set by a trigger"),
        (b'{"colour": "red"}', "payload.colour: unknown input 'colour'"),
        (b'{"shop": "x"}', "input 'shop' cannot be set by a trigger (set by the configuration)"),
        (b"[" * 300 + b"]" * 300, "body: nested deeper than 64 levels"),
        (b'{"order": {"total": NaN}}', "NaN is not a JSON number"),
    ],
)
def test_signed_but_invalid_body_is_422_and_writes_nothing(
    client: httpx.Client, starter: Starter, body: bytes, complaint: str
) -> None:
    response = post(client, body, signed(body))
    assert response.status_code == 422
    assert complaint in json.dumps(response.json())
    assert starter.calls == [] and delivery_rows() == []


# --- the delivery book ------------------------------------------------------------------------------------
def test_a_claim_left_behind_is_taken_over_once_and_old_deliveries_are_pruned(hopflow_env: str) -> None:
    def claim(at_offset: float) -> deliveries.DeliveryClaim:
        with session_scope() as session:
            return deliveries.claim_delivery(
                session, method="POST", path=PATH, webhook_id="msg_orphan", deployment_name="agent-run/x",
                configuration_id=None, abandoned_after=timedelta(seconds=60),
                now=utcnow() + timedelta(seconds=at_offset),
            )  # fmt: skip

    first = claim(0)
    assert first.outcome is deliveries.ClaimOutcome.CLAIMED
    assert claim(1).outcome is deliveries.ClaimOutcome.IN_FLIGHT  # its receiver may still answer
    taken = claim(61)  # its receiver died between the claim and Prefect's answer
    assert taken.outcome is deliveries.ClaimOutcome.CLAIMED and taken.delivery_id == first.delivery_id
    assert claim(62).outcome is deliveries.ClaimOutcome.IN_FLIGHT  # taken over once, not by everyone
    with session_scope() as session:
        deliveries.record_delivery_run(session, first.delivery_id, "run-1")
    assert claim(500).flow_run_id == "run-1"

    book = DeliveryBook(retention=timedelta(hours=1), prune_every=0)
    book.prune_if_due()
    assert len(delivery_rows()) == 1  # younger than the retention
    with session_scope() as session:
        session.execute(sa.update(WebhookDelivery).values(received_at=utcnow() - timedelta(hours=2)))
    book.prune_if_due()
    assert delivery_rows() == []
