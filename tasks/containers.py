"""The Docker Engine, through the `docker` SDK over DOCKER_HOST or the default socket: list, inspect,
read logs, restart, and the inventory snapshot written into container_inventory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hopflow.models.access.containers import ContainerRecord, record_inventory
from hopflow.models.db import session_scope
from hopflow.models.orm import utcnow

# Bounds on what the engine hands back: a log tail is outside data.
MAX_TAIL_LINES = 1000
MAX_LOG_BYTES = 64 * 1024
ENGINE_TIMEOUT_SECONDS = 30


class EngineError(RuntimeError):
    """The Docker Engine cannot be reached, or refused a call; the message says which and where."""


class ContainerNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no container {ref!r} on the Docker Engine")


def engine() -> Any:
    """A client of the engine DOCKER_HOST names (default: the local socket); raises EngineError."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)
        client.ping()
    except DockerException as exc:
        raise EngineError(f"Docker Engine not reachable (DOCKER_HOST or the default socket): {exc}") from None
    return client


def _call(fn: Any, *args: Any, ref: str | None = None, **kwargs: Any) -> Any:
    from docker.errors import APIError, NotFound

    try:
        return fn(*args, **kwargs)
    except NotFound:
        raise ContainerNotFound(ref or "?") from None
    except APIError as exc:
        raise EngineError(f"Docker Engine refused the call: {exc.explanation or exc}") from None


def _record(raw: dict[str, Any]) -> ContainerRecord:
    names = raw.get("Names") or []
    created = raw.get("Created")
    ports: dict[str, Any] = {}
    for p in raw.get("Ports") or []:
        key = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        if p.get("PublicPort"):
            ports.setdefault(key, []).append(f"{p.get('IP', '')}:{p['PublicPort']}")
        else:
            ports.setdefault(key, [])
    return ContainerRecord(
        container_id=raw["Id"],
        name=names[0].lstrip("/") if names else None,
        image=raw.get("Image"),
        state=raw.get("State"),
        labels=raw.get("Labels") or {},
        created=datetime.fromtimestamp(created, UTC) if isinstance(created, int | float) else None,
        ports=ports,
    )


def list_containers(client: Any | None = None) -> list[ContainerRecord]:
    """Every container the engine reports, running or not."""
    client = client or engine()
    return [_record(raw) for raw in _call(client.api.containers, all=True)]


def resolve_container(ref: str, client: Any | None = None) -> tuple[str, str]:
    """(full id, name) of the container an id, id prefix or name refers to."""
    client = client or engine()
    info = _call(client.api.inspect_container, ref, ref=ref)
    return info["Id"], (info.get("Name") or "").lstrip("/")


def container_logs(container_id: str, tail: int, client: Any | None = None) -> tuple[str, bool]:
    """The last `tail` lines (at most MAX_TAIL_LINES, MAX_LOG_BYTES); returns (text, truncated)."""
    client = client or engine()
    tail = max(1, min(tail, MAX_TAIL_LINES))
    raw: bytes = _call(
        client.api.logs, container_id, ref=container_id, stdout=True, stderr=True, tail=tail, stream=False
    )
    truncated = len(raw) > MAX_LOG_BYTES
    if truncated:  # keep the newest bytes
        raw = raw[-MAX_LOG_BYTES:]
    return raw.decode("utf-8", errors="replace"), truncated


def restart_container(container_id: str, timeout: int = 10, client: Any | None = None) -> str:
    """Restart the container; returns its state afterwards."""
    client = client or engine()
    _call(client.api.restart, container_id, ref=container_id, timeout=timeout)
    return str(_call(client.api.inspect_container, container_id, ref=container_id)["State"]["Status"])


def take_inventory(client: Any | None = None) -> tuple[datetime, list[ContainerRecord]]:
    """Ask the engine (no transaction open), then store the snapshot in one unit of work."""
    records = list_containers(client)
    snapshot_at = utcnow()
    with session_scope() as session:
        record_inventory(session, records, snapshot_at)
    return snapshot_at, records
