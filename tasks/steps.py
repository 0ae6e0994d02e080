"""Run one ToolStep as a Prefect task: resolve its parameter_mapping, call the tool, apply its
result_mapping. Three short units of work (begin, then complete or fail); the tool runs between
them with no transaction open."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from hopflow.models.access.status import advance_to, record_event
from hopflow.models.db import session_scope
from hopflow.models.enums import AssetStatus, FaultSeverity, ToolExecutionStatus
from hopflow.models.orm import Asset, Fault, Hop, LLMCall, Mission, ToolStep, utcnow
from hopflow.models.secrets import resolve_env_refs, scrub, secret_values
from hopflow.models.settings import PromptStorage, Settings, get_settings
from hopflow.tasks.artifacts import publisher
from hopflow.tasks.assets import artifact_key, asset_markdown, is_ready, load_value, store_value
from hopflow.tasks.llm import LLMCallRecord, redact_prompt
from hopflow.tasks.tools import ToolContext, get_tool
from prefect import task
from prefect.runtime import flow_run as runtime_flow_run
from prefect.runtime import task_run as runtime_task_run
from pydantic import BaseModel
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.steps")


class StepOutcome(BaseModel):
    step_id: str
    status: str  # "completed" or "skipped" (already completed with its assets ready)
    outputs: dict[str, str] = {}
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolStepError(RuntimeError):
    """A tool failed; the message is scrubbed of the step's resolved secrets."""


class _Begun(BaseModel):
    skip: bool
    tool_id: str = ""
    mission_id: str = ""
    params: dict[str, Any] = {}


def _current_ids() -> tuple[str | None, str | None]:
    try:
        return runtime_flow_run.id, runtime_task_run.id
    except Exception:  # outside a run (tests calling .fn)
        return None, None


def begin_step(step_id: str, task_run_id: str | None = None) -> _Begun:
    with session_scope() as session:
        step = session.get(ToolStep, step_id)
        if step is None:
            raise LookupError(f"no tool step with id {step_id!r}")
        outputs = [session.get(Asset, t["asset_id"]) for t in (step.result_mapping or {}).values()]
        if step.status == ToolExecutionStatus.COMPLETED and all(
            a is not None and is_ready(a) for a in outputs
        ):
            return _Begun(skip=True, tool_id=step.tool_id)
        if step.status == ToolExecutionStatus.COMPLETED:
            # completed but an output went missing (e.g. its offloaded file): redo it, on record.
            record_event(
                session,
                action="step_redo",
                subject_type="tool_steps",
                subject_id=step.id,
                description="completed step rerun: an output asset is not ready",
            )
            step.status = ToolExecutionStatus.READY_TO_EXECUTE
        if step.status != ToolExecutionStatus.EXECUTING:
            advance_to(session, step, ToolExecutionStatus.EXECUTING)
        step.started_at = utcnow()
        step.attempts += 1
        step.task_run_id = task_run_id
        step.error_message = None
        for asset in outputs:
            if asset is not None and asset.status != AssetStatus.IN_PROGRESS:
                advance_to(session, asset, AssetStatus.IN_PROGRESS)
        hop = session.get(Hop, step.hop_id)
        assert hop is not None
        return _Begun(
            skip=False,
            tool_id=step.tool_id,
            mission_id=hop.mission_id,
            params=dict(step.parameter_mapping or {}),
        )


def load_parameters(mapping: dict[str, Any]) -> dict[str, Any]:
    """Literal values as given, asset parameters as their (possibly offloaded) content."""
    params = {
        name: json.loads(source["json"]) for name, source in mapping.items() if source["type"] == "literal"
    }
    assets = {name: source for name, source in mapping.items() if source["type"] == "asset"}
    if not assets:
        return params
    with session_scope() as session:
        for name, source in assets.items():
            asset = session.get(Asset, source["asset_id"])
            if asset is None or asset.status != AssetStatus.READY:
                state = "missing" if asset is None else asset.status.value
                raise RuntimeError(f"parameter {name!r}: asset {source['asset']!r} is {state}, not ready")
            params[name] = load_value(asset)
    return params


