"""Missions as rows: store a checked spec (mission, hops, tool steps, assets with mappings by id), and
the units of work mission_flow runs between hops: start or resume, build the next hop, finish, fail."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

from hopflow.models.access.assets import create_asset, read_mission_state
from hopflow.models.access.leases import acquire_lease, release_lease, require_lease
from hopflow.models.access.missions import (
    count_steps_and_tokens,
    read_hops,
    read_mission_assets,
    read_steps_in_flight,
)
from hopflow.models.access.status import advance_to, record_event
from hopflow.models.access.step_runs import move_steps
from hopflow.models.access.tags import set_tags
from hopflow.models.db import session_scope
from hopflow.models.documents import load_json, load_yaml
from hopflow.models.enums import (
    AssetRole,
    AssetScopeType,
    AssetStatus,
    HopStatus,
    MissionStatus,
    ToolExecutionStatus,
)
from hopflow.models.orm import Asset, Hop, Mission, ToolStep, utcnow
from hopflow.models.orm.base import new_id
from hopflow.models.schemas.specs import AssetRef, HopSpec, InputAssetSpec, MissionSpec
from hopflow.models.settings import Settings, get_settings
from hopflow.tasks.assets import asset_table_rows, store_value
from hopflow.tasks.knowledge.thoughts import record_planner_thought
from hopflow.tasks.planning import check_planned_hop, plan_request, run_planner
from hopflow.tasks.specs import SpecError, check_mission_spec
from hopflow.tasks.tools import get_tool
from hopflow.tasks.tools.registry import asset_type_of
from pydantic import BaseModel
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.missions")


class MissionNotFound(LookupError):
    def __init__(self, mission_id: str) -> None:
        super().__init__(f"no mission with id {mission_id!r}")


class MissionStart(BaseModel):
    mission_id: str
    name: str
    status: MissionStatus
    resumed: bool
    already_finished: bool
    owner: str = ""  # the runner's lease id (its flow run id)
    held_by: str | None = None  # another live runner holds the mission: this one must not run it


class NextHop(BaseModel):
    hop_id: str
    sequence_order: int
    name: str
    run_name: str
    is_final: bool


class MissionResult(BaseModel):
    mission_id: str
    name: str
    status: MissionStatus
    outputs: dict[str, str]
    hop_count: int
    step_count: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Why a runner did nothing: another live runner (this flow run) holds the mission, or it had
    # already finished before this runner started.
    held_by: str | None = None
    already_finished: bool = False


# --- storing a spec ------------------------------------------------------------------------------
def read_input_value(item: InputAssetSpec, base_dir: Path | None) -> Any:
    import pandas as pd  # here, not at import: a served run starts sooner without it

    if item.file is None:
        if item.type == "table" and isinstance(item.content, list):
            return pd.DataFrame(item.content)
        return item.content
    path = Path(item.file) if base_dir is None else base_dir / item.file
    suffix = path.suffix.lower()
    if item.type == "table":
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".json":
            return pd.read_json(path)
        return pd.read_csv(path)
    if item.type == "bytes":
        return path.read_bytes()
    if item.type == "json":
        text = path.read_text(encoding="utf-8")
        return load_json(text, str(path)) if suffix == ".json" else load_yaml(text, str(path))
    return path.read_text(encoding="utf-8")


def create_mission_from_spec(
    session: Session,
    spec: MissionSpec,
    *,
    user_id: int,
    base_dir: Path | None = None,
    settings: Settings | None = None,
    agent_configuration_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Mission:
    """Check the spec, then write the mission, its inputs, hops, steps and pending assets.

    Raises SpecError before anything is added to the session when the spec has problems.
    """
    issues = check_mission_spec(spec, base_dir=base_dir)
    if issues:
        raise SpecError(issues)
    settings = settings or get_settings()
    input_values = {item.name: read_input_value(item, base_dir) for item in spec.inputs}
    mission_metadata: dict[str, Any] = {**spec.metadata, **(metadata or {})}
    if spec.planner is not None:
        mission_metadata["planner"] = spec.planner.model_dump(mode="json")
    mission = Mission(
        user_id=user_id,
        name=spec.name,
        description=spec.description,
        goal=spec.goal,
        success_criteria=spec.success_criteria,
        mission_metadata=mission_metadata,
        agent_configuration_id=agent_configuration_id,
    )
    session.add(mission)
    session.flush()
    set_tags(session, "missions", mission.id, spec.tags)
    for item in spec.inputs:
        asset = create_asset(
            session,
            user_id=user_id,
            scope_type=AssetScopeType.MISSION,
            scope_id=mission.id,
            name=item.name,
            type=item.type,
            role=AssetRole.INPUT,
            status=AssetStatus.READY,
            description=item.description,
        )
        store_value(asset, input_values[item.name], settings)
    # Read once and kept up to date by add_hop: a read per hop made storing a long spec quadratic.
    mission_assets = dict(read_mission_state(session, mission.id))
    for order, hop_spec in enumerate(spec.hops, start=1):
        add_hop(
            session,
            mission,
            hop_spec,
            order,
            is_final=hop_spec.is_final or (spec.planner is None and order == len(spec.hops)),
            mission_assets=mission_assets,
        )
    record_event(
        session,
        action="mission_created",
        subject_type="missions",
        subject_id=mission.id,
        after={"name": mission.name, "hops": len(spec.hops), "inputs": len(spec.inputs)},
    )
    session.flush()
    return mission


def add_hop(
    session: Session,
    mission: Mission,
    hop_spec: HopSpec,
    order: int,
    *,
    is_final: bool,
    mission_assets: dict[str, Asset] | None = None,
) -> Hop:
    """Write one hop with its steps; mappings reference assets by id, output assets start pending.
    `mission_assets` (name -> asset), when given, is the mission's assets so far, and gains the hop's."""
    hop = Hop(
        mission_id=mission.id,
        user_id=mission.user_id,
        sequence_order=order,
        name=hop_spec.name,
        description=hop_spec.description,
        goal=hop_spec.goal,
        rationale=hop_spec.rationale,
        success_criteria=hop_spec.success_criteria,
        is_final=is_final,
    )
    session.add(hop)
    session.flush()
    if mission_assets is None:
        mission_assets = {a.name: a for a in read_mission_state(session, mission.id).values()}
    hop_assets: dict[str, Asset] = {}
    for s_order, step_spec in enumerate(hop_spec.steps, start=1):
        tool = get_tool(step_spec.tool)
        parameter_mapping: dict[str, Any] = {}
        for param, source in step_spec.parameter_mapping.items():
            if isinstance(source, AssetRef):
                pool = mission_assets if source.scope == AssetScopeType.MISSION else hop_assets
                ref = pool[source.asset]
                parameter_mapping[param] = {
                    "type": "asset",
                    "asset_id": ref.id,
                    "asset": ref.name,
                    "scope": source.scope.value,
                }
            else:
                # As JSON text: JSONB would reorder a dict literal's keys (and key order can
                # matter to a tool, e.g. the column order of an aggregation).
                parameter_mapping[param] = {"type": "literal", "json": json.dumps(source.literal)}
        step = ToolStep(
            hop_id=hop.id,
            user_id=mission.user_id,
            tool_id=tool.id,
            sequence_order=s_order,
            name=step_spec.name or tool.id,
            description=step_spec.description,
            parameter_mapping=parameter_mapping,
            resource_configs={
                "retries": tool.retries,
                "retry_delay_seconds": tool.retry_delay_seconds,
                "timeout_seconds": tool.timeout_seconds,
            },
        )
        session.add(step)
        session.flush()
        outputs = tool.output_fields()
        result_mapping: dict[str, Any] = {}
        for out_field, target in step_spec.result_mapping.items():
            scope_id = mission.id if target.scope == AssetScopeType.MISSION else hop.id
            asset = create_asset(
                session,
                user_id=mission.user_id,
                scope_type=target.scope,
                scope_id=scope_id,
                name=target.asset,
                type=asset_type_of(outputs[out_field]),
                role=target.role,
                status=AssetStatus.PENDING,
                description=target.description,
            )
            asset.produced_by_step_id = step.id
            (mission_assets if target.scope == AssetScopeType.MISSION else hop_assets)[asset.name] = asset
            result_mapping[out_field] = {
                "asset_id": asset.id,
                "asset": asset.name,
                "scope": target.scope.value,
                "role": target.role.value,
            }
        step.result_mapping = result_mapping
    return hop


def hop_run_name(hop: Hop) -> str:
    return f"hop-{hop.sequence_order}:{hop.name}"


class _Numbered(Protocol):
    @property
    def sequence_order(self) -> int: ...
    @property
    def tool_id(self) -> str: ...


def step_run_name(hop: Hop, step: _Numbered) -> str:
    """step-<hop>.<step>:<tool>, for a stored step or a read of one."""
    return f"step-{hop.sequence_order}.{step.sequence_order}:{step.tool_id}"


# --- the units of work of mission_flow -------------------------------------------------------------
def _mission(session: Session, mission_id: str) -> Mission:
    mission = session.get(Mission, mission_id)
    if mission is None:
        raise MissionNotFound(mission_id)
    return mission


def read_mission_name(mission_id: str) -> str:
    with session_scope() as session:
        return _mission(session, mission_id).name


def start_mission(mission_id: str, flow_run_id: str | None, owner: str | None = None) -> MissionStart:
    """Take the mission's lease, then start it or resume a failed or crashed one (ready_for_next_hop).

    Another live runner's lease is not broken: the result names its holder (`held_by`) and nothing
    is written. A lease taken over from a runner that died puts the step it left executing back to
    ready_to_execute, so it runs again (and only it).
    """
    owner = owner or flow_run_id or new_id()
    settings = get_settings()
    with session_scope() as session:
        holder = acquire_lease(
            session, mission_id, owner, seconds=settings.mission_lease_seconds, now=utcnow()
        )
        mission = session.get(Mission, mission_id, populate_existing=True)
        if mission is None:
            raise MissionNotFound(mission_id)
        if mission.status in (MissionStatus.COMPLETED, MissionStatus.CANCELLED):
            if holder is None:
                release_lease(session, mission_id, owner)
            return MissionStart(
                mission_id=mission.id,
                name=mission.name,
                status=mission.status,
                resumed=False,
                already_finished=True,
                owner=owner,
            )
        if holder is not None:
            return MissionStart(
                mission_id=mission.id,
                name=mission.name,
                status=mission.status,
                resumed=False,
                already_finished=False,
                owner=owner,
                held_by=holder,
            )
        resumed = mission.status != MissionStatus.PROPOSED
        _requeue_steps_in_flight(session, mission)
        advance_to(
            session, mission, MissionStatus.READY_FOR_NEXT_HOP, reason="resume" if resumed else "start"
        )
        mission.flow_run_id = flow_run_id
        mission.started_at = mission.started_at or utcnow()
        mission.error_message = None
        return MissionStart(
            mission_id=mission.id,
            name=mission.name,
            status=mission.status,
            resumed=resumed,
            already_finished=False,
            owner=owner,
        )


def _requeue_steps_in_flight(session: Session, mission: Mission) -> None:
    """Steps left executing by a runner whose lease this one took over: back to ready_to_execute."""
    for step in read_steps_in_flight(session, mission.id):
        reason = "its runner stopped mid-step (lease taken over)"
        advance_to(session, step, ToolExecutionStatus.READY_TO_EXECUTE, reason=reason)
        for target in (step.result_mapping or {}).values():
            asset = session.get(Asset, target["asset_id"])
            if asset is not None and asset.status == AssetStatus.IN_PROGRESS:
                advance_to(session, asset, AssetStatus.PENDING, reason=reason)


def hold_lease(session: Session, mission_id: str, owner: str | None) -> None:
    """Fence a unit of work of a runner: renew its lease or raise LeaseLost (no owner: no fence)."""
    if owner is not None:
        require_lease(session, mission_id, owner, seconds=get_settings().mission_lease_seconds, now=utcnow())


def prepare_next_hop(
    mission_id: str, flow_run_id: str | None = None, owner: str | None = None
) -> NextHop | None:
    """building_hop: the first unfinished hop, or a new one from the planner; None when all are done.

    A planner runs between two units of work, never inside one (it may call a model over HTTP);
    its retries apply and its LLM calls are saved as llm_calls rows of the mission.
    """
    from hopflow.tasks.steps import record_llm_calls  # imports prefect: only on a runner's path

    with session_scope() as session:
        hold_lease(session, mission_id, owner)
        mission = _mission(session, mission_id)
        advance_to(session, mission, MissionStatus.BUILDING_HOP)
        hops = read_hops(session, mission.id)
        hop = next((h for h in hops if h.status != HopStatus.COMPLETED), None)
        request = None
        if hop is None and not any(h.is_final for h in hops):
            request = plan_request(session, mission, hops)
        if request is None:
            return _ready_hop(session, mission, hop)
    output, calls, reason = run_planner(request, mission_id, flow_run_id)
    with session_scope() as session:
        hold_lease(session, mission_id, owner)
        mission = _mission(session, mission_id)
        record_llm_calls(
            session,
            calls,
            get_settings(),
            flow_run_id=flow_run_id,
            mission_id=mission.id,
            tool_step_id=None,
            agent_configuration_id=mission.agent_configuration_id,
        )
        record_planner_thought(session, mission, request.tool_id, reason)
        hops = read_hops(session, mission.id)
        if len(hops) != request.hop_count:
            raise RuntimeError(f"mission {mission.name!r}: its hops changed while the planner ran")
        hop = (
            _add_planned_hop(session, mission, hops, request.tool_id, output) if output is not None else None
        )
        return _ready_hop(session, mission, hop)


def _ready_hop(session: Session, mission: Mission, hop: Hop | None) -> NextHop | None:
    if hop is None:
        advance_to(session, mission, MissionStatus.READY_FOR_NEXT_HOP, reason="no hop left")
        return None
    if hop.status in (HopStatus.PROPOSED, HopStatus.READY_TO_RESOLVE):
        advance_to(session, hop, HopStatus.READY_TO_RESOLVE)
        _resolve_hop(session, hop)
        advance_to(session, hop, HopStatus.READY_TO_EXECUTE)
        hop.is_resolved = True
    mission.current_hop_id = hop.id
    advance_to(session, mission, MissionStatus.HOP_READY_TO_EXECUTE)
    return NextHop(
        hop_id=hop.id,
        sequence_order=hop.sequence_order,
        name=hop.name,
        run_name=hop_run_name(hop),
        is_final=hop.is_final,
    )


def _resolve_hop(session: Session, hop: Hop) -> None:
    """ready_to_resolve -> ready_to_execute: every step's configuration is known."""
    proposed = [step.id for step in hop.tool_steps if step.status == ToolExecutionStatus.PROPOSED]
    move_steps(session, proposed, ToolExecutionStatus.PROPOSED, ToolExecutionStatus.READY_TO_CONFIGURE)


