"""Run one ToolStep (the tool-step task's work): resolve its parameter_mapping, call the tool, apply its
result_mapping. Three short units of work (begin, then complete or fail); the tool runs between
them with no transaction open."""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from hopflow.models.access.containers import read_allowlist
from hopflow.models.access.leases import require_lease
from hopflow.models.access.llm_calls import add_llm_calls
from hopflow.models.access.rows import require
from hopflow.models.access.status import advance_to, compare_and_set, record_event
from hopflow.models.access.step_runs import (
    AssetMove,
    OutputAsset,
    StepRead,
    StepToRun,
    claim_step,
    finish_step,
    read_step_to_run,
)
from hopflow.models.db import session_scope, statement_scope
from hopflow.models.enums import (
    AssetStatus,
    FaultSeverity,
    InvalidTransition,
    RunOutcome,
    ToolExecutionStatus,
)
from hopflow.models.orm import AgentConfiguration, Asset, Fault, Hop, ToolStep, utcnow
from hopflow.models.secrets import resolve_env_refs, scrub, secret_values
from hopflow.models.settings import Settings, get_settings
from hopflow.tasks import error_logs, step_logs
from hopflow.tasks.artifacts import asset_artifact, mission_label, publisher, wants_artifact
from hopflow.tasks.assets import is_ready, load_value, store_content
from hopflow.tasks.llm import LLMCallRecord, redact_prompt
from hopflow.tasks.tools import ToolContext, get_tool
from hopflow.tasks.tools.allowlist import Allowlist, ToolNotAllowed
from prefect.runtime import flow_run as runtime_flow_run
from prefect.runtime import task_run as runtime_task_run
from pydantic import BaseModel
from sqlalchemy import Connection
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.steps")
# Before any run: a step's error is logged once, the hop's and the flow's lines only refer to it.
error_logs.install()


class StepOutcome(BaseModel):
    step_id: str
    status: RunOutcome
    outputs: dict[str, str] = {}
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ToolStepError(RuntimeError):
    """A tool failed; the message is scrubbed of the step's resolved secrets."""


class StepNotClaimed(RuntimeError):
    """Another runner claimed (or took over) this step: this one must not run or finish it."""


@dataclass(frozen=True)
class _Begun:
    skip: bool
    tool_id: str = ""
    mission_id: str = ""
    attempt: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    # Set when the mission belongs to an agent's run: its configuration, name and allowlist entries.
    agent_configuration_id: str | None = None
    agent: str | None = None
    allowlist: list[tuple[str, str | None]] = field(default_factory=list)
    outputs: dict[str, OutputAsset] = field(default_factory=dict)  # output field -> its asset, in_progress


# What the hop task read of its steps as it began (tasks/hops.py), left for each step's claim, which
# then needs no read of its own. The claim is a compare-and-set on what was read, so a stale read
# (another runner, or an earlier step of the hop that moved the same rows) only costs the read it saved.
_reads: dict[str, StepRead] = {}


def leave_reads(reads: dict[str, StepRead]) -> None:
    """Keep the hop's fresh reads of its steps for their claims (in this process)."""
    _reads.update(reads)


def drop_reads(step_ids: list[str]) -> None:
    """Forget the reads the hop's steps did not use (the hop failed before them)."""
    for step_id in step_ids:
        _reads.pop(step_id, None)


class _StaleRead(Exception):
    """The step or an output was no longer as read: claim it again from a fresh read."""


def _current_ids() -> tuple[str | None, str | None]:
    try:
        return runtime_flow_run.id, runtime_task_run.id
    except Exception:  # outside a run (tests calling .fn)
        return None, None


