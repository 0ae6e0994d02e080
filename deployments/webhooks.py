"""The webhook receiver (`hopflow webhooks`): each webhook trigger's method and path, a Standard Webhooks
signed JSON body checked against the agent's inputs, then one flow run of its deployment via Prefect
per `webhook-id` (signatures.py verifies, deliveries.py deduplicates) — or, for a route with `inbox`, one
event in that living agent's inbox per `webhook-id` (the inbox deduplicates)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hopflow.deployments import signatures
from hopflow.deployments.deliveries import Delivery, DeliveryBook, RunStarter
from hopflow.models.documents import DocumentError, load_json
from hopflow.models.enums import TriggerType
from hopflow.models.settings import Settings, get_settings
from hopflow.tasks.agents import (
    WebhookRoute,
    check_payload,
    input_schema,
    normalise_path,
    read_webhook_routes,
)
from hopflow.tasks.agents.directives import DirectiveTextError, check_directive_text
from hopflow.tasks.specs import render_path
from starlette.concurrency import run_in_threadpool

logger = logging.getLogger("hopflow.webhooks")

HEALTH_PATH = "/_hopflow/health"
# A top-level body field that is not an input: the run's one-off directive text.
DIRECTIVE_FIELD = "_directive_text"

REPLAYED_HEADER = "Hopflow-Replayed"


async def start_deployment_run(deployment: str, parameters: dict[str, Any], idempotency_key: str) -> str:
    """A flow run of `deployment` via Prefect; the same key returns the same run (Prefect dedupes)."""
    from prefect.deployments import arun_deployment

    flow_run = await arun_deployment(
        deployment,
        parameters=parameters,
        timeout=0,
        as_subflow=False,
        tags=["hopflow", "webhook"],
        idempotency_key=idempotency_key,
    )
    return str(flow_run.id)


class RouteTable:
    """The routes of every active configuration, re-read at most every `refresh_seconds` (so a new
    configuration needs no restart); a path claimed twice keeps the last good table and logs why."""

    def __init__(
        self, loader: Callable[[], list[WebhookRoute]] = read_webhook_routes, refresh_seconds: float = 5.0
    ) -> None:
        self._loader = loader
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], WebhookRoute] = {}
        self._loaded_at = float("-inf")

    def load(self) -> None:
        routes = self._loader()
        with self._lock:
            self._routes = {(r.method, r.path): r for r in routes}
            self._loaded_at = time.monotonic()

    def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at < self._refresh:
            return
        try:
            self.load()
        except Exception:
            logger.exception("webhook routes not reloaded; keeping the previous table")
            self._loaded_at = time.monotonic()

    def match(self, method: str, path: str) -> tuple[WebhookRoute | None, list[str]]:
        """The route, or None and the methods the path does accept (for 405)."""
        with self._lock:
            route = self._routes.get((method, path))
            methods = sorted(m for (m, p) in self._routes if p == path)
        return route, methods

    def routes(self) -> list[WebhookRoute]:
        with self._lock:
            return sorted(self._routes.values(), key=lambda r: (r.path, r.method))

    def __len__(self) -> int:
        return len(self._routes)


def _error(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is past `limit` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _push_to_inbox(route: WebhookRoute, webhook_id: str, payload: Any) -> JSONResponse:
    """An inbox route: the body is the event's data, the webhook-id its id. The inbox is unique per (agent,
    event id), so a redelivery is acknowledged (202, Hopflow-Replayed) and the agent thinks about it once."""
    from hopflow.tasks.living.inbox import InboxAgentNotFound, InboxError, push_event

    agent = route.inbox or ""
    try:
        pushed = await run_in_threadpool(push_event, agent, webhook_id, route.event_type, payload)
    except InboxAgentNotFound:
        logger.error("webhook %s %s: no living agent %r", route.method, route.path, agent)
        return _error(503, f"living agent {agent} does not exist here (hopflow living create {agent} ...)")
    except InboxError as exc:
        return _error(422, str(exc))
    return JSONResponse(
        {"inbox": agent, "event_id": pushed.event_id, "new": pushed.new},
        status_code=202,
        headers=None if pushed.new else {REPLAYED_HEADER: "true"},
    )


def create_webhook_app(
    settings: Settings | None = None,
    *,
    routes: RouteTable | None = None,
    start_run: RunStarter = start_deployment_run,
    environ: Mapping[str, str] = os.environ,
    deliveries: DeliveryBook | None = None,
) -> FastAPI:
    """The receiver: POST (PUT, PATCH) {path} -> 202 {"flow_run_id"} (an inbox route: 202 {"inbox",
    "event_id", "new"}, the body pushed as an inbox event); 401 missing, stale or bad Standard
    Webhooks signature, 404 unknown path, 405 wrong method, 409 a copy of this webhook-id is still being
    started, 413 body over HOPFLOW_WEBHOOK_MAX_BODY_BYTES, 422 body that is not a JSON object of the
    agent's inputs (or nested deeper than the limit), 408 body not received within
    HOPFLOW_WEBHOOK_BODY_TIMEOUT_SECONDS, 503 when Prefect has no such deployment. A webhook-id seen
    before on the route gets the first 202 again (with a Hopflow-Replayed: true header) and starts
    nothing."""
    settings = settings or get_settings()
    book = deliveries or DeliveryBook(retention=timedelta(seconds=settings.webhook_replay_retention_seconds))
    if routes is None:
        routes = RouteTable()
        routes.load()  # a path claimed twice stops the receiver at start, not at the first call
    table = routes
    limit = settings.webhook_max_body_bytes
    body_timeout = settings.webhook_body_timeout_seconds
    app = FastAPI(title="hopflow webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(HEALTH_PATH)
    async def health() -> dict[str, Any]:
        await run_in_threadpool(table.refresh_if_stale)
        return {"status": "ok", "routes": len(table)}

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def receive(request: Request, path: str) -> JSONResponse:
        await run_in_threadpool(table.refresh_if_stale)
        route, methods = table.match(request.method, normalise_path(path))
        if route is None:
            if methods:
                return _error(405, f"use {', '.join(methods)}", {"Allow": ", ".join(methods)})
            return _error(404, "no webhook at this path")
        try:
            body = await asyncio.wait_for(_read_limited(request, limit), body_timeout)
        except TimeoutError:
            return _error(408, f"body not received within {body_timeout:g} s", {"Connection": "close"})
        if body is None:
            return _error(413, f"body larger than {limit} bytes")
        secret = environ.get(route.secret_env)
        if not secret:
            logger.error(
                "webhook %s %s: %s is not set; refusing every call",
                route.method,
                route.path,
                route.secret_env,
            )
            return _error(500, "this webhook's secret is not configured on the server")
        try:
            webhook_id = signatures.verify(
                signatures.parse_secret(secret, name=route.secret_env), body, request.headers
            )
        except signatures.SecretError as exc:
            logger.error("webhook %s %s: %s; refusing every call", route.method, route.path, exc)
            return _error(500, "this webhook's secret is not a Standard Webhooks secret (whsec_...)")
        except signatures.SignatureError as exc:
            return _error(401, str(exc))
        try:
            payload = load_json(body, "body") if body.strip() else {}
        except DocumentError as exc:
            return _error(422, str(exc))
        if route.inbox is not None:
            return await _push_to_inbox(route, webhook_id, payload)
        directive_text = None
        if isinstance(payload, dict) and DIRECTIVE_FIELD in payload:
            # Signed like the rest of the body: a one-off directive for this run, not an input.
            try:
                directive_text = check_directive_text(payload.pop(DIRECTIVE_FIELD), DIRECTIVE_FIELD)
            except DirectiveTextError as exc:
                return _error(422, str(exc))
        issues = check_payload(input_schema(route.inputs_schema), payload, route.configured_keys)
        if issues:
            return _error(422, [f"{render_path(i.path)}: {i.message}" for i in issues])
        parameters: dict[str, Any] = {
            "configuration_id": route.configuration_id,
            "trigger_type": TriggerType.WEBHOOK.value,
            "payload": payload,
        }
        if directive_text is not None:
            parameters["directive_text"] = directive_text
        if route.playbook is not None:
            parameters["playbook"] = route.playbook
        delivery = Delivery(
            route.method, route.path, webhook_id, route.deployment_name, route.configuration_id
        )
        try:
            result = await book.deliver(delivery, parameters, start_run)
        except Exception as exc:
            from prefect.exceptions import ObjectNotFound

            if isinstance(exc, ObjectNotFound):
                return _error(
                    503, f"deployment {route.deployment_name} is not registered (is `hopflow serve` running?)"
                )
            logger.exception("webhook %s %s: could not start a run", route.method, route.path)
            return _error(503, f"could not start a run of {route.deployment_name}: {type(exc).__name__}")
        if result.flow_run_id is None:
            return _error(
                409, f"{signatures.ID_HEADER} {webhook_id} is being started by another request; retry",
                {"Retry-After": "5"},
            )  # fmt: skip
        return JSONResponse(
            {"flow_run_id": result.flow_run_id, "deployment": route.deployment_name},
            status_code=202,
            headers={REPLAYED_HEADER: "true"} if result.replayed else None,
        )

    app.state.routes = table
    app.state.deliveries = book
    return app