def _add_planned_hop(
    session: Session, mission: Mission, hops: list[Hop], tool_id: str, proposed: dict[str, Any]
) -> Hop:
    hop_spec = check_planned_hop(session, mission, tool_id, proposed)
    order = (hops[-1].sequence_order if hops else 0) + 1
    hop = add_hop(session, mission, hop_spec, order, is_final=hop_spec.is_final)
    record_event(
        session,
        action="hop_planned",
        subject_type="hops",
        subject_id=hop.id,
        after={"planner": tool_id, "name": hop.name, "sequence_order": order},
    )
    session.flush()
    session.refresh(hop)
    return hop


def complete_mission(mission_id: str, owner: str | None = None) -> MissionResult:
    with session_scope() as session:
        hold_lease(session, mission_id, owner)
        mission = _mission(session, mission_id)
        if mission.status != MissionStatus.COMPLETED:
            advance_to(session, mission, MissionStatus.COMPLETED)
            mission.completed_at = utcnow()
        if owner is not None:
            release_lease(session, mission_id, owner)
        return mission_result(session, mission)


def mission_result(session: Session, mission: Mission) -> MissionResult:
    state = read_mission_state(session, mission.id)
    steps, prompt_tokens, completion_tokens = count_steps_and_tokens(session, mission.id)
    return MissionResult(
        mission_id=mission.id,
        name=mission.name,
        status=mission.status,
        outputs={a.name: a.content_summary or "" for a in state.values() if a.role == AssetRole.OUTPUT},
        hop_count=len(mission.hops),
        step_count=steps,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def fail_mission(mission_id: str, error: str, owner: str | None = None) -> bool:
    """Mark the mission failed and give its lease up; a runner that lost the lease changes nothing."""
    with session_scope() as session:
        if owner is not None and not release_lease(session, mission_id, owner):
            return False
        mission = _mission(session, mission_id)
        if mission.status in (MissionStatus.FAILED, MissionStatus.COMPLETED, MissionStatus.CANCELLED):
            return False
        advance_to(session, mission, MissionStatus.FAILED, reason=error[:500])
        mission.error_message = error
        mission.completed_at = utcnow()
        return True


def cancel_mission(mission_id: str, reason: str = "cancelled") -> None:
    """Cancel the mission and everything in it that has not finished."""
    with session_scope() as session:
        mission = _mission(session, mission_id)
        for hop in mission.hops:
            for step in hop.tool_steps:
                if step.status not in (
                    ToolExecutionStatus.COMPLETED,
                    ToolExecutionStatus.FAILED,
                    ToolExecutionStatus.CANCELLED,
                ):
                    advance_to(session, step, ToolExecutionStatus.CANCELLED, reason=reason)
            if hop.status not in (HopStatus.COMPLETED, HopStatus.FAILED, HopStatus.CANCELLED):
                advance_to(session, hop, HopStatus.CANCELLED, reason=reason)
        if mission.status not in (MissionStatus.COMPLETED, MissionStatus.FAILED, MissionStatus.CANCELLED):
            advance_to(session, mission, MissionStatus.CANCELLED, reason=reason)
            mission.completed_at = utcnow()
        mission.lease_owner = mission.lease_expires_at = None


def read_mission_result(mission_id: str) -> MissionResult:
    with session_scope() as session:
        return mission_result(session, _mission(session, mission_id))


def mission_asset_rows(mission_id: str) -> list[dict[str, Any]]:
    """Every asset of the mission, mission- and hop-scoped, as rows for the UI's table artifact."""
    with session_scope() as session:
        return asset_table_rows(read_mission_assets(session, mission_id))