def begin_step(step_id: str, task_run_id: str | None = None, owner: str | None = None) -> _Begun:
    """Claim the step for this attempt, or report it done (completed with its outputs ready).

    The claim is a compare-and-set: ready -> executing only if the step is still in the state (and
    at the attempt count) read a moment before, and only while `owner` holds the mission's lease.
    Two runners can therefore never both execute one attempt, and `attempts` loses no increment.
    The usual claim starts from the hop's read of the step (leave_reads) and is three statements:
    the claim (which also checks the lease: the mission's LeaseKeeper renews it), the outputs in
    progress, their events; on PostgreSQL one statement, with no transaction around it. Without that
    read, or when it was stale, the step and its outputs are read first.
    """
    read = _reads.pop(step_id, None)
    if read is not None and read[0].status not in _NEEDS_A_LOOK:
        try:
            return _claim_as_read(*read, task_run_id=task_run_id, owner=owner)
        except (_StaleRead, InvalidTransition):  # the fresh read below decides, and says why
            pass
    now = utcnow()
    with session_scope() as session:
        step, assets = read_step_to_run(session, step_id)
        fields = {field: t["asset_id"] for field, t in step.result_mapping.items()}
        if (
            step.status == ToolExecutionStatus.COMPLETED
            and len(assets) == len(set(fields.values()))
            and all(is_ready(a) for a in assets.values())
        ):
            return _Begun(skip=True, tool_id=step.tool_id)
        observed, attempts = step.status, step.attempts
        if owner is not None and observed in (ToolExecutionStatus.COMPLETED, ToolExecutionStatus.EXECUTING):
            # The rare moves below (a redo, a retry of our own attempt) happen under the lease too.
            require_lease(
                session, step.mission_id, owner, seconds=get_settings().mission_lease_seconds, now=now
            )
        if observed == ToolExecutionStatus.COMPLETED:
            # completed but an output went missing (e.g. its offloaded file): redo it, on record.
            record_event(
                session,
                action="step_redo",
                subject_type="tool_steps",
                subject_id=step.id,
                description="completed step rerun: an output asset is not ready",
            )
            if compare_and_set(
                session,
                ToolStep,
                step.id,
                ToolExecutionStatus.COMPLETED,
                ToolExecutionStatus.READY_TO_EXECUTE,
                reason="completed step rerun: an output asset is not ready",
            ):
                observed = ToolExecutionStatus.READY_TO_EXECUTE
        # Our own task run's previous attempt, ended where it could not requeue the step (a
        # time-out): Prefect is retrying it, and this runner holds the lease.
        own_retry = bool(task_run_id) and step.task_run_id == task_run_id
        own_retry = own_retry and observed == ToolExecutionStatus.EXECUTING
        if own_retry and compare_and_set(
            session,
            ToolStep,
            step.id,
            ToolExecutionStatus.EXECUTING,
            ToolExecutionStatus.READY_TO_EXECUTE,
            where=(ToolStep.attempts == attempts, ToolStep.task_run_id == task_run_id),
            reason=f"attempt {attempts} of task run {task_run_id} ended without finishing; retried",
        ):
            observed = ToolExecutionStatus.READY_TO_EXECUTE
        if observed == ToolExecutionStatus.EXECUTING:
            raise StepNotClaimed(
                f"step {step_id} is already executing (attempt {attempts}) in another runner"
            )
        outputs: dict[str, OutputAsset] = {}
        for out_field, asset_id in fields.items():
            asset = assets.get(asset_id)
            if asset is None:
                raise LookupError(f"step {step_id}: output {out_field!r} names no asset ({asset_id})")
            outputs[out_field] = asset
        moves = [AssetMove(a, AssetStatus.IN_PROGRESS) for a in outputs.values()]
        claimed = claim_step(session, step, observed, moves, now=now, task_run_id=task_run_id, owner=owner)
        if claimed.stuck is not None:
            raise StepNotClaimed(f"step {step_id}: asset {claimed.stuck.name!r} was moved by another runner")
        if not claimed.step:
            if owner is not None:  # the lease went to another runner: say so, naming it
                require_lease(
                    session, step.mission_id, owner, seconds=get_settings().mission_lease_seconds, now=now
                )
            raise StepNotClaimed(f"step {step_id} was claimed by another runner")
        return _begun(step, outputs, *_agent_allowlist(session, step.agent_configuration_id))


# A step read in one of these states needs the full look of begin_step (done? redone? our own retry?).
_NEEDS_A_LOOK = (ToolExecutionStatus.COMPLETED, ToolExecutionStatus.EXECUTING)


def _claim_as_read(
    step: StepToRun, assets: dict[str, OutputAsset], *, task_run_id: str | None, owner: str | None
) -> _Begun:
    """The usual claim, of a step not yet run, from the hop's read: one statement on PostgreSQL (no
    transaction around it). _StaleRead, with nothing kept, if the step or an output had moved."""
    outputs = {f: assets[t["asset_id"]] for f, t in step.result_mapping.items() if t["asset_id"] in assets}
    if len(outputs) != len(step.result_mapping):
        raise _StaleRead(step.id)  # an output is missing: begin_step says which
    moves = [AssetMove(a, AssetStatus.IN_PROGRESS) for a in outputs.values()]
    with statement_scope() as conn:
        claimed = claim_step(
            conn, step, step.status, moves, now=utcnow(), task_run_id=task_run_id, owner=owner
        )
        if not claimed.step:
            raise _StaleRead(step.id)  # rolls back what SQLite wrote; PostgreSQL wrote nothing
    if step.agent_configuration_id is None:
        return _begun(step, outputs, None, [])
    with session_scope() as session:
        return _begun(step, outputs, *_agent_allowlist(session, step.agent_configuration_id))


