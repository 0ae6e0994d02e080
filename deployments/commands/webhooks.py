"""`hopflow webhook-secret`: a new Standard Webhooks secret for a webhook route."""

from __future__ import annotations

import sys


def webhook_secret() -> None:
    """Print a new secret (whsec_ + base64 of 32 random bytes): set it as the route's secret variable
    on the receiver and give it to the sender."""
    from hopflow.deployments.signatures import new_secret

    sys.stdout.write(new_secret() + "\n")