def complete_step(
    step_id: str, output: BaseModel, llm_calls: list[LLMCallRecord], flow_run_id: str | None
) -> StepOutcome:
    settings = get_settings()
    written: list[Asset] = []
    with session_scope() as session:
        step = session.get(ToolStep, step_id)
        assert step is not None
        hop = session.get(Hop, step.hop_id)
        assert hop is not None
        summaries: dict[str, str] = {}
        for out_field, target in (step.result_mapping or {}).items():
            asset = session.get(Asset, target["asset_id"])
            assert asset is not None
            store_value(asset, getattr(output, out_field), settings)
            advance_to(session, asset, AssetStatus.READY)
            summaries[asset.name] = asset.content_summary or ""
            written.append(asset)
        step.execution_result = {"outputs": summaries}
        advance_to(session, step, ToolExecutionStatus.COMPLETED)
        step.completed_at = utcnow()
        mission = session.get(Mission, hop.mission_id)
        prompt, completion = record_llm_calls(
            session,
            llm_calls,
            settings,
            flow_run_id=flow_run_id,
            mission_id=hop.mission_id,
            tool_step_id=step.id,
            # An agent's mission: every call is attributed to the agent configuration that ran it.
            agent_configuration_id=mission.agent_configuration_id if mission is not None else None,
        )
        session.flush()
        markdown = [(a.name, a.scope_id, asset_markdown(a)) for a in written]
        mission_id = hop.mission_id
    _, task_run_id = _current_ids()
    for name, _scope, body in markdown:
        publisher.submit(
            key=artifact_key("asset", mission_id[:8], name),
            type="markdown",
            data=body,
            description=f"asset {name} of mission {mission_id}",
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
        )
    return StepOutcome(
        step_id=step_id,
        status="completed",
        outputs=summaries,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def fail_step(step_id: str, error: str) -> None:
    with session_scope() as session:
        step = session.get(ToolStep, step_id)
        assert step is not None
        hop = session.get(Hop, step.hop_id)
        assert hop is not None
        step.error_message = error
        step.completed_at = utcnow()
        advance_to(session, step, ToolExecutionStatus.FAILED, reason=error[:500])
        for target in (step.result_mapping or {}).values():
            asset = session.get(Asset, target["asset_id"])
            if asset is not None and asset.status != AssetStatus.ERROR:
                advance_to(session, asset, AssetStatus.ERROR, reason=error[:500])
        session.add(
            Fault(
                mission_id=hop.mission_id,
                tool_step_id=step.id,
                severity=FaultSeverity.HIGH,
                description=(
                    f"step {hop.sequence_order}.{step.sequence_order} ({step.tool_id}) failed: {error}"
                ),
            )
        )


def record_llm_calls(
    session: Session,
    calls: list[LLMCallRecord],
    settings: Settings,
    *,
    flow_run_id: str | None,
    mission_id: str | None,
    tool_step_id: str | None,
    agent_configuration_id: str | None = None,
) -> tuple[int, int]:
    """One llm_calls row per call; texts kept only as HOPFLOW_PROMPT_STORAGE allows."""
    prompt_total = completion_total = 0
    mode = settings.prompt_storage
    for call in calls:
        row = LLMCall(
            flow_run_id=flow_run_id,
            mission_id=mission_id,
            tool_step_id=tool_step_id,
            agent_configuration_id=agent_configuration_id,
            provider=call.provider,
            model=call.model,
            prompt_slug=call.prompt_slug,
            purpose=call.purpose,
            used_by=call.used_by,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            duration_ms=call.duration_ms,
            storage_mode=mode.value,
        )
        if mode in (PromptStorage.REDACTED, PromptStorage.FULL):
            row.prompt_chars = len(call.prompt_text or "")
            row.output_chars = len(call.output_text or "")
            row.prompt_sha256 = hashlib.sha256((call.prompt_text or "").encode()).hexdigest()
            row.output_sha256 = hashlib.sha256((call.output_text or "").encode()).hexdigest()
        if mode == PromptStorage.FULL:
            row.prompt_text = call.prompt_text
            row.output_text = call.output_text
        if settings.debug_redacted_mode:
            logger.info(
                "llm call %s/%s prompt %s", call.provider, call.model, redact_prompt(call.prompt_text or "")
            )
        session.add(row)
        prompt_total += call.prompt_tokens
        completion_total += call.completion_tokens
    return prompt_total, completion_total


@task(name="tool-step")
def run_tool_step(step_id: str) -> StepOutcome:
    """Run one ToolStep; on its last attempt a failure marks step and assets failed and opens a Fault."""
    flow_run_id, task_run_id = _current_ids()
    begun = begin_step(step_id, task_run_id)
    if begun.skip:
        return StepOutcome(step_id=step_id, status="skipped")
    tool = get_tool(begun.tool_id)
    secrets = secret_values(begun.params)
    ctx = ToolContext.from_settings(
        mission_id=begun.mission_id, tool_step_id=step_id, flow_run_id=flow_run_id
    )
    try:
        params = resolve_env_refs(load_parameters(begun.params), where=f"step {step_id} parameters")
        output = tool.run(params, ctx)
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {exc}", secrets)
        attempt = runtime_task_run.run_count if task_run_id else 1
        if attempt > tool.retries:
            fail_step(step_id, error)
        else:
            logger.warning("step %s attempt %s failed (%s); Prefect retries it", step_id, attempt, error)
        # `from None`: the original exception's text may carry a resolved secret.
        raise ToolStepError(error) from None
    return complete_step(step_id, output, ctx.llm_calls, flow_run_id)