def _begun(
    step: StepToRun,
    outputs: dict[str, OutputAsset],
    agent: str | None,
    allowlist: list[tuple[str, str | None]],
) -> _Begun:
    """The claimed attempt: its outputs now in progress; `agent` and `allowlist` from _agent_allowlist."""
    return _Begun(
        skip=False,
        tool_id=step.tool_id,
        mission_id=step.mission_id,
        attempt=step.attempts + 1,
        params=step.parameter_mapping,
        agent_configuration_id=step.agent_configuration_id,
        agent=agent,
        allowlist=allowlist,
        outputs={f: replace(a, status=AssetStatus.IN_PROGRESS) for f, a in outputs.items()},
    )


def _agent_allowlist(
    session: Session, configuration_id: str | None
) -> tuple[str | None, list[tuple[str, str | None]]]:
    if configuration_id is None:
        return None, []
    configuration = session.get(AgentConfiguration, configuration_id)
    entries = [(e.tool_id, e.container_id) for e in read_allowlist(session, configuration_id)]
    return (configuration.name if configuration else configuration_id), entries


def load_parameters(mapping: dict[str, Any], where: str = "step parameters") -> dict[str, Any]:
    """Literal values with their `${env.X}` references resolved (an operator wrote them), asset
    parameters as their (possibly offloaded) content, never resolved: an asset is data."""
    params = {
        name: resolve_env_refs(json.loads(source["json"]), where=f"{where}.{name}")
        for name, source in mapping.items()
        if source["type"] == "literal"
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
    step_id: str,
    output: BaseModel,
    llm_calls: list[LLMCallRecord],
    flow_run_id: str | None,
    begun: _Begun,
) -> StepOutcome:
    """Finish the claimed attempt: its outputs stored and ready, the step completed, its llm calls
    recorded, in one unit of work (the step, each output, the events, and the llm calls if any): one
    statement on PostgreSQL when there are no llm calls."""
    settings = get_settings()
    stored = {
        out_field: store_content(a.id, a.scope_id, a.type, getattr(output, out_field), settings)
        for out_field, a in begun.outputs.items()
    }
    summaries = {begun.outputs[f].name: content.content_summary for f, content in stored.items()}
    moves = [
        AssetMove(asset, AssetStatus.READY, content=stored[f].columns()) for f, asset in begun.outputs.items()
    ]
    finish = functools.partial(_finish, step_id, begun.attempt, {"outputs": summaries}, moves)
    prompt = completion = 0
    if not llm_calls:
        with statement_scope() as conn:
            finish(conn)
    else:
        with session_scope() as session:
            finish(session)
            prompt, completion = record_llm_calls(
                session,
                llm_calls,
                settings,
                flow_run_id=flow_run_id,
                mission_id=begun.mission_id,
                tool_step_id=step_id,
                # An agent's mission: every call is attributed to the agent configuration that ran it.
                agent_configuration_id=begun.agent_configuration_id,
            )
    written = [
        (
            replace(
                asset,
                status=AssetStatus.READY,
                type=stored[f].type,
                content_ref=stored[f].content_ref,
                size_bytes=stored[f].size_bytes,
                content_summary=stored[f].content_summary,
            ),
            getattr(output, f),
        )
        for f, asset in begun.outputs.items()
    ]
    wanted = [(a, v) for a, v in written if wants_artifact(a, settings)]
    if wanted:
        label = mission_label(begun.mission_id)
        _, task_run_id = _current_ids()
        for asset, value in wanted:
            view = asset_artifact(asset, value, label, flow_run_id)
            publisher.submit(**view, type="markdown", flow_run_id=flow_run_id, task_run_id=task_run_id)
    return StepOutcome(
        step_id=step_id,
        status=RunOutcome.COMPLETED,
        outputs=summaries,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def _finish(
    step_id: str, attempt: int, result: dict[str, Any], moves: list[AssetMove], db: Session | Connection
) -> None:
    """The finish's write in the caller's unit of work. Only the attempt that claimed the step may
    finish it: if another runner took it over, nothing is kept (StepNotClaimed rolls the unit back)."""
    finished = finish_step(db, step_id, attempt, result, moves, now=utcnow())
    if finished.stuck is not None:
        raise StepNotClaimed(f"step {step_id}: asset {finished.stuck.name!r} was moved by another runner")
    if not finished.step:
        raise StepNotClaimed(
            f"step {step_id} attempt {attempt}: another runner took the step over; result dropped"
        )


def requeue_step(step_id: str, attempt: int, error: str) -> None:
    """A failed attempt that Prefect will retry: back to ready_to_execute, so the retry can claim it."""
    with session_scope() as session:
        compare_and_set(
            session,
            ToolStep,
            step_id,
            ToolExecutionStatus.EXECUTING,
            ToolExecutionStatus.READY_TO_EXECUTE,
            where=(ToolStep.attempts == attempt,),
            values={"error_message": error},
            reason=f"attempt {attempt} failed; retried",
        )


def fail_step(step_id: str, error: str, attempt: int | None = None) -> None:
    with session_scope() as session:
        step = require(session, ToolStep, step_id)
        if attempt is not None and (step.status != ToolExecutionStatus.EXECUTING or step.attempts != attempt):
            return  # another runner took the step over: its outcome is not this attempt's to write
        hop = require(session, Hop, step.hop_id)
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
    if settings.debug_redacted_mode:
        for call in calls:
            logger.info(
                "llm call %s/%s prompt %s", call.provider, call.model, redact_prompt(call.prompt_text or "")
            )
    return add_llm_calls(
        session,
        calls,
        settings.prompt_storage,
        flow_run_id=flow_run_id,
        mission_id=mission_id,
        tool_step_id=tool_step_id,
        agent_configuration_id=agent_configuration_id,
    )


def execute_tool_step(step_id: str, run_name: str | None = None) -> StepOutcome:
    """Run one ToolStep (the body of the tool-step task, flows/hop_tasks.py); on its last attempt a
    failure marks step and assets failed and opens a Fault. `run_name` (step-<hop>.<step>:<tool>)
    names it in its log lines."""
    flow_run_id, task_run_id = _current_ids()
    begun = begin_step(step_id, task_run_id, owner=flow_run_id)
    if begun.skip:
        return StepOutcome(step_id=step_id, status=RunOutcome.SKIPPED)
    tool = get_tool(begun.tool_id)
    secrets = secret_values(begun.params)
    allowlist = Allowlist(begun.agent, tuple(begun.allowlist)) if begun.agent is not None else None
    if allowlist is not None and (refusal := allowlist.tool_refusal(begun.tool_id)):
        # Refused before the tool runs: a fault, the step failed, nothing done; a retry would not help.
        fail_step(step_id, f"ToolNotAllowed: {refusal}", begun.attempt)
        raise ToolStepError(f"ToolNotAllowed: {refusal}")
    ctx = ToolContext.from_settings(
        mission_id=begun.mission_id,
        tool_step_id=step_id,
        flow_run_id=flow_run_id,
        idempotency_key=f"{step_id}:{begun.attempt}",
        allowlist=allowlist,
    )
    started = time.perf_counter()
    try:
        params = load_parameters(begun.params, where=f"step {step_id} parameters")
        step_logs.log_step_start(begun.tool_id, begun.params, params, secrets)
        started = time.perf_counter()
        output = tool.run(params, ctx)
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {exc}", secrets)
        if context := step_logs.error_context(begun.params, secrets):
            error = f"{error} ({begun.tool_id}: {context})"
        attempt = runtime_task_run.run_count if task_run_id else 1
        final = attempt > tool.retries or isinstance(exc, ToolNotAllowed)
        # The tool's own frames stay in the traceback; the message is the scrubbed one and
        # `from None` drops the original exception, whose text may carry a resolved secret.
        failure = ToolStepError(error).with_traceback(exc.__traceback__)
        failure.__suppress_context__ = True
        step_logs.log_step_failed(
            begun.tool_id,
            failure,
            time.perf_counter() - started,
            attempt,
            final,
            where=run_name or begun.tool_id,
            secrets=secrets,
        )
        if final:
            fail_step(step_id, error, begun.attempt)
        else:
            requeue_step(step_id, begun.attempt, error)
        raise failure from None
    seconds = time.perf_counter() - started
    outcome = complete_step(step_id, output, ctx.llm_calls, flow_run_id, begun)
    step_logs.log_step_done(begun.tool_id, outcome.outputs, ctx.llm_calls, seconds, secrets)
    return outcome
