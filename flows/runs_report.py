"""The runs-report flow: the run report (runs, success rate, p50/p95 duration, tokens by group) as a
Prefect table artifact of a flow run."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from prefect import flow, task


# --- reports ----------------------------------------------------------------------------------------------
@task(name="publish-run-report")
def publish_run_report(since: datetime | None, by: str) -> str:
    # Imported here: pandas costs every served run ~0.4 s of start-up, and only reports need it.
    from hopflow.tasks import reports as run_reports

    report = run_reports.read_run_report(since=since, by=by)
    return str(run_reports.publish_run_report(report, by=by, since=since))


@flow(name="runs-report")
def runs_report(since: datetime | None = None, by: Literal["agent", "model", "day"] = "agent") -> str:
    """The run report (runs, success rate, p50/p95 duration, tokens by group) as a table artifact;
    returns the artifact id."""
    return publish_run_report(since, by)
