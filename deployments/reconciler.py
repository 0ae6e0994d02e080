"""The run-log reconciler inside `hopflow serve`: a background thread that mirrors Prefect's flow runs of
hopflow's flows into agent_run_logs every N seconds with the reconciler's plain functions.

It runs no flow of its own, so the UI's Runs list shows the user's missions and agents, not 1,440
`sync-run-logs` runs a day; `hopflow runs sync` (the flow) is still there to reconcile by hand.
"""

from __future__ import annotations

import logging
import threading

from hopflow.tasks import mirror

logger = logging.getLogger("hopflow.reconciler")


def reconcile_once(export_logs: bool = True) -> int:
    """One pass from the stored watermark, page after page; returns how many runs were mirrored."""
    window = mirror.open_sync_window()
    if not window.flow_ids:
        return 0
    offset, runs, latest = 0, 0, None
    while True:
        page = mirror.sync_page(window, offset, limit=mirror.PAGE_LIMIT, export=export_logs)
        runs += page.read
        if page.latest is not None and (latest is None or page.latest > latest):
            latest = page.latest
        if page.read < mirror.PAGE_LIMIT:
            break
        offset += mirror.PAGE_LIMIT
    mirror.close_sync_window(window, latest)
    return runs


class Reconciler:
    """`reconcile_once` every `interval_seconds` in a daemon thread until `stop()`; a failed pass is
    logged and retried at the next tick (the database or Prefect may be down for a while)."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hopflow-reconciler", daemon=True)

    def start(self) -> Reconciler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                runs = reconcile_once()
                self.passes += 1
                logger.debug("reconciler pass %d: %d runs", self.passes, runs)
            except Exception:
                logger.warning("run-log reconciler pass failed; retrying in %s s", self.interval_seconds,
                               exc_info=True)  # fmt: skip
            self._stop.wait(self.interval_seconds)
