"""A Prefect server with its UI, for the browser tests: on its own PostgreSQL database when one is
reachable (else SQLite in its home), on a free port, with PREFECT_UI_API_URL pointing the UI at it."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, postgres_problem
from tests.deployments.servers import free_port, start, stop, wait_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def prefect_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL (the UI at /, the API at /api)."""
    home = tmp_path_factory.mktemp("prefect-ui-home")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="true",
        # The UI does not follow --port: without this it shows "Can't connect to Server API".
        PREFECT_UI_API_URL=f"{base}/api",
    )
    database = None
    admin = None
    if postgres_problem() is None:
        database = f"prefect_ui_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{database}"'))
        url = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=database, query={})
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url.render_as_string(hide_password=False)
    log = home / "server.log"
    process = start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env, log, home,
    )  # fmt: skip
    try:
        wait_http(f"{base}/api/health", "prefect server", process, log)
        yield base
    finally:
        stop(process)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop database if exists "{database}" with (force)'))
            admin.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium driven by Debian's chromedriver (no Selenium Manager download)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("the UI tests need Debian's chromium and chromium-driver (apt-get install; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1200"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
