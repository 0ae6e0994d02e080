"""A think cycle's units of work: begin (recover a dead cycle, claim, load, open the run row), one model call,
the waiting_tool switch, finish (compact, then save the consciousness and mark the events in one
transaction) and fail. Plain functions; flows/think_cycle.py wraps them as Prefect tasks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from hopflow.models.access import living as access
from hopflow.models.access.runs import read_run_log, upsert_run_log
from hopflow.models.access.status import record_event
from hopflow.models.db import session_scope
from hopflow.models.enums import CycleStatus, CycleStopReason, EntityStatus, TriggerType
from hopflow.models.orm import AgentRunLog, Entity
from hopflow.models.schemas.living import LivingAgentConfigSpec
from hopflow.models.secrets import scrub
from hopflow.models.settings import LLMProviderName, get_settings
from hopflow.tasks.chat import ChatResult, chat, estimate_tokens, message_text
from hopflow.tasks.living.consciousness import (
    Compaction,
    InboxItem,
    ModelChoice,
    choose_model,
    compact,
    event_message,
    summary_prompt,
)
from hopflow.tasks.living.inbox import store_event
from hopflow.tasks.living.thoughts import cycle_thought, record_cycle_thought
from hopflow.tasks.llm import LLMCallRecord, LLMProvider, OfflineProvider, OpenAICompatibleProvider
from hopflow.tasks.mirror import known_secrets
from hopflow.tasks.steps import record_llm_calls
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.living")

DEFAULT_BATCH = 50
MAX_BATCH = 1000
ERROR_CHARS = 4000


class CycleError(LookupError):
    """A cycle that cannot start (unknown or disabled agent); nothing was claimed."""


class CycleContext(BaseModel):
    """What the cycle's tasks share: ids, the config it runs with, the claimed events, the model choice."""

    agent: str
    agent_id: str
    entity_id: str
    run_id: str
    cycle: int  # the number this cycle gets if it completes
    config_version: int
    config: LivingAgentConfigSpec
    items: list[InboxItem] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)  # the consciousness it starts from
    choice: ModelChoice
    trigger_type: str
    recovered: list[str] = Field(default_factory=list)  # dead cycles' run ids marked crashed

    @property
    def idle(self) -> bool:
        # An event or manual wake-up with nothing in the inbox has nothing to think about.
        return not self.items and self.trigger_type != TriggerType.SCHEDULE.value


class CycleOutcome(BaseModel):
    agent: str
    run_id: str
    cycle: int
    status: CycleStatus
    stop_reason: CycleStopReason
    events: int
    steps: int
    prompt_tokens: int
    completion_tokens: int
    tool_calls: int = 0
    compacted_cycles: list[int] = Field(default_factory=list)
    model: str
    model_tier: str
    error: str | None = None


# --- begin --------------------------------------------------------------------------------------------------
def _trigger_payload(item: InboxItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"event_id": item.event_id, "type": item.event_type, "data": item.data}


def recover_dead_cycles(agent: str, run_id: str) -> list[str]:
    """Cycles of this agent still open in the run log are dead: cycles of one agent run one at a time
    (the deployment's concurrency limit of 1), so a new one starting means the old process is gone.
    Prefect is told (CRASHED, so its UI agrees), the run row is mirrored, the cycle marked failed."""
    with session_scope() as session:
        row = access.read_living_agent(session, agent)
        if row is None:
            return []
        open_ids = [r.run_id for r in access.read_open_cycles(session, row.entity_id, exclude_run_id=run_id)]
    if not open_ids:
        return []
    from hopflow.tasks import mirror
    from prefect import get_client
    from prefect.states import Crashed

    snaps = []
    with get_client(sync_client=True) as client:
        for dead in open_ids:
            try:
                flow_run = client.read_flow_run(UUID(dead))
                if flow_run.state is None or not flow_run.state.is_final():
                    client.set_flow_run_state(
                        flow_run.id, Crashed(message="the process running this think cycle died"), force=True
                    )
                    flow_run = client.read_flow_run(flow_run.id)
                snaps.append(mirror.snapshot_of(flow_run, flow_name="think"))
            except Exception:
                logger.warning("could not mark dead think cycle %s crashed in Prefect", dead, exc_info=True)
    if snaps:
        mirror.mirror_runs(snaps)
    with session_scope() as session:
        for dead in open_ids:
            row_log = read_run_log(session, dead)
            if row_log is not None:  # mirroring CRASHED above has closed it already, unless Prefect refused
                close_dead_cycle(session, row_log, "its process died (found by the next cycle)")
    return open_ids


