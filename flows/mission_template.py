"""mission_template_flow(template, inputs): the flow behind every `mission-run/<name>` deployment.

Each run checks its inputs (the UI's Run form, the API or a schedule), creates a fresh mission from the
stored template and runs it as mission_flow (a subflow carrying this run's tags). Only orchestration here.
"""

from __future__ import annotations

from typing import Any

from hopflow.flows.mirror import mirror_hooks
from hopflow.flows.mission import run_mission
from hopflow.tasks import templates
from prefect import flow, tags, task
from prefect.runtime import flow_run as runtime_flow_run


def _run_name() -> str:
    return str(runtime_flow_run.parameters.get("template", "?"))  # "mission-run > nightly-sales"


@task(name="create-template-mission", task_run_name="create-template-mission")
def create_template_mission(template: str, inputs: dict[str, Any] | None) -> str:
    flow_run_id = runtime_flow_run.id
    return templates.create_template_mission(template, inputs, str(flow_run_id) if flow_run_id else None)


# Shared with the per-template flows prefect.yaml names (flows/template_flows.py).
FLOW_OPTIONS: dict[str, Any] = {
    "name": "mission-run",
    "flow_run_name": _run_name,
    "log_prints": True,
    **mirror_hooks(),
}


@flow(**FLOW_OPTIONS)
def mission_template_flow(template: str, inputs: dict[str, Any] | None = None) -> str:
    """Run the mission template `template` once with `inputs` (the spec's own values where left out);
    returns the new mission's id."""
    mission_id = create_template_mission(template, inputs)
    with tags(*runtime_flow_run.tags, f"template:{template}"):
        run_mission(mission_id)
    return mission_id
