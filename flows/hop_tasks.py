"""The Prefect tasks of a mission's hops: the hop task runs its tool steps in sequence_order, each a
nested tool-step task run with the step's own retries, retry delay and timeout."""

from __future__ import annotations

import functools
from typing import Any

from hopflow.tasks.hops import HopOutcome, StepPlan, execute_hop
from hopflow.tasks.steps import StepOutcome, execute_tool_step
from prefect import task
from prefect.cache_policies import NO_CACHE


def _step_run_name(parameters: dict[str, Any]) -> str:
    return str(parameters.get("run_name") or "tool-step")


# Prefect calls a task_run_name callable with the run's parameters when it takes `parameters`;
# its protocol type also asks for a classmethod a plain function cannot have.
@task(name="tool-step", task_run_name=_step_run_name, cache_policy=NO_CACHE, persist_result=False)  # type: ignore[arg-type]
def run_tool_step(step_id: str, run_name: str | None = None) -> StepOutcome:
    """One ToolStep; `run_name` names the task run (step-<hop>.<step>:<tool>), so one task object
    serves every step."""
    return execute_tool_step(step_id, run_name)


@functools.lru_cache(maxsize=64)
def step_task_for(retries: int, retry_delay_seconds: float, timeout_seconds: float | None) -> Any:
    """The step task for one retry/timeout policy, built once: building a Prefect Task reads its
    function's source (inspect.getsource), which cost milliseconds per step when done for each."""
    return run_tool_step.with_options(
        retries=retries, retry_delay_seconds=retry_delay_seconds, timeout_seconds=timeout_seconds
    )


def _run_step(plan: StepPlan) -> StepOutcome:
    step_task = step_task_for(plan.retries, plan.retry_delay_seconds, plan.timeout_seconds)
    return step_task(plan.step_id, run_name=plan.run_name)


@task(name="hop")
def run_hop(hop_id: str) -> HopOutcome:
    return execute_hop(hop_id, _run_step)
