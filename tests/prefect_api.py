"""This process's Prefect client pointed at another API for a block: a started server, not the harness."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings


def drain_workers() -> None:
    """Send what Prefect's events and log workers hold, and stop them: the next event or log line
    starts a new worker on the API then set."""
    EventsWorker.drain_all(timeout=30)
    APILogWorker.drain_all(timeout=30)


@contextmanager
def on_api(url: str) -> Iterator[None]:
    """PREFECT_API_URL = `url` for the block. Prefect's events and log workers stay bound to the API
    they first talked to (the URL is not part of their key), so they are drained on the way in (a
    worker of an earlier test, on the harness or on a server since stopped, would swallow this block's
    events: its task runs would never show) and on the way out (for whatever runs next)."""
    drain_workers()
    with temporary_settings(updates={PREFECT_API_URL: url}):
        try:
            yield
        finally:
            drain_workers()