DEAD_STATES = ("CRASHED", "FAILED", "CANCELLED")


def close_dead_cycle(session: Session, row: AgentRunLog, reason: str) -> bool:
    """Fail a cycle left open by a process that died, and leave the agent a thought saying so (once)."""
    if not access.fail_open_cycle(session, row, reason):
        return False
    if row.agent_entity_id is not None:
        state = f" ({row.prefect_state})" if row.prefect_state else ""
        record_cycle_thought(
            session,
            row.agent_entity_id,
            f"cycle {row.cycle_number or '?'}: died mid-cycle{state}, flow run {row.run_id}; "
            "its events stay in the inbox for the next cycle",
        )
    return True


def close_dead_cycles(session: Session, rows: Iterable[AgentRunLog]) -> list[str]:
    """For the mirror: think runs Prefect ended CRASHED, FAILED or CANCELLED whose cycle is still open (a
    SIGKILL fires no hook; the heartbeat automation or `runs sync --stale-after` crashes the run) end failed
    on the sync that sees it, without waiting for the agent's next cycle."""
    return [
        row.run_id
        for row in rows
        if row.cycle_status in (CycleStatus.RUNNING, CycleStatus.WAITING_TOOL)
        and row.prefect_state in DEAD_STATES
        and close_dead_cycle(session, row, f"its flow run ended {row.prefect_state} (found by the mirror)")
    ]


def provider_for(config: LivingAgentConfigSpec) -> LLMProvider:
    """The config's provider, unless HOPFLOW_LLM_PROVIDER=offline overrides it (tests, demos, no endpoint)."""
    settings = get_settings()
    forced_offline = (
        os.environ.get("HOPFLOW_LLM_PROVIDER", "").strip().lower() == LLMProviderName.OFFLINE.value
    )
    if forced_offline or config.model.provider == "offline":
        return OfflineProvider(model=config.model.name)
    return OpenAICompatibleProvider(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        model=config.model.name,
        timeout=settings.llm_timeout_seconds,
    )


def begin_cycle(
    agent: str,
    run_id: str,
    trigger_type: str = TriggerType.MANUAL.value,
    batch_size: int = DEFAULT_BATCH,
    incoming: dict[str, Any] | None = None,
) -> CycleContext:
    """Push the event that started the run (if any), recover dead cycles, claim, load, open the run row."""
    if incoming:
        data = incoming.get("data")
        store_event(
            agent,
            str(incoming.get("event_id") or ""),
            str(incoming.get("type") or ""),
            data if isinstance(data, dict) else {},
        )
    recovered = recover_dead_cycles(agent, run_id)
    batch = max(1, min(batch_size, MAX_BATCH))
    with session_scope() as session:
        row = access.read_living_agent(session, agent)
        if row is None:
            raise CycleError(f"no living agent {agent!r}")
        entity = session.get(Entity, row.entity_id)
        if entity is None or entity.status != EntityStatus.ACTIVE:
            raise CycleError(f"living agent {agent!r} is disabled (hopflow living enable {agent})")
        config_row = access.read_config(session, row)
        config = LivingAgentConfigSpec.model_validate(config_row.config)
        consciousness = access.read_consciousness(session, row.entity_id)
        items = [
            InboxItem(row_id=e.id, event_id=e.event_id, event_type=e.event_type, data=e.data or {})
            for e in access.claim_events(session, row.entity_id, batch)
        ]
        choice = choose_model(config, items, consciousness.token_estimate)
        cycle = consciousness.cycle_count + 1
        try:
            trigger = TriggerType(trigger_type)
        except ValueError:
            trigger = TriggerType.MANUAL
        log = upsert_run_log(
            session,
            run_id,
            flow_name="think",
            agent_entity_id=row.entity_id,
            cycle_number=cycle,
            trigger_type=trigger,
            trigger_payload=_trigger_payload(items[0] if items else None),
            inbox_event_count=len(items),
            model_tier=choice.tier,
            model_reason=choice.reason[:255],
            living_config_version=config_row.version,
        )
        access.set_cycle_status(session, log, CycleStatus.RUNNING)
        return CycleContext(
            agent=agent,
            agent_id=row.id,
            entity_id=row.entity_id,
            run_id=run_id,
            cycle=cycle,
            config_version=config_row.version,
            config=config,
            items=items,
            messages=list(consciousness.messages or []),
            choice=choice,
            trigger_type=trigger.value,
            recovered=recovered,
        )


