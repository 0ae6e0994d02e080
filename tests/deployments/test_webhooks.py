"""The webhook receiver on a real database: routes by method and path, HMAC-SHA256 signatures, the size
limit before the body is read, and bodies checked against the agent's inputs. (202 with a flow run id
through Prefect is shown end to end in tests/flows/test_agent_serve.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hopflow.deployments.webhooks import HEALTH_PATH, SIGNATURE_HEADER, create_webhook_app, sign, signature_ok
from hopflow.models.settings import Settings
from hopflow.tasks.agents import configure_agent, register_blueprints

from tests.tasks.agents.factories import VALUES, blueprint, write_yaml
from tests.deployments.servers import serving

SECRET = "whsec-test-1234567890"
PATH = "/hooks/shop-a/orders"
LIMIT = 2048


@pytest.fixture
def client(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configure_agent("agent_900", "shop-a", values=VALUES)
    configure_agent("agent_900", "shop-nosecret", values=VALUES)
    monkeypatch.setenv("SHOP_A_SECRET", SECRET)
    monkeypatch.delenv("SHOP_NOSECRET_SECRET", raising=False)
    app = create_webhook_app(Settings(webhook_max_body_bytes=LIMIT))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        yield c


def post(
    client: httpx.Client, body: bytes, *, secret: str | None = SECRET, path: str = PATH
) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    response = client.post(path, content=body, headers=headers)
    return response.status_code, response.json()


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"order": {"id": 1}}'
    header = sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert signature_ok(body, SECRET, header)
    assert not signature_ok(body + b" ", SECRET, header)
    assert not signature_ok(body, SECRET, header.replace("sha256=", "sha1="))
    assert not signature_ok(body, SECRET, None)


def test_unknown_path_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    assert post(client, b"{}", path="/hooks/nobody/orders")[0] == 404
    response = client.put(PATH, content=b"{}")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert client.get(HEALTH_PATH).json() == {"status": "ok", "routes": 2}


def test_missing_or_bad_signature_is_401(client: httpx.Client) -> None:
    body = json.dumps({"order": {"id": 1}}).encode()
    assert post(client, body, secret=None)[0] == 401
    assert post(client, body, secret="wrong-secret")[0] == 401
    tampered = client.post(PATH, content=body + b" ", headers={SIGNATURE_HEADER: sign(body, SECRET)})
    assert tampered.status_code == 401


def test_a_webhook_whose_secret_is_not_set_refuses_every_call(client: httpx.Client) -> None:
    status, detail = post(client, b"{}", path="/hooks/shop-nosecret/orders")
    assert status == 500 and "secret is not configured" in str(detail)


def test_body_over_the_limit_is_413_declared_or_streamed(client: httpx.Client) -> None:
    big = json.dumps({"order": {"note": "x" * LIMIT}}).encode()
    assert post(client, big)[0] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(8):
            yield b"x" * 512

    response = client.post(PATH, content=chunks(), headers={SIGNATURE_HEADER: sign(b"", SECRET)})
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
def test_signed_but_invalid_body_is_422(client: httpx.Client, body: bytes, complaint: str) -> None:
    status, detail = post(client, body)
    assert status == 422
    assert complaint in json.dumps(detail)
