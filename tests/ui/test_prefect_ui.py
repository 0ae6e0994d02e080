"""The Prefect UI as a hopflow user sees it, in a real headless Chromium against a real Prefect server:
a mission run's page names its hops and steps, an asset's artifact page shows its summary (a table as a
table), and an agent deployment's Run form shows the blueprint's inputs. Screenshots go to tmp_path."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hopflow.deployments.build import deployment_for
from hopflow.deployments.commands.missions import store_spec
from hopflow.flows.mission import run_mission
from hopflow.models.db import session_scope
from hopflow.models.orm import Mission
from hopflow.tasks.agents import configure_agent, read_agent, register_blueprints
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from tests.prefect_api import on_api
from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = [pytest.mark.ui, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SALES = ROOT / "examples" / "missions" / "sales_report.yaml"


def page_text(browser: Any, url: str, wanted: list[str], shot: Path, timeout: float = 90.0) -> str:
    """Open `url` and wait until every wanted text shows (the UI renders client-side); screenshot it."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = browser.find_element(By.TAG_NAME, "body").text
        if all(w in text for w in wanted):
            break
        time.sleep(0.5)
    browser.save_screenshot(str(shot))
    missing = [w for w in wanted if w not in text]
    assert not missing, f"{url}: {missing} not shown (screenshot {shot}); the page says:\n{text[:3000]}"
    return text


def open_tab(browser: Any, label: str) -> None:
    """Click the run page's tab `label` (an `li.p-tab`; the page resets a `?tab=` it loads with)."""
    from selenium.webdriver.common.by import By

    xpath = f"//li[contains(@class, 'p-tab')][normalize-space(.)='{label}']"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tabs = [t for t in browser.find_elements(By.XPATH, xpath) if t.is_displayed()]
        if tabs:
            tabs[0].click()
            return
        time.sleep(0.5)
    raise AssertionError(f"no tab {label!r} on {browser.current_url}")


def wait_text(
    browser: Any, wanted: list[str], shot: Path, timeout: float = 90.0, tab: str | None = None
) -> str:
    """Wait until every wanted text shows; with `tab`, click that tab again every 10 s meanwhile (a
    click that lands while the page re-renders does not switch it)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    clicked = time.monotonic()
    text = ""
    while time.monotonic() < deadline:
        text = browser.find_element(By.TAG_NAME, "body").text
        if all(w in text for w in wanted):
            break
        if tab is not None and time.monotonic() - clicked > 10:
            open_tab(browser, tab)
            clicked = time.monotonic()
        time.sleep(0.5)
    browser.save_screenshot(str(shot))
    missing = [w for w in wanted if w not in text]
    assert not missing, f"{missing} not shown (screenshot {shot}); the page says:\n{text[:3000]}"
    return text


def test_mission_run_artifact_and_agent_run_form_in_the_prefect_ui(
    hopflow_env: str,
    prefect_ui: str,
    browser: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = "pg" if hopflow_env.startswith("postgresql") else "lite"
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with on_api(f"{prefect_ui}/api"):
        mission_id, _ = store_spec(SALES)
        run_mission(mission_id)
        with session_scope() as session:
            mission = session.get(Mission, mission_id)
            assert mission is not None and mission.flow_run_id is not None
            flow_run_id = mission.flow_run_id
        register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
        configured = configure_agent("agent_900", f"ui-shop-{backend}", values=VALUES)
        deployment_id = deployment_for(read_agent(configured.id)).apply()
        with get_client(sync_client=True) as client:
            artifacts = {
                a.key: a
                for a in client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
                )
            }
    table = artifacts["sales-report-revenue-by-region"]
    assert "| region |" in str(table.data)  # a Markdown table, not JSON in a code block

    # 1. the mission's run page: its hops and steps by name (the graph is a canvas: the Task Runs tab
    # lists them as text), and the mission summary on the run's own Artifacts tab
    run_url = f"{prefect_ui}/runs/flow-run/{flow_run_id}"
    # the header reads "mission > sales-report": the run's name no longer repeats its flow's
    shown = page_text(browser, run_url, ["sales-report", "tool table.eval"], shots / "mission-run.png")
    assert "mission/sales-report" not in shown
    open_tab(browser, "Task Runs")
    wait_text(
        browser,
        ["hop-1:prepare", "hop-3:report", "step-1.1:table.eval", "step-3.3:report.build"],
        shots / "mission-task-runs.png",
        tab="Task Runs",
    )
    open_tab(browser, "Artifacts")
    wait_text(browser, ["sales-report-summary"], shots / "mission-artifacts.png", tab="Artifacts")

    # 2. an asset's artifact page: its summary and its table, rendered
    regions = [str(r) for r in _regions()]
    page_text(
        browser,
        f"{prefect_ui}/artifacts/artifact/{table.id}",
        ["revenue_by_region", "Summary:", *regions],
        shots / "asset-artifact.png",
    )

    # 3. the agent deployment's Run form: the blueprint's inputs by name
    page_text(
        browser,
        f"{prefect_ui}/deployments/deployment/{deployment_id}/run",
        ["shop", "threshold", "loud", "order", "trigger_type"],
        shots / "agent-run-form.png",
    )
    assert len(list(shots.glob("*.png"))) == 5


def _regions() -> list[str]:
    import pandas as pd

    return sorted(pd.read_csv(ROOT / "examples" / "data" / "sales.csv")["region"].unique())[:2]