def new_messages(ctx: CycleContext) -> list[dict[str, Any]]:
    """The claimed events as this cycle's first messages."""
    return [event_message(item, ctx.cycle) for item in ctx.items]


# --- the model loop's units ---------------------------------------------------------------------------------
def _record_call(ctx: CycleContext, result: ChatResult, prompt_text: str, purpose: str) -> None:
    record = LLMCallRecord(
        provider=result.provider,
        model=result.model,
        prompt_slug="think-cycle",
        purpose=purpose,
        used_by=f"living:{ctx.agent}",
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        duration_ms=result.duration_ms,
        prompt_text=prompt_text,
        output_text=message_text(result.as_message()),
    )
    with session_scope() as session:
        record_llm_calls(
            session, [record], get_settings(), flow_run_id=ctx.run_id, mission_id=None, tool_step_id=None
        )


def model_call(
    ctx: CycleContext, cycle_messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> ChatResult:
    """One model call over system + consciousness + this cycle's messages; an llm_calls row records it."""
    config = ctx.config
    system = [{"role": "system", "content": config.agent.system}] if config.agent.system else []
    messages = system + ctx.messages + cycle_messages
    result = chat(
        provider_for(config),
        messages,
        tools=tools,
        model=ctx.choice.model,
        tool_choice=config.loop.tool_choice,
        temperature=config.model.temperature,
        max_output_tokens=config.model.max_output_tokens,
        script_path=get_settings().llm_script,
    )
    _record_call(ctx, result, "\n".join(message_text(m) for m in messages), purpose="think")
    return result


def set_waiting_tool(run_id: str, waiting: bool) -> None:
    with session_scope() as session:
        log = read_run_log(session, run_id)
        if log is not None:
            access.set_cycle_status(
                session, log, CycleStatus.WAITING_TOOL if waiting else CycleStatus.RUNNING
            )


# --- finish -------------------------------------------------------------------------------------------------
def _compaction(ctx: CycleContext, messages: list[dict[str, Any]]) -> Compaction:
    config = ctx.config

    def summarise(older: list[dict[str, Any]]) -> str:
        # Network before the save's transaction, never inside it.
        prompt = [{"role": "user", "content": summary_prompt(older)}]
        model = config.adaptive_model.cheap if config.adaptive_model else config.model.name
        result = chat(provider_for(config), prompt, model=model, script_path=None)
        _record_call(ctx, result, prompt[0]["content"], purpose="compaction")
        return result.text

    return compact(messages, config.consciousness, summarise)


def finish_cycle(
    ctx: CycleContext,
    cycle_messages: list[dict[str, Any]],
    stop_reason: CycleStopReason,
    *,
    steps: int,
    prompt_tokens: int,
    completion_tokens: int,
    tool_calls: int,
    tools_run: list[str] | None = None,
) -> CycleOutcome:
    """Compact if over budget, then in ONE transaction: save the consciousness, mark the claimed events
    processed, record the compaction and the cycle's thought, and close the run row. An idle cycle saves
    nothing (and thinks no thought: it did nothing)."""
    outcome = CycleOutcome(
        agent=ctx.agent,
        run_id=ctx.run_id,
        cycle=ctx.cycle,
        status=CycleStatus.COMPLETED,
        stop_reason=stop_reason,
        events=len(ctx.items),
        steps=steps,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tool_calls=tool_calls,
        model=ctx.choice.model,
        model_tier=ctx.choice.tier.value,
    )
    if stop_reason == CycleStopReason.IDLE:
        with session_scope() as session:
            log = read_run_log(session, ctx.run_id)
            assert log is not None
            upsert_run_log(session, ctx.run_id, stop_reason=stop_reason, step_count=0)
            access.set_cycle_status(session, log, CycleStatus.COMPLETED, reason="idle: nothing in the inbox")
        return outcome
    compaction = _compaction(ctx, ctx.messages + cycle_messages)
    with session_scope() as session:
        access.save_cycle(
            session,
            entity_id=ctx.entity_id,
            expected_cycle_count=ctx.cycle - 1,
            messages=compaction.messages,
            token_estimate=compaction.tokens_after,
            event_row_ids=[i.row_id for i in ctx.items],
        )
        if compaction.changed:
            record_event(
                session,
                action="consciousness_compacted",
                subject_type="agent_consciousness",
                subject_id=ctx.entity_id,
                actor_entity_id=ctx.entity_id,
                description=f"{compaction.strategy}: cycles up to {compaction.cycles_compacted[-1]}",
                before={"token_estimate": compaction.tokens_before},
                after={
                    "token_estimate": compaction.tokens_after,
                    "cycles": len(compaction.cycles_compacted),
                    "strategy": compaction.strategy,
                    "cycle": ctx.cycle,
                },
            )
        log = upsert_run_log(
            session,
            ctx.run_id,
            stop_reason=stop_reason,
            step_count=steps,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        access.set_cycle_status(session, log, CycleStatus.COMPLETED, reason=f"stopped: {stop_reason.value}")
        ended = f"completed ({stop_reason.value})"
        if compaction.changed:
            ended += f", compacted {len(compaction.cycles_compacted)} older cycle(s)"
        _think(session, ctx, cycle_messages, tools_run or [], steps, ended)
    return outcome.model_copy(update={"compacted_cycles": compaction.cycles_compacted})


def _think(
    session: Session,
    ctx: CycleContext,
    cycle_messages: list[dict[str, Any]],
    tools_run: list[str],
    steps: int,
    outcome: str,
) -> None:
    record_cycle_thought(
        session,
        ctx.entity_id,
        cycle_thought(
            cycle=ctx.cycle,
            event_types=[i.event_type for i in ctx.items],
            messages=cycle_messages,
            tools=tools_run,
            steps=steps,
            outcome=outcome,
        ),
    )


def fail_cycle(
    ctx: CycleContext,
    error: str,
    *,
    steps: int,
    prompt_tokens: int,
    completion_tokens: int,
    tools_run: list[str] | None = None,
) -> None:
    """The run row ends failed; consciousness and inbox stay as the last completed cycle saved them."""
    message = scrub(error, known_secrets(get_settings()))[:ERROR_CHARS]
    with session_scope() as session:
        log = read_run_log(session, ctx.run_id)
        if log is None:
            return
        upsert_run_log(
            session,
            ctx.run_id,
            stop_reason=CycleStopReason.ERROR,
            error_message=message,
            step_count=steps,
            prompt_tokens=prompt_tokens or None,
            completion_tokens=completion_tokens or None,
        )
        if log.cycle_status in (CycleStatus.RUNNING, CycleStatus.WAITING_TOOL):
            access.set_cycle_status(session, log, CycleStatus.FAILED, reason=message[:255])
        # The error's kind only: its text may quote a provider's answer or a tool's output.
        kind = message.split(":", 1)[0][:64]
        _think(session, ctx, [], tools_run or [], steps, f"failed ({kind}); its events stay in the inbox")


def cycle_tokens(messages: list[dict[str, Any]]) -> int:
    return estimate_tokens(messages)


def next_cycle_number(agent: str) -> int:
    """The number the agent's next completed cycle gets (for the flow run's name)."""
    with session_scope() as session:
        row = access.read_living_agent(session, agent)
        if row is None:
            raise CycleError(f"no living agent {agent!r}")
        return access.read_consciousness(session, row.entity_id).cycle_count + 1
