"""think_cycle_flow(agent): one think cycle of a living agent (seed 003), flow `think`, run `<agent>/<n>`.

Claim the inbox, run the model loop (each model call a task run `model-call-<n>`, each tool call a task run
`tool:<name>`), then save the consciousness and mark the events processed in one transaction. Only
orchestration here: reads and writes happen in hopflow.tasks.living.
"""

from __future__ import annotations

import json
from typing import Any

from hopflow.flows.mirror import mirror_hooks
from hopflow.flows.mission import run_mission
from hopflow.models.enums import CycleStopReason, TriggerType
from hopflow.tasks.chat import ChatResult, ToolCall
from hopflow.tasks.living import cycles
from hopflow.tasks.living.cycles import CycleContext, CycleOutcome
from hopflow.tasks.living.missions import MAX_MISSIONS_PER_CYCLE
from hopflow.tasks.living.tools import CycleTool, run_tool_call, tool_catalog
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run


def _run_name() -> str:
    agent = runtime_flow_run.parameters.get("agent", "")
    try:
        number: int | str = cycles.next_cycle_number(agent)
    except LookupError:  # an unknown agent (CycleError): begin-cycle fails the run with the error
        number = "?"
    return f"{agent}/{number}"  # "think > assistant/3"


# The consciousness travels in these tasks' arguments: hashing it for a cache key costs more than the call.
@task(name="begin-cycle", cache_policy=NO_CACHE)
def begin_cycle(
    agent: str, trigger_type: str, batch_size: int, incoming: dict[str, Any] | None
) -> CycleContext:
    return cycles.begin_cycle(agent, str(runtime_flow_run.id), trigger_type, batch_size, incoming)


@task(name="model-call", cache_policy=NO_CACHE)
def model_call(
    ctx: CycleContext, cycle_messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> ChatResult:
    return cycles.model_call(ctx, cycle_messages, tools)


# `start_mission` runs the mission as a subflow of its `tool:start_mission` task run, not as a new flow
# run of a deployment: the model is owed the mission's id *and* status in this cycle, and a subflow gives
# it that with Prefect's lineage (the mission's run nested under the tool call that asked for it) in any
# process that runs cycles (`hopflow serve`, `hopflow living think`, `living drain`). A new flow run would
# need a deployment per spec and a runner polling for it (2-8 s before it starts), and the model would
# only hear "scheduled". A subflow costs ~1-2 s, little beside a mission; the cycle waits (waiting_tool),
# and the agent's concurrency limit of 1 keeps its next cycle behind it. The mission is stored before it
# runs, so a cycle killed mid-mission leaves one that `hopflow missions resume` finishes.
@task(name="tool", cache_policy=NO_CACHE)
def tool_call(ctx: CycleContext, call: ToolCall, catalog: dict[str, CycleTool]) -> dict[str, Any]:
    return run_tool_call(
        call,
        catalog,
        ctx.config,
        agent=ctx.agent,
        cycle=ctx.cycle,
        run_id=ctx.run_id,
        mission_runner=run_mission,
    )


@task(name="list-tools", cache_policy=NO_CACHE)
def list_tools(ctx: CycleContext) -> dict[str, CycleTool]:
    """The tools offered this cycle (MCP servers are asked for theirs)."""
    return tool_catalog(ctx.config)


@task(name="finish-cycle", cache_policy=NO_CACHE)
def finish_cycle(
    ctx: CycleContext,
    cycle_messages: list[dict[str, Any]],
    stop: CycleStopReason,
    usage: dict[str, int],
    tools_run: list[str] | None = None,
) -> CycleOutcome:
    return cycles.finish_cycle(ctx, cycle_messages, stop, tools_run=tools_run or [], **usage)


@task(name="fail-cycle", cache_policy=NO_CACHE)
def fail_cycle(ctx: CycleContext, error: str, usage: dict[str, int], tools_run: list[str]) -> None:
    cycles.fail_cycle(
        ctx,
        error,
        tools_run=tools_run,
        steps=usage["steps"],
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
    )


def _tool_message(ctx: CycleContext, call: ToolCall, result: dict[str, Any]) -> dict[str, Any]:
    content = json.dumps(result, sort_keys=True, ensure_ascii=False)
    return {
        "role": "tool",
        "tool_call_id": call.id,
        "content": content,
        "tool_name": call.name,
        "cycle": ctx.cycle,
    }


@flow(name="think", flow_run_name=_run_name, log_prints=True, **mirror_hooks())
def think_cycle_flow(
    agent: str,
    trigger_type: str = TriggerType.MANUAL.value,
    batch_size: int = cycles.DEFAULT_BATCH,
    incoming: dict[str, Any] | None = None,
) -> CycleOutcome:
    """One think cycle of `agent`: claim up to `batch_size` inbox events, think, save. `incoming` (a Prefect
    event's payload: event_id, type, data) is pushed into the inbox first."""
    ctx = begin_cycle(agent, trigger_type, batch_size, incoming)
    usage = {"steps": 0, "prompt_tokens": 0, "completion_tokens": 0, "tool_calls": 0}
    if ctx.idle:
        return finish_cycle(ctx, [], CycleStopReason.IDLE, usage)
    loop = ctx.config.loop
    catalog = list_tools(ctx) if loop.tool_choice != "none" else {}
    offered = [t.offer() for t in catalog.values()]
    messages = cycles.new_messages(ctx)
    stop = CycleStopReason.MAX_STEPS
    missions = 0
    ran: list[str] = []  # names from the catalog only, for the cycle's thought
    try:
        for step in range(1, loop.max_steps + 1):
            if usage["prompt_tokens"] + usage["completion_tokens"] >= loop.max_tokens_per_cycle:
                stop = CycleStopReason.BUDGET
                break
            result = model_call.with_options(task_run_name=f"model-call-{step}")(ctx, messages, offered)
            usage["steps"] += 1
            usage["prompt_tokens"] += result.prompt_tokens
            usage["completion_tokens"] += result.completion_tokens
            messages.append({**result.as_message(), "cycle": ctx.cycle})
            if not result.tool_calls:
                stop = CycleStopReason.END_TURN
                break
            if usage["prompt_tokens"] + usage["completion_tokens"] >= loop.max_tokens_per_cycle:
                # Every call gets an answer, so no tool call is ever stored without its result.
                skipped = {"error": "not run: the cycle's token budget (loop.maxTokensPerCycle) is spent"}
                messages += [_tool_message(ctx, call, skipped) for call in result.tool_calls]
                stop = CycleStopReason.BUDGET
                break
            cycles.set_waiting_tool(ctx.run_id, True)
            for call in result.tool_calls:
                tool = catalog.get(call.name)
                if tool is not None and tool.kind == "mission" and missions >= MAX_MISSIONS_PER_CYCLE:
                    answer = {"error": f"not run: at most {MAX_MISSIONS_PER_CYCLE} missions per cycle"}
                else:
                    answer = tool_call.with_options(task_run_name=f"tool:{call.name}")(ctx, call, catalog)
                    if tool is not None:
                        ran.append(tool.name)
                        missions += tool.kind == "mission" and "mission_id" in answer  # refusals are free
                messages.append(_tool_message(ctx, call, answer))
                usage["tool_calls"] += 1
            cycles.set_waiting_tool(ctx.run_id, False)
    except BaseException as exc:
        fail_cycle(ctx, f"{type(exc).__name__}: {exc}", usage, ran)
        raise
    return finish_cycle(ctx, messages, stop, usage, ran)
