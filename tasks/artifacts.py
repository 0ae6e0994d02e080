"""Prefect artifacts posted by a background thread, so a step never waits on the Prefect API.

Each submission carries the caller's context (Prefect settings live in context variables, and a
new thread would otherwise talk to a different API); `flush()` waits until all are posted, and
mission_flow calls it before it finishes, so the artifacts are there when the flow returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import ArtifactCreate
from prefect.settings import PREFECT_API_URL

logger = logging.getLogger("hopflow.artifacts")
MAX_IN_FLIGHT = 8


class ArtifactPublisher:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[contextvars.Context, ArtifactCreate]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def submit(
        self,
        *,
        key: str,
        type: str,
        data: Any,
        description: str | None = None,
        flow_run_id: str | None = None,
        task_run_id: str | None = None,
    ) -> None:
        artifact = ArtifactCreate(
            key=key,
            type=type,
            data=data,
            description=description,
            flow_run_id=UUID(flow_run_id) if flow_run_id else None,
            task_run_id=UUID(task_run_id) if task_run_id else None,
        )
        self._ensure_thread()
        self._queue.put((contextvars.copy_context(), artifact))

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted artifact is posted (or failed); False on time-out."""
        with self._queue.all_tasks_done:
            return self._queue.all_tasks_done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hopflow-artifacts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # drain what is waiting: one client per batch, not per artifact
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for ctx, artifacts in _by_api(batch):
                    ctx.run(self._post_all, artifacts)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _post_all(self, artifacts: list[ArtifactCreate]) -> None:
        try:
            asyncio.run(self._post_concurrently(artifacts))
        except Exception:
            self.failures += len(artifacts)
            logger.warning(
                "could not reach the Prefect API to post %d artifacts", len(artifacts), exc_info=True
            )

    async def _post_concurrently(self, artifacts: list[ArtifactCreate]) -> None:
        # Posted one by one they queue behind each other (~20 ms each); a few in flight keep up with steps.
        limit = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def post(client: PrefectClient, artifact: ArtifactCreate) -> None:
            async with limit:
                try:
                    await client.create_artifact(artifact=artifact)
                except Exception:
                    # An artifact is a view for the UI; the asset row is the record: never fail a run.
                    self.failures += 1
                    logger.warning("could not post artifact %s", artifact.key, exc_info=True)

        async with get_client() as client:
            await asyncio.gather(*(post(client, a) for a in artifacts))


def _by_api(
    batch: list[tuple[contextvars.Context, ArtifactCreate]],
) -> list[tuple[contextvars.Context, list[ArtifactCreate]]]:
    """Group artifacts by the Prefect API their submitter talked to, keeping order."""
    groups: dict[str, tuple[contextvars.Context, list[ArtifactCreate]]] = {}
    for ctx, artifact in batch:
        api = str(ctx.run(PREFECT_API_URL.value))
        groups.setdefault(api, (ctx, []))[1].append(artifact)
    return list(groups.values())


publisher = ArtifactPublisher()
