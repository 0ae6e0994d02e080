"""Standard Webhooks signatures (https://www.standardwebhooks.com): the secret format, verifying the
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers of a call, and signing one.

The `standardwebhooks` package does the HMAC and the 5-minute timestamp tolerance; this module adds
clear errors (which header, what is wrong) and refuses secrets that are not `whsec_` + base64.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
# The standardwebhooks package's own window, both ways (its verify refuses older or newer calls).
TOLERANCE = timedelta(minutes=5)
# The Standard Webhooks spec: secrets of 24 to 64 random bytes.
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64
WEBHOOK_ID_MAX = 255


class SecretError(ValueError):
    """A configured secret is not a Standard Webhooks secret; the message says what it should be."""


class SignatureError(ValueError):
    """A call's Standard Webhooks headers do not verify; the message names the header and the fault."""


def new_secret() -> str:
    """A fresh secret: `whsec_` + base64 of 32 random bytes (what `hopflow webhooks secret` prints)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_secret(secret: str, *, name: str = "the secret") -> Webhook:
    """A verifier for `secret`, or SecretError naming `name` (the environment variable)."""
    if not secret.startswith(SECRET_PREFIX):
        raise SecretError(
            f"{name} is not a Standard Webhooks secret: it must be 'whsec_' followed by base64 "
            "(make one with `hopflow webhooks secret`)"
        )
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(f"{name}: the part after 'whsec_' is not valid base64") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise SecretError(
            f"{name}: the key is {len(key)} bytes; Standard Webhooks secrets are "
            f"{SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} random bytes"
        )
    return Webhook(key)


def verify(webhook: Webhook, body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> str:
    """Check the three headers against `body`; returns the webhook id, or raises SignatureError.

    Checked here before the package's verify so each fault gets its own message: a missing header,
    a timestamp outside the tolerance (stale or from the future), then the signature itself.
    """
    values = {name: headers.get(name) for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SignatureError(f"missing header(s) {', '.join(missing)} (Standard Webhooks)")
    webhook_id = str(values[ID_HEADER])
    if len(webhook_id) > WEBHOOK_ID_MAX:
        raise SignatureError(f"{ID_HEADER} is longer than {WEBHOOK_ID_MAX} characters")
    try:
        sent = float(str(values[TIMESTAMP_HEADER]))
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds") from None
    skew = sent - (time.time() if now is None else now)
    tolerance = TOLERANCE.total_seconds()
    if skew < -tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance:.0f} s old (replayed or delayed)")
    if skew > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance:.0f} s in the future")
    try:
        # The package reads the body as UTF-8 text; a body that is not cannot have been signed by it.
        webhook.verify(body, dict(headers.items()), json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match: no v1 HMAC-SHA256 of "
            f"'<{ID_HEADER}>.<{TIMESTAMP_HEADER}>.<body>' with this route's secret"
        ) from None
    return webhook_id


def sign(webhook: Webhook, body: bytes, webhook_id: str, timestamp: float | None = None) -> dict[str, str]:
    """The three headers a sender adds to `body` (for tests and for hopflow's own callers)."""
    sent = int(time.time() if timestamp is None else timestamp)
    signature = webhook.sign(webhook_id, datetime.fromtimestamp(sent, tz=UTC), body.decode())
    return {ID_HEADER: webhook_id, TIMESTAMP_HEADER: str(sent), SIGNATURE_HEADER: signature}
