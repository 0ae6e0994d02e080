"""Keep `hopflow serve` alive through a Prefect API outage: Prefect's runner gives up after three failed
polls in a row (and `serve()` returns with an error), so serve again once the API answers.

Between attempts the API's /health is polled with exponential backoff (1 s, doubling, capped); every
attempt is logged. Runs queued while the API was away are picked up by the next runner's first poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import httpx
from websockets.exceptions import WebSocketException

logger = logging.getLogger("prefect.hopflow.serve")  # under "prefect": shown by Prefect's log handlers

# A runner that served this long before failing was healthy: its next outage starts the backoff afresh.
HEALTHY_AFTER_SECONDS = 60.0
OUTAGE_MARKERS = ("Service exceeded error threshold",)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the exceptions of any group in it, and their causes and contexts."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += list(getattr(current, "exceptions", ()))
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def is_api_outage(exc: BaseException) -> bool:
    """Whether `exc` comes from the Prefect API being unreachable or failing (5xx), not from hopflow.

    The API's HTTP calls fail with httpx's errors; the runner's events websocket, which it opens as it
    starts, with websockets' handshake errors ("Runner failed to start: event_emitter — did not
    receive a valid HTTP response" when the server dies during the handshake) or a time-out."""
    for e in _chain(exc):
        if isinstance(e, httpx.TransportError | ConnectionError | WebSocketException | TimeoutError):
            return True
        if isinstance(e, httpx.HTTPStatusError) and e.response.status_code >= 500:
            return True
        if isinstance(e, RuntimeError) and any(m in str(e) for m in OUTAGE_MARKERS):
            return True
    return False


def api_healthy(api_url: str, timeout: float = 5.0) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_api(
    api_url: str, *, first: float = 1.0, cap: float = 30.0, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Poll the API's /health until it answers, waiting `first` s, then twice as long each time up to
    `cap`; returns how many attempts failed."""
    delay, failed = first, 0
    while not api_healthy(api_url):
        failed += 1
        logger.warning(
            "Prefect API at %s still unreachable (attempt %d); next try in %.0f s", api_url, failed, delay
        )
        sleep(delay)
        delay = min(delay * 2, cap)
    return failed


def serve_through_outages(
    serve_once: Callable[[], None],
    *,
    api_url: str | None,
    backoff_cap: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call `serve_once` (which registers the deployments and serves until stopped) again after every
    Prefect API outage; return when it returns (Ctrl-C, SIGTERM). Any other error is raised."""
    first_delay = 1.0
    while True:
        started = time.monotonic()
        try:
            serve_once()
            return
        except KeyboardInterrupt:
            return
        except Exception as exc:
            if api_url is None or not is_api_outage(exc):
                raise
            if time.monotonic() - started > HEALTHY_AFTER_SECONDS:
                first_delay = 1.0
            logger.warning(
                "Prefect API at %s failed (%s: %s); serving again once it answers",
                api_url,
                type(exc).__name__,
                str(exc)[:200],
            )
        sleep(first_delay)
        wait_for_api(api_url, first=first_delay, cap=backoff_cap, sleep=sleep)
        first_delay = min(first_delay * 2, backoff_cap)
        logger.warning("Prefect API at %s answers again: registering and serving the deployments", api_url)
