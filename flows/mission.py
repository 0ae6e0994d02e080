"""mission_flow(mission_id): the mission status machine of seed 004 as a Prefect flow, hop after hop.

Only orchestration here: every read and write happens in tasks. Re-running it on a failed or
crashed mission resumes from the first unfinished step (hopflow's database is the truth).
"""

from __future__ import annotations

from typing import Any

from hopflow.flows.heap import freeze_imports
from hopflow.flows.hop_tasks import run_hop
from hopflow.flows.mirror import mirror_hooks
from hopflow.tasks import missions
from hopflow.tasks.knowledge.reflections import reflect_after_mission
from hopflow.tasks.leases import LeaseKeeper
from hopflow.tasks.mission_summaries import publish_mission_summary
from hopflow.tasks.missions import MissionResult, MissionStart, NextHop
from prefect import flow, get_client, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run as runtime_flow_run
from prefect.states import Failed, State


def _run_name() -> str:
    # The UI shows "<flow> > <run>": the flow says "mission", the run names which one.
    mission_id = runtime_flow_run.parameters.get("mission_id", "")
    try:
        return missions.read_mission_name(mission_id)
    except LookupError:  # an unknown mission: start-mission fails the run with the error
        return str(mission_id)


@task(name="start-mission", task_run_name="start-mission")
def start_mission(mission_id: str) -> MissionStart:
    start = missions.start_mission(mission_id, runtime_flow_run.id)
    tag_flow_run(mission_id, start.name)
    return start


def tag_flow_run(mission_id: str, name: str) -> None:
    """Tags on the flow run only: a tagged *task* run costs a concurrency-slot API call each."""
    flow_run_id = runtime_flow_run.id
    if flow_run_id is None:
        return
    run_tags = sorted({*runtime_flow_run.tags, "hopflow", f"mission:{mission_id}", f"mission-name:{name}"})
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run_id=flow_run_id, tags=run_tags)


@task(name="prepare-next-hop", task_run_name="prepare-next-hop")
def prepare_next_hop(mission_id: str, owner: str | None = None) -> NextHop | None:
    return missions.prepare_next_hop(mission_id, runtime_flow_run.id, owner)


@task(name="complete-mission", task_run_name="complete-mission")
def complete_mission(mission_id: str, owner: str | None = None) -> MissionResult:
    result = missions.complete_mission(mission_id, owner)
    publish_asset_table(mission_id)
    reflect_after_mission(mission_id)
    return result


@task(name="fail-mission", task_run_name="fail-mission")
def fail_mission(mission_id: str, error: str, owner: str | None = None) -> State:
    if missions.fail_mission(mission_id, error, owner):
        publish_asset_table(mission_id)
        reflect_after_mission(mission_id)
    # Red in the run graph, like the mission it records; the flow re-raises the step's own error.
    return Failed(message=f"mission failed: {error}"[:2000])


def publish_asset_table(mission_id: str) -> None:
    # The per-asset artifacts were posted in the background; they are all in before the table.
    key = publish_mission_summary(mission_id, runtime_flow_run.id)
    create_table_artifact(
        missions.mission_asset_rows(mission_id),
        key=key.removesuffix("-summary") + "-assets",
        description=f"assets of mission {missions.read_mission_name(mission_id)}, "
        f"flow run {runtime_flow_run.id}",
    )


def _on_cancellation(flow: Any, flow_run: Any, state: Any) -> None:
    mission_id = flow_run.parameters.get("mission_id")
    if mission_id:
        missions.cancel_mission(mission_id, reason=f"flow run {flow_run.id} cancelled")


@flow(
    name="mission",
    flow_run_name=_run_name,
    log_prints=True,
    **mirror_hooks(on_cancellation=[_on_cancellation]),
)
def mission_flow(mission_id: str) -> MissionResult:
    """Run (or resume) a stored mission: build the next hop, execute it, until a final hop is done.

    One runner at a time: if another live flow run holds the mission's lease, this one returns at
    once without touching it, its result naming the holder (`held_by`).
    """
    freeze_imports()
    # The keeper runs from before the lease is taken: start-mission takes it inside its task, and a
    # slow Prefect API finishing that task must not let it expire before anything renews it.
    with LeaseKeeper(mission_id, runtime_flow_run.id) as keeper:
        start = start_mission(mission_id)
        if start.already_finished:
            return _result(mission_id).model_copy(update={"already_finished": True})
        if start.held_by is not None:
            holder = start.held_by
            print(f"mission {start.name} ({mission_id}) is being run by flow run {holder}; not running it")
            return _result(mission_id).model_copy(update={"held_by": holder})
        keeper.held()
        try:
            while True:
                hop = prepare_next_hop(mission_id, start.owner)
                if hop is None:
                    break
                outcome = run_hop.with_options(task_run_name=hop.run_name)(hop.hop_id)
                if outcome.is_final:
                    break
            return complete_mission(mission_id, start.owner)
        except Exception as exc:
            fail_mission(mission_id, f"{type(exc).__name__}: {exc}", start.owner, return_state=True)
            raise


def _result(mission_id: str) -> MissionResult:
    return missions.read_mission_result(mission_id)


def run_mission(mission_id: str) -> MissionResult:
    """Run a stored mission in this process (its flow run tags itself with the mission's id and name)."""
    return mission_flow(mission_id)
