"""Exactly one run per webhook delivery: claim (route, webhook-id) in hopflow's database, start the run
with no transaction open, record its id; replays and concurrent copies get the first answer again.

Each step is its own short unit of work (called from a thread: the receiver is async, the database
access is not). Prefect's own idempotency key on the flow run backs the claim up: a run started by
a receiver that died before recording it is found again, not duplicated, by whoever takes over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hopflow.models.access import webhooks as access
from hopflow.models.access.webhooks import ClaimOutcome, DeliveryClaim
from hopflow.models.db import session_scope
from hopflow.models.orm import utcnow
from starlette.concurrency import run_in_threadpool

logger = logging.getLogger("hopflow.webhooks")

# (deployment name, parameters, idempotency key) -> flow run id
RunStarter = Callable[[str, dict[str, Any], str], Awaitable[str]]


@dataclass(frozen=True)
class Delivery:
    method: str
    path: str
    webhook_id: str
    deployment_name: str
    configuration_id: str | None

    @property
    def idempotency_key(self) -> str:
        return f"hopflow-webhook:{access.route_key(self.method, self.path)}:{self.webhook_id}"


@dataclass(frozen=True)
class DeliveryResult:
    flow_run_id: str | None  # None: another receiver is still starting it
    replayed: bool


class DeliveryBook:
    """Claims, records and prunes deliveries. `retention` is how long a webhook id is remembered
    (at least the signature tolerance: an older replay is refused by its timestamp anyway);
    `abandoned_after`, how long a claim may wait for its run before another receiver takes it over."""

    def __init__(
        self,
        *,
        retention: timedelta,
        abandoned_after: timedelta = timedelta(seconds=60),
        wait_for_first: float = 15.0,
        prune_every: float = 60.0,
    ) -> None:
        self.retention = retention
        self.abandoned_after = abandoned_after
        self.wait_for_first = wait_for_first
        self._prune_every = prune_every
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()

    def _claim(self, delivery: Delivery) -> DeliveryClaim:
        with session_scope() as session:
            return access.claim_delivery(
                session,
                method=delivery.method,
                path=delivery.path,
                webhook_id=delivery.webhook_id,
                deployment_name=delivery.deployment_name,
                configuration_id=delivery.configuration_id,
                abandoned_after=self.abandoned_after,
            )

    def _record(self, delivery_id: str, flow_run_id: str) -> None:
        with session_scope() as session:
            access.record_delivery_run(session, delivery_id, flow_run_id)

    def _release(self, delivery_id: str) -> None:
        with session_scope() as session:
            access.release_delivery(session, delivery_id)

    def _read(self, delivery_id: str) -> str | None:
        with session_scope() as session:
            return access.read_delivery_run(session, delivery_id)

    def prune_if_due(self) -> None:
        """Forget deliveries older than the retention, at most once per `prune_every` seconds."""
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < self._prune_every:
                return
            self._pruned_at = time.monotonic()
        try:
            with session_scope() as session:
                gone = access.prune_deliveries(session, received_before=utcnow() - self.retention)
            if gone:
                logger.info("forgot %d webhook deliveries older than %s", gone, self.retention)
        except Exception:
            logger.exception("webhook deliveries not pruned (will retry)")

    async def deliver(
        self, delivery: Delivery, parameters: dict[str, Any], start_run: RunStarter
    ) -> DeliveryResult:
        """Start the delivery's run once. Raises what `start_run` raised (the claim is released, so the
        sender's retry may start it)."""
        await run_in_threadpool(self.prune_if_due)
        claim = await run_in_threadpool(self._claim, delivery)
        if claim.outcome is ClaimOutcome.STARTED:
            return DeliveryResult(claim.flow_run_id, replayed=True)
        if claim.outcome is ClaimOutcome.IN_FLIGHT:
            return DeliveryResult(await self._wait_for(claim.delivery_id), replayed=True)
        try:
            flow_run_id = await start_run(delivery.deployment_name, parameters, delivery.idempotency_key)
        except BaseException:
            await run_in_threadpool(self._release, claim.delivery_id)
            raise
        await run_in_threadpool(self._record, claim.delivery_id, flow_run_id)
        return DeliveryResult(flow_run_id, replayed=False)

    async def _wait_for(self, delivery_id: str) -> str | None:
        """The run id once the receiver that claimed the delivery records it; None after the wait."""
        deadline = time.monotonic() + self.wait_for_first
        pause = 0.05
        while True:
            if delivery_id and (flow_run_id := await run_in_threadpool(self._read, delivery_id)):
                return flow_run_id
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
