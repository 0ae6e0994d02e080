"""Fixtures for tests against a real Docker Engine: start `dockerd` when no socket answers, build a
busybox image locally (no registry is reachable), run containers with --network none.

Import the fixtures into a test module: `from tests.docker_engine import docker_client, busybox_container`.
With CI=true (or HOPFLOW_REQUIRE_DOCKER=1) an engine that cannot start fails the tests, else they skip.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_DOCKER = os.environ.get("CI", "").lower() == "true" or os.environ.get("HOPFLOW_REQUIRE_DOCKER") == "1"
IMAGE = "hopflow-test-busybox:1"
BUSYBOX = Path("/bin/busybox")
START_DEADLINE_SECONDS = 90


def _unavailable(why: str) -> None:
    if REQUIRE_DOCKER:
        pytest.fail(f"{why} (CI=true requires the Docker Engine tests to run)")
    pytest.skip(why)


def _ping() -> Any | None:
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception:
        return None


def _start_dockerd(log_dir: Path) -> subprocess.Popen[bytes] | None:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        return None
    log = open(log_dir / "dockerd.log", "wb")  # noqa: SIM115 - handed to the process
    return subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _busybox_rootfs() -> bytes:
    """A root filesystem with only /bin/busybox (Debian's busybox-static) and /bin/sh -> busybox."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in ("sh", "sleep", "echo"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


@pytest.fixture(scope="session")
def docker_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of a live engine (started here if none answers), with the busybox test image built."""
    client = _ping()
    process = None
    if client is None:
        process = _start_dockerd(tmp_path_factory.mktemp("dockerd"))
        if process is None:
            _unavailable("no Docker Engine answers and dockerd is not installed (apt-get install docker.io)")
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while client is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            client = _ping()
        if client is None:
            _unavailable(f"dockerd did not answer within {START_DEADLINE_SECONDS} s")
    if not BUSYBOX.exists():
        _unavailable("no /bin/busybox to build the test image (apt-get install busybox-static)")
    try:
        client.images.get(IMAGE)
    except Exception:
        repository, tag = IMAGE.split(":")
        client.api.import_image_from_data(_busybox_rootfs(), repository=repository, tag=tag)
    yield client
    client.close()
    if process is not None:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture
def run_container(docker_client: Any) -> Iterator[Any]:
    """Start busybox containers (no network) labelled for this test; removed afterwards."""
    label = f"hopflow-test-{uuid.uuid4().hex[:8]}"
    started: list[Any] = []

    def start(script: str = "echo hello from busybox; while true; do sleep 1; done", name: str = "") -> Any:
        container = docker_client.containers.run(
            IMAGE,
            ["/bin/busybox", "sh", "-c", script],
            name=f"{label}-{name or len(started)}",
            labels={"hopflow-test": label},
            network_mode="none",
            detach=True,
        )
        started.append(container)
        return container

    yield start
    for container in started:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def wait_for(predicate: Any, what: str, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
