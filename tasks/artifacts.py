"""Prefect artifacts posted by a background thread, so a step never waits on the Prefect API; and what
an asset's artifact says (key `<mission or configuration>-<asset>`, stable across runs).

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

from hopflow.models.access.step_runs import OutputAsset
from hopflow.models.db import session_scope
from hopflow.models.enums import AssetRole
from hopflow.models.orm import Asset, Mission
from hopflow.models.settings import Settings
from hopflow.tasks.artifact_views import artifact_key, asset_markdown, key_prefix
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
        now: bool = False,
    ) -> None:
        """Queue an artifact for the publisher's thread, or with `now` post it from this thread (a
        failure is logged, never raised: an artifact is a view for the UI, the rows are the record)."""
        artifact = artifact_create(key, type, data, description, flow_run_id, task_run_id)
        if now:
            self._post_now(artifact)
            return
        self._ensure_thread()
        self._queue.put((contextvars.copy_context(), artifact))

    def _post_now(self, artifact: ArtifactCreate) -> None:
        try:
            with get_client(sync_client=True) as client:
                client.create_artifact(artifact=artifact)
        except Exception:
            self.failures += 1
            logger.warning("could not post artifact %s", artifact.key, exc_info=True)

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


def artifact_create(
    key: str,
    type: str,
    data: Any,
    description: str | None,
    flow_run_id: str | None,
    task_run_id: str | None,
) -> ArtifactCreate:
    return ArtifactCreate(
        key=key,
        type=type,
        data=data,
        description=description,
        flow_run_id=UUID(flow_run_id) if flow_run_id else None,
        task_run_id=UUID(task_run_id) if task_run_id else None,
    )


publisher = ArtifactPublisher()


# mission id -> (artifact key prefix, mission name); both are fixed once the mission exists.
_labels: dict[str, tuple[str, str]] = {}


def mission_label(mission_id: str) -> tuple[str, str]:
    """(key prefix, mission name) of a mission, read once per process."""
    label = _labels.get(mission_id)
    if label is None:
        with session_scope() as session:
            mission = session.get(Mission, mission_id)
            if mission is None:
                raise LookupError(f"no mission with id {mission_id!r}")
            label = (key_prefix(mission.name, mission.mission_metadata), mission.name)
        if len(_labels) > 4096:
            _labels.clear()
        _labels[mission_id] = label
    return label


def wants_artifact(asset: Asset | OutputAsset, settings: Settings) -> bool:
    """Whether a finished asset gets its own Markdown artifact (HOPFLOW_ASSET_ARTIFACTS): every asset,
    the mission's outputs only (the default), or none; the mission's table artifact lists them all."""
    if settings.asset_artifacts == "all":
        return True
    return settings.asset_artifacts == "outputs" and asset.role == AssetRole.OUTPUT


def asset_artifact(
    asset: Asset | OutputAsset, value: Any, label: tuple[str, str], flow_run_id: str | None
) -> dict[str, Any]:
    """key, data and description of an asset's Markdown artifact (the value as it should render)."""
    prefix, mission_name = label
    body = asset_markdown(
        name=asset.name,
        asset_type=asset.type,
        role=asset.role.value,
        scope=asset.scope_type.value,
        status=asset.status.value,
        size_bytes=asset.size_bytes,
        offloaded=bool(asset.content_ref),
        summary=asset.content_summary or "",
        value=value,
        mission=mission_name,
        flow_run_id=flow_run_id,
    )
    run = f", flow run {flow_run_id}" if flow_run_id else ""
    return {
        "key": artifact_key(prefix, asset.name),
        "data": body,
        "description": f"{asset.name} of mission {mission_name}{run}",
    }
