"""What hopflow's database knows about a batch of Prefect flow runs, for the run-log mirror: each run's
mission, configuration, tool steps, tokens (subflows included), output summaries and the secrets to
scrub; read with a handful of IN queries, writing nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import AssetRole, AssetScopeType, TriggerType
from hopflow.models.orm import AgentConfiguration, AgentRunLog, Asset, Hop, LLMCall, Mission, ToolStep
from hopflow.models.secrets import secret_values
from pydantic import BaseModel
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RunRef:
    """What the mirror knows of a flow run before it reads the database."""

    run_id: str
    parent_run_id: str | None
    mission_param: str | None  # the run's mission_id parameter, if any
    configuration_param: str | None  # its configuration id parameter, if any
    trigger_type: TriggerType  # what started it, as its own parameters and schedule say
    parameters: Mapping[str, Any]


def in_chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """The values in slices of `size`: IN lists stay under every database's parameter limit."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RunFacts(BaseModel):
    """What the database knows about a batch of runs, read with a handful of IN queries."""

    missions: dict[str, str] = {}  # run_id -> its mission (own, or its subflow's)
    mission_config: dict[str, str] = {}  # mission_id -> agent_configuration_id
    configs: dict[str, str | None] = {}  # configuration id -> its entity id
    steps: dict[str, int] = {}  # mission_id -> tool steps that ran
    tokens: dict[str, tuple[int, int]] = {}  # run_id -> (prompt, completion), subflows included
    outputs: dict[str, list[tuple[str, str]]] = {}  # mission_id -> [(asset, summary)]
    parent_triggers: dict[str, TriggerType] = {}  # subflow run_id -> its parent run's trigger
    mission_names: dict[str, str] = {}  # mission_id -> name
    secrets: dict[str, list[str]] = {}  # run_id -> resolved secret values its steps reference


def read_run_facts(session: Session, snaps: Sequence[RunRef]) -> RunFacts:
    """The facts of a batch of runs: their missions, configurations, steps, tokens, outputs and secrets."""
    facts = RunFacts()
    run_ids = [s.run_id for s in snaps]
    # Subflow runs (an agent run's mission_flow): from the batch itself and from rows already mirrored.
    children: dict[str, set[str]] = defaultdict(set)
    for snap in snaps:
        if snap.parent_run_id:
            children[snap.parent_run_id].add(snap.run_id)
    for chunk in in_chunks(run_ids):
        for child, parent in session.execute(
            sa.select(AgentRunLog.run_id, AgentRunLog.parent_run_id).where(
                AgentRunLog.parent_run_id.in_(chunk)
            )
        ):
            children[parent].add(child)
    family = sorted(set(run_ids) | {c for cs in children.values() for c in cs})
    # A subflow (an agent run's mission) was started by whatever started its parent: webhook, event...
    in_batch = {s.run_id: s.trigger_type for s in snaps if not s.parent_run_id}
    parents = sorted({s.parent_run_id for s in snaps if s.parent_run_id} - set(in_batch))
    for chunk in in_chunks(parents):
        for run_id, trigger in session.execute(
            sa.select(AgentRunLog.run_id, AgentRunLog.trigger_type).where(AgentRunLog.run_id.in_(chunk))
        ):
            in_batch[run_id] = trigger
    for snap in snaps:
        if snap.parent_run_id and snap.parent_run_id in in_batch:
            facts.parent_triggers[snap.run_id] = in_batch[snap.parent_run_id]

    wanted_missions = {s.mission_param for s in snaps if s.mission_param}
    rows: list[Any] = []
    columns = (Mission.id, Mission.flow_run_id, Mission.agent_configuration_id)
    for chunk in in_chunks(sorted(wanted_missions)):
        rows += session.execute(sa.select(*columns).where(Mission.id.in_(chunk))).all()
    for chunk in in_chunks(family):
        rows += session.execute(sa.select(*columns).where(Mission.flow_run_id.in_(chunk))).all()
    known = {r.id for r in rows}
    by_run = {r.flow_run_id: r.id for r in rows if r.flow_run_id}
    for snap in snaps:
        param = snap.mission_param or ""
        mission_id = param if param in known else by_run.get(snap.run_id)
        if mission_id:
            facts.missions[snap.run_id] = mission_id
            continue
        child_missions = {by_run[c] for c in children.get(snap.run_id, ()) if c in by_run}
        if len(child_missions) == 1:
            facts.missions[snap.run_id] = child_missions.pop()
    facts.mission_config = {r.id: r.agent_configuration_id for r in rows if r.agent_configuration_id}

    wanted_configs = {s.configuration_param for s in snaps if s.configuration_param}
    wanted_configs |= set(facts.mission_config.values())
    for chunk in in_chunks(sorted(wanted_configs)):
        for config_id, entity_id in session.execute(
            sa.select(AgentConfiguration.id, AgentConfiguration.entity_id).where(
                AgentConfiguration.id.in_(chunk)
            )
        ):
            facts.configs[config_id] = entity_id

    mission_ids = sorted(set(facts.missions.values()))
    mission_secrets: dict[str, list[str]] = defaultdict(list)
    for chunk in in_chunks(mission_ids):
        for mission_id, count in session.execute(
            sa.select(Hop.mission_id, sa.func.count(ToolStep.id))
            .join(ToolStep, ToolStep.hop_id == Hop.id)
            .where(Hop.mission_id.in_(chunk), ToolStep.started_at.is_not(None))
            .group_by(Hop.mission_id)
        ):
            facts.steps[mission_id] = int(count)
        for mission_id, name, summary in session.execute(
            sa.select(Asset.scope_id, Asset.name, Asset.content_summary)
            .where(
                Asset.scope_type == AssetScopeType.MISSION,
                Asset.scope_id.in_(chunk),
                Asset.role == AssetRole.OUTPUT,
                Asset.content_summary.is_not(None),
            )
            .order_by(Asset.created_at, Asset.name)
        ):
            facts.outputs.setdefault(mission_id, []).append((name, summary or ""))
        for mission_id, mapping in session.execute(
            sa.select(Hop.mission_id, ToolStep.parameter_mapping)
            .join(ToolStep, ToolStep.hop_id == Hop.id)
            .where(Hop.mission_id.in_(chunk))
        ):
            mission_secrets[mission_id] += secret_values(mapping or {})

    # A run's tokens are its own LLM calls plus those of its subflow runs (an agent run's mission).
    per_run: dict[str, tuple[int, int]] = {}
    for chunk in in_chunks(family):
        for run_id, prompt, completion in session.execute(
            sa.select(
                LLMCall.flow_run_id,
                sa.func.sum(LLMCall.prompt_tokens),
                sa.func.sum(LLMCall.completion_tokens),
            )
            .where(LLMCall.flow_run_id.in_(chunk))
            .group_by(LLMCall.flow_run_id)
        ):
            per_run[run_id] = (int(prompt or 0), int(completion or 0))
    for run_id in run_ids:
        counted = [per_run[r] for r in (run_id, *children.get(run_id, ())) if r in per_run]
        if counted:
            facts.tokens[run_id] = (sum(p for p, _ in counted), sum(c for _, c in counted))
    for snap in snaps:
        found = secret_values(snap.parameters) + mission_secrets.get(facts.missions.get(snap.run_id, ""), [])
        if found:
            facts.secrets[snap.run_id] = found
    return facts
