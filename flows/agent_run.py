"""agent_run_flow(configuration_id, trigger_type, payload): the flow behind every agent deployment.

It snapshots the run (inputs redacted, directive, window since the last successful run), builds a
mission from the playbook, runs mission_flow as a subflow, then records the outcome on the
configuration. Only orchestration here: every read and write happens in tasks.
"""

from __future__ import annotations

from typing import Any

from hopflow.flows.mirror import mirror_hooks
from hopflow.flows.mission import run_mission
from hopflow.models.enums import LastRunStatus, MissionStatus
from hopflow.tasks import agents
from hopflow.tasks.agents import AgentMission, AgentRunContext, AgentRunOutcome
from hopflow.tasks.mission_summaries import publish_mission_summary
from hopflow.tasks.missions import read_mission_result
from prefect import flow, tags, task
from prefect.runtime import flow_run as runtime_flow_run


def _run_name() -> str:
    params = runtime_flow_run.parameters
    configuration_id = params.get("configuration_id", "")
    trigger = params.get("trigger_type", "manual")
    try:
        name = agents.read_agent(configuration_id).configuration.name
    except LookupError:  # an unknown configuration: snapshot-agent-run fails the run with the error
        name = configuration_id
    return f"{name}/{trigger}"  # under the flow agent-run: "agent-run > shop-a/schedule"


@task(name="snapshot-agent-run", task_run_name="snapshot-agent-run")
def snapshot_agent_run(
    configuration_id: str,
    trigger_type: str,
    payload: Any,
    playbook: str | None,
    directive_text: str | None = None,
) -> AgentRunContext:
    return agents.snapshot_agent_run(
        configuration_id, str(runtime_flow_run.id), trigger_type, payload, playbook, directive_text
    )


@task(name="create-agent-mission", task_run_name="create-agent-mission")
def create_agent_mission(context: AgentRunContext) -> AgentMission:
    return agents.create_agent_mission(context)


@task(name="finish-agent-run", task_run_name="finish-agent-run")
def finish_agent_run(
    context: AgentRunContext,
    mission: AgentMission | None,
    status: LastRunStatus | None = None,
    error: str | None = None,
) -> AgentRunOutcome:
    """Record the outcome. The mission's status and outputs are read here, by id: a subflow's return
    value passed into a task makes Prefect's UI unable to list the run's task runs."""
    outputs: dict[str, str] = {}
    if mission is not None and mission.mission_id is not None:
        result = read_mission_result(mission.mission_id)
        outputs = result.outputs
        if status is None:
            completed = result.status == MissionStatus.COMPLETED
            status = LastRunStatus.SUCCESS if completed else LastRunStatus.ERROR
        publish_mission_summary(mission.mission_id, runtime_flow_run.id)
    return agents.finish_agent_run(
        context, mission, status or LastRunStatus.SUCCESS, outputs=outputs, error=error
    )


def _on_cancellation(flow: Any, flow_run: Any, state: Any) -> None:
    configuration_id = (flow_run.parameters or {}).get("configuration_id")
    if configuration_id:
        agents.record_cancelled_run(configuration_id, str(flow_run.id))


@flow(
    name="agent-run",
    flow_run_name=_run_name,
    log_prints=True,
    **mirror_hooks(on_cancellation=[_on_cancellation]),
)
def agent_run_flow(
    configuration_id: str,
    trigger_type: str = "manual",
    payload: dict[str, Any] | str | None = None,
    playbook: str | None = None,
    directive_text: str | None = None,
) -> AgentRunOutcome:
    """Run one agent configuration once: its playbook as a mission, started by `trigger_type`; with
    `directive_text`, under that one-off directive instead of the stored one."""
    context = snapshot_agent_run(configuration_id, trigger_type, payload, playbook, directive_text)
    mission = create_agent_mission(context)
    if mission.mission_id is None:  # every step's condition was false: nothing to run
        return finish_agent_run(context, mission, LastRunStatus.SUCCESS)
    try:
        # mission_flow as a subflow, carrying this run's tags (agent:..., deployment tags)
        with tags(*runtime_flow_run.tags):
            run_mission(mission.mission_id)
    except Exception as exc:
        finish_agent_run(context, mission, LastRunStatus.ERROR, error=f"{type(exc).__name__}: {exc}")
        raise
    return finish_agent_run(context, mission)
