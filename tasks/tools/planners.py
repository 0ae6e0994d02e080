"""Planners: tools that read a mission's state and return its next hop (or None when it is done).

A planner takes `state` (the mission's goal, its assets by name with type/status/summary, and the
hops so far) and returns `hop`: a hop in the spec format, which hopflow checks before storing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hopflow.tasks.tools.registry import ToolContext, tool
from pydantic import BaseModel, Field


class PlannerOutput(BaseModel):
    hop: dict[str, Any] | None = None
    reason: str = ""


class ChecklistInput(BaseModel):
    state: dict[str, Any]
    checklist: list[dict[str, Any]] = Field(min_length=1)


@tool("planner.checklist", description="Deterministic: the first hop whose outputs are not ready yet.")
def checklist_planner(params: ChecklistInput) -> PlannerOutput:
    """Walk a fixed list of hops; skip those already run, and those whose mission outputs are all ready.

    Deterministic: the same state gives the same hop, which is what a resumed mission needs.
    """
    done = {h["name"] for h in params.state.get("hops", []) if h.get("status") == "completed"}
    assets = params.state.get("assets", {})
    remaining = []
    for hop in params.checklist:
        produced = [
            t["asset"] if isinstance(t, dict) else t
            for step in hop.get("steps", [])
            for t in (step.get("result_mapping") or {}).values()
        ]
        if hop.get("name") in done:
            continue
        if produced and all(assets.get(name, {}).get("status") == "ready" for name in produced):
            continue
        remaining.append(hop)
    if not remaining:
        return PlannerOutput(hop=None, reason="every hop of the checklist is done")
    nxt = dict(remaining[0])
    nxt["is_final"] = len(remaining) == 1
    return PlannerOutput(hop=nxt, reason=f"{len(remaining)} hop(s) left")


class LLMPlannerInput(BaseModel):
    state: dict[str, Any]
    tools: list[str] = Field(default_factory=list, description="Tool ids the planner may use.")
    instructions: str = ""
    model: str | None = None


MAX_REASON = 500
JSON_BLOCK = re.compile(r"\{.*\}", re.DOTALL)


@tool("planner.llm", description="Ask the LLM provider for the next hop as JSON.", retries=1)
def llm_planner(params: LLMPlannerInput, ctx: ToolContext) -> PlannerOutput:
    from hopflow.tasks.llm import LLMCallRecord

    prompt = (
        "You plan the next hop of a mission. Reply with JSON only: "
        '{"reasoning": "one or two sentences on why this hop", '
        '"hop": {"name": ..., "is_final": bool, "steps": [{"tool": ..., "parameter_mapping": '
        '{"param": {"asset": NAME} or {"literal": VALUE}}, "result_mapping": {"output": {"asset": NAME, '
        '"role": "output"|"intermediate"}}}]}} or {"reasoning": ..., "hop": null} when the mission is done.\n'
        f"Tools you may use: {', '.join(params.tools) or 'any'}.\n{params.instructions}\n"
        f"Mission state: {json.dumps(params.state, default=str)}"
    )
    result = ctx.provider().complete(prompt, model=params.model)
    ctx.llm_calls.append(
        LLMCallRecord(
            provider=result.provider,
            model=result.model,
            prompt_slug="planner.llm",
            purpose="plan",
            used_by="planner.llm",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            duration_ms=result.duration_ms,
            prompt_text=prompt,
            output_text=result.text,
        )
    )
    match = JSON_BLOCK.search(result.text)
    if match is None:
        raise ValueError(f"planner.llm: the model's answer holds no JSON object ({len(result.text)} chars)")
    try:
        answer = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise ValueError(f"planner.llm: the model's JSON does not parse: {exc}") from exc
    if not isinstance(answer, dict) or "hop" not in answer:
        raise ValueError("planner.llm: the model's JSON has no 'hop' key")
    if answer["hop"] is not None and params.tools:
        used = {s.get("tool") for s in answer["hop"].get("steps", [])}
        refused = sorted(str(t) for t in used - set(params.tools))
        if refused:
            raise ValueError(f"planner.llm: the model proposed tools it may not use: {', '.join(refused)}")
    # The model's own short summary of why (a thought log entry), bounded; never the prompt.
    reasoning = answer.get("reasoning")
    reason = " ".join(reasoning.split())[:MAX_REASON] if isinstance(reasoning, str) else ""
    return PlannerOutput(hop=answer["hop"], reason=reason)
