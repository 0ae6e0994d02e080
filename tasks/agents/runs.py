"""Agent runs: snapshot the inputs, build the playbook's mission, record the outcome."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hopflow.models.access import agents as access
from hopflow.models.access.directives import directive_snapshot, read_current_directive
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.runs import last_successful_run, read_run_log, upsert_run_log
from hopflow.models.access.tags import read_tags, set_tags
from hopflow.models.db import session_scope
from hopflow.models.documents import DocumentError, load_json
from hopflow.models.enums import (
    AgentConfigurationStatus,
    LastRunStatus,
    TriggerType,
)
from hopflow.models.orm import AgentConfiguration, AgentDefinition, utcnow
from hopflow.models.schemas.agents import (
    PlaybookStepSpec,
)
from hopflow.models.schemas.specs import HopSpec, LiteralValue, MissionSpec, StepSpec
from hopflow.models.secrets import (
    MIN_SECRET_CHARS,
    escape_env_refs,
    redact,
    resolve_env_refs,
    scrub,
    secret_values,
)
from hopflow.tasks.agents.conditions import ConditionError, evaluate_condition
from hopflow.tasks.agents.directives import check_directive_text, one_off_snapshot
from hopflow.tasks.agents.errors import MISSION_REF_PREFIX, PREVIEW_CHARS, AgentNotFound, AgentSpecError
from hopflow.tasks.agents.inputs import check_payload, configured_keys, input_schema, split_inputs
from hopflow.tasks.agents.placeholders import bind_placeholders
from hopflow.tasks.agents.reading import _configuration
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import (
    SpecError,
    SpecIssue,
)
from pydantic import BaseModel
from sqlalchemy.orm import Session


class AgentRunContext(BaseModel):
    """What one agent run works from. Inputs keep their `${env.X}` references: never a resolved secret."""

    run_id: str
    configuration_id: str
    configuration_name: str
    definition_id: str
    definition_name: str
    definition_version: str
    tagline: str | None = None
    trigger_type: TriggerType
    playbook: str
    playbook_description: str | None = None
    steps: list[dict[str, Any]]
    inputs: dict[str, Any]
    payload: dict[str, Any]
    directive_id: str | None = None
    directive_version: int | None = None
    directive_text: str | None = None
    window_start: datetime | None = None
    window_end: datetime
    started_at: datetime


class AgentMission(BaseModel):
    mission_id: str | None
    name: str
    hops: int
    skipped_steps: list[str] = []


class AgentRunOutcome(BaseModel):
    run_id: str
    configuration: str
    status: LastRunStatus
    mission_id: str | None = None
    outputs: dict[str, str] = {}
    skipped_steps: list[str] = []
    output_preview: str | None = None
    full_output_ref: str | None = None


def normalise_payload(payload: Any) -> Any:
    """Event triggers template `{{ event.payload }}`; a client may send it as a JSON string."""
    if payload is None or payload == "":
        return {}
    if isinstance(payload, str):
        try:
            return load_json(payload, "payload")
        except DocumentError as exc:
            raise AgentSpecError([SpecIssue((), str(exc))], kind="trigger payload") from None
    return payload


def snapshot_agent_run(
    configuration_id: str,
    run_id: str,
    trigger_type: str,
    payload: Any,
    playbook: str | None = None,
    directive_text: str | None = None,
) -> AgentRunContext:
    """The run's first unit of work: check the payload, snapshot inputs (redacted), the directive and the
    window since the last successful run onto the AgentRunLog row, and pick the playbook.

    With `directive_text` the run uses that text as a one-off directive instead of the stored one."""
    kind = TriggerType(trigger_type)
    payload = normalise_payload(payload)
    if directive_text is not None:
        directive_text = check_directive_text(directive_text)
    with session_scope() as session:
        configuration = _configuration(session, configuration_id)
        if configuration.status != AgentConfigurationStatus.ACTIVE:
            raise ValueError(
                f"agent configuration {configuration.name!r} is {configuration.status.value}: not run"
            )
        definition = configuration.definition
        schema = input_schema(definition.inputs_schema)
        if issues := check_payload(schema, payload, configured_keys(configuration.yaml_config)):
            raise AgentSpecError(
                issues, f"{kind.value} payload for {configuration.name}", kind="trigger payload"
            )
        configured = dict(configuration.effective_config_cache or {})
        inputs = {**configured, **payload}
        # Fail now, naming the variable, rather than mid-mission; the values are not kept. Only what
        # the configuration wrote is resolved: a payload is data.
        resolve_env_refs(
            configured, where=f"configuration {configuration.name} inputs", min_length=MIN_SECRET_CHARS
        )
        chosen = _playbook(session, definition, playbook)
        # A one-off directive replaces the stored one for this run only; the stored one is not read.
        one_off = directive_text is not None
        directive = None if one_off else read_current_directive(session, configuration.id)
        if directive is not None:
            directive_text = directive.text
        previous = last_successful_run(session, configuration.id)
        now = utcnow()
        row = upsert_run_log(
            session,
            run_id,
            flow_name="agent-run",
            agent_configuration_id=configuration.id,
            agent_entity_id=configuration.entity_id,
            trigger_type=kind,
            input_params_snapshot=redact(
                {
                    "inputs": inputs,
                    "payload": payload,
                    "playbook": chosen["name"],
                    "trigger_type": kind.value,
                    "definition": {"id": definition.id, "version": definition.version},
                }
            ),
            directive_id=directive.id if directive else None,
            directive_snapshot=one_off_snapshot(directive_text)
            if one_off and directive_text is not None
            else directive_snapshot(directive)
            if directive
            else None,
            window_start=previous.end_time if previous else None,
            window_end=now,
        )
        return AgentRunContext(
            run_id=run_id,
            configuration_id=configuration.id,
            configuration_name=configuration.name,
            definition_id=definition.id,
            definition_name=definition.name,
            definition_version=definition.version,
            tagline=definition.tagline,
            trigger_type=kind,
            playbook=chosen["name"],
            playbook_description=chosen.get("description"),
            steps=chosen["steps"],
            inputs=inputs,
            payload=payload,
            directive_id=directive.id if directive else None,
            directive_version=directive.version if directive else None,
            directive_text=directive_text,
            window_start=row.window_start,
            window_end=now,
            started_at=row.start_time or row.created_at or now,
        )


def _playbook(session: Session, definition: AgentDefinition, name: str | None) -> dict[str, Any]:
    playbooks = access.read_playbooks(session, definition.id)
    if name is not None:
        chosen = next((p for p in playbooks if p.name == name), None)
        if chosen is None:
            raise AgentNotFound(f"playbook of {definition.id}", name, [p.name for p in playbooks])
    else:
        active = [p for p in playbooks if p.is_active]
        chosen = next((p for p in active if p.is_default), active[0] if active else None)
        if chosen is None:
            raise LookupError(f"agent {definition.id!r} ({definition.name}) has no active playbook to run")
    return {"name": chosen.name, "description": chosen.description, "steps": chosen.steps}


def binding_context(context: AgentRunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "inputs": dict(inputs),
        "payload": context.payload,
        "window_start": context.window_start.isoformat() if context.window_start else None,
        "window_end": context.window_end.isoformat(),
        "directive": context.directive_text,
        "trigger_type": context.trigger_type.value,
        "configuration": context.configuration_name,
    }


def build_mission_spec(context: AgentRunContext) -> tuple[MissionSpec | None, list[str]]:
    """The playbook as a mission: one hop per step whose condition holds, placeholders bound.

    A hop per step (not one hop for all) because conditions and delays are per step and a hop is
    what the UI and the status machine show; the wait of delay_minutes is a noop.sleep step run
    first in the same hop. Conditions see resolved inputs (in memory only); bound literals keep
    `${env.X}` references, which the step runner resolves at run time.
    """
    configured, outside = split_inputs(context.inputs, context.payload)
    resolved = {**resolve_env_refs(configured, where="inputs"), **context.payload}
    condition_context = binding_context(context, resolved)
    # Payload text is bound escaped: the step runner resolves `${env.X}` in literals, and must
    # never do so in what a trigger sent (keys included, at any depth).
    bind_context = {
        **binding_context(context, {**configured, **outside}),
        "payload": escape_env_refs(context.payload),
    }
    hops: list[HopSpec] = []
    skipped: list[str] = []
    used: set[str] = set()
    for s, raw in enumerate(context.steps):
        step = PlaybookStepSpec.model_validate(raw)
        label = step.name or step.type
        if step.condition is not None:
            try:
                holds = evaluate_condition(step.condition, condition_context)
            except ConditionError as exc:
                raise ConditionError(
                    f"playbook {context.playbook!r} step {s + 1} ({label}): "
                    f"condition {step.condition!r}: {exc}"
                ) from None
            if not holds:
                skipped.append(label)
                continue
        mapping = {
            param: LiteralValue(literal=bind_placeholders(source.literal, bind_context))
            if isinstance(source, LiteralValue)
            else source
            for param, source in step.parameter_mapping.items()
        }
        steps = []
        if step.delay_minutes > 0:
            steps.append(
                StepSpec(
                    tool="noop.sleep",
                    name=f"wait {step.delay_minutes:g} min",
                    parameter_mapping={"seconds": LiteralValue(literal=step.delay_minutes * 60)},
                )
            )
        steps.append(
            StepSpec(
                tool=step.type, name=step.name, description=step.description,
                parameter_mapping=mapping, result_mapping=step.result_mapping,
            )
        )  # fmt: skip
        name = label if label not in used else f"{label}#{s + 1}"
        used.add(name)
        hops.append(HopSpec(name=name, description=step.description, steps=steps))
    if not hops:
        return None, skipped
    spec = MissionSpec(
        name=f"{context.configuration_name}:{context.playbook}",
        description=context.playbook_description,
        goal=context.tagline,
        hops=hops,
        metadata={
            "agent_run_id": context.run_id,
            "agent_configuration": context.configuration_name,
            "agent_definition": {"id": context.definition_id, "version": context.definition_version},
            "playbook": context.playbook,
            "trigger_type": context.trigger_type.value,
            "skipped_steps": skipped,
        },
    )
    return spec, skipped


def create_agent_mission(context: AgentRunContext) -> AgentMission:
    """Build the mission from the playbook and store it, linked to the configuration and the run log."""
    spec, skipped = build_mission_spec(context)
    name = f"{context.configuration_name}:{context.playbook}"
    if spec is None:
        return AgentMission(mission_id=None, name=name, hops=0, skipped_steps=skipped)
    with session_scope() as session:
        configuration = session.get(AgentConfiguration, context.configuration_id)
        user_id = configuration.created_by_user_id if configuration else None
        if user_id is None:
            user_id = ensure_user(session).id
        try:
            mission = create_mission_from_spec(
                session, spec, user_id=user_id, agent_configuration_id=context.configuration_id
            )
        except SpecError as exc:
            raise AgentSpecError(exc.issues, f"playbook {context.playbook!r} of {context.definition_id}",
                                 kind="mission from playbook") from None  # fmt: skip
        # The agent's tags carry over, so `missions list --tag` finds an agent's missions.
        agent_tags = read_tags(session, "agent_definitions", context.definition_id)
        set_tags(session, "missions", mission.id, agent_tags)
        upsert_run_log(session, context.run_id, mission_id=mission.id)
        return AgentMission(
            mission_id=mission.id, name=mission.name, hops=len(spec.hops), skipped_steps=skipped
        )


def output_preview(outputs: Mapping[str, str], skipped: list[str], hops: int) -> str:
    if outputs:
        text = "\n".join(f"{name}: {summary}" for name, summary in outputs.items())
    elif hops:
        text = f"completed {hops} hop{'s' if hops != 1 else ''}; no output assets"
    else:
        text = "no playbook step ran: every condition was false"
    if skipped:
        text += f"\nskipped: {', '.join(skipped)}"
    return text[:PREVIEW_CHARS]


def finish_agent_run(
    context: AgentRunContext,
    mission: AgentMission | None,
    status: LastRunStatus,
    *,
    outputs: Mapping[str, str] | None = None,
    error: str | None = None,
) -> AgentRunOutcome:
    """The run's last unit of work: output preview and mission reference onto the run log and the
    configuration's last_run_* fields. The run log's status stays with the state hooks."""
    outputs = dict(outputs or {})
    skipped = mission.skipped_steps if mission else []
    preview = output_preview(outputs, skipped, mission.hops if mission else 0) if error is None else None
    ref = f"{MISSION_REF_PREFIX}{mission.mission_id}" if mission and mission.mission_id else None
    if error is not None:
        error = scrub(error, secret_values(context.inputs))
    with session_scope() as session:
        upsert_run_log(
            session, context.run_id, output_preview=preview, full_output_ref=ref, error_message=error
        )
        access.record_configuration_run(
            session,
            context.configuration_id,
            run_id=context.run_id,
            status=status,
            started_at=context.started_at,
            output_preview=preview if preview is not None else (error or "")[:PREVIEW_CHARS],
            full_output_ref=ref,
        )
    return AgentRunOutcome(
        run_id=context.run_id, configuration=context.configuration_name, status=status,
        mission_id=mission.mission_id if mission else None, outputs=outputs, skipped_steps=skipped,
        output_preview=preview, full_output_ref=ref,
    )  # fmt: skip


def record_cancelled_run(configuration_id: str, run_id: str) -> None:
    """A cancelled run (hook in the serving process): last_run_status cancelled, if it is the latest."""
    with session_scope() as session:
        row = read_run_log(session, run_id)
        started = (row.start_time or row.created_at) if row else utcnow()
        access.record_configuration_run(
            session, configuration_id, run_id=run_id, status=LastRunStatus.CANCELLED, started_at=started
        )
