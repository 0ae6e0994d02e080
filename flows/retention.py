"""prune_flow: retention as a Prefect flow; `hopflow serve` runs it daily with HOPFLOW_RETENTION_DAYS set."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from hopflow.tasks.knowledge import retention
from prefect import flow, task
from prefect.deployments.runner import RunnerDeployment


@task(name="prune-batches")
def prune_older_than(days: int) -> dict[str, int]:
    return retention.prune(timedelta(days=days)).rows


@flow(name="prune")
def prune_flow(older_than_days: int) -> dict[str, int]:
    """Delete what finished missions and runs left that is older than `older_than_days` days."""
    return prune_older_than(older_than_days)


def retention_deployment(days: int) -> RunnerDeployment:
    """prune_flow once a day, one run at a time, by module path (a worker finds it wherever hopflow is)."""
    from prefect.types.entrypoint import EntrypointType

    # to_deployment is sync-or-async; called from sync code it returns the deployment.
    deployment = prune_flow.to_deployment(
        name="retention",
        interval=timedelta(days=1),
        parameters={"older_than_days": days},
        concurrency_limit=1,
        tags=["hopflow"],
        description=f"Prune run logs, llm_calls, events and offloaded data older than {days} days.",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return cast(RunnerDeployment, deployment)
