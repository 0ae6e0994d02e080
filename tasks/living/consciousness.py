"""The consciousness as data: event messages, compaction by token budget, and the adaptive model rule. Pure.

Every stored message carries `cycle` (the cycle that added it), so compaction cuts between whole
cycles: a tool call and its result always belong to the same cycle and are never separated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hopflow.models.enums import InboxEventType, ModelTier
from hopflow.models.schemas.living import ConsciousnessConfig, LivingAgentConfigSpec
from hopflow.tasks.chat import estimate_tokens, message_text
from pydantic import BaseModel

SUMMARY_PREFIX = "Summary of earlier cycles"
# The adaptive rule's thresholds (README, "Living agents"): new input above this many tokens is "large".
LARGE_INPUT_TOKENS = 2_000
SMALL_INPUT_TOKENS = 200


class InboxItem(BaseModel):
    """A claimed inbox event as the cycle sees it (no ORM object leaves a task)."""

    row_id: str
    event_id: str
    event_type: str
    data: dict[str, Any]


def event_message(item: InboxItem, cycle: int) -> dict[str, Any]:
    """The user message an inbox event becomes: its type, id and data as JSON (data, never instructions)."""
    body = json.dumps(item.data, sort_keys=True, ensure_ascii=False)
    return {"role": "user", "content": f"[{item.event_type} {item.event_id}] {body}", "cycle": cycle}


# --- compaction ---------------------------------------------------------------------------------------------
class Compaction(BaseModel):
    messages: list[dict[str, Any]]
    tokens_before: int
    tokens_after: int
    cycles_compacted: list[int]
    strategy: str

    @property
    def changed(self) -> bool:
        return bool(self.cycles_compacted)


def compact(
    messages: list[dict[str, Any]],
    config: ConsciousnessConfig,
    summarise: Callable[[list[dict[str, Any]]], str] | None = None,
) -> Compaction:
    """Over `maxTokens`: the older cycles (beyond `minRecentCycles`) become one summary (or are dropped).

    The most recent `minRecentCycles` cycles always stay verbatim, even if that leaves the estimate above
    the budget; a cycle is compacted whole or not at all.
    """
    before = estimate_tokens(messages)
    unchanged = Compaction(
        messages=messages,
        tokens_before=before,
        tokens_after=before,
        cycles_compacted=[],
        strategy=config.compaction_strategy,
    )
    if before <= config.max_tokens:
        return unchanged
    cycles = sorted({int(m.get("cycle", 0)) for m in messages})
    keep = set(cycles[-config.min_recent_cycles :]) if config.min_recent_cycles else set()
    older = [m for m in messages if int(m.get("cycle", 0)) not in keep]
    recent = [m for m in messages if int(m.get("cycle", 0)) in keep]
    if not older:
        return unchanged
    compacted = sorted({int(m.get("cycle", 0)) for m in older})
    kept: list[dict[str, Any]] = []
    if config.compaction_strategy == "summarize":
        text = summarise(older) if summarise is not None else default_summary(older)
        label = f"{SUMMARY_PREFIX} (up to cycle {compacted[-1]})"
        kept = [{"role": "system", "content": f"{label}:\n{text}", "cycle": compacted[-1], "summary": True}]
    result = kept + recent
    return Compaction(
        messages=result,
        tokens_before=before,
        tokens_after=estimate_tokens(result),
        cycles_compacted=compacted,
        strategy=config.compaction_strategy,
    )


def summary_prompt(older: Sequence[dict[str, Any]], limit_chars: int = 200_000) -> str:
    """What the summarising model is asked: the older messages as a transcript, bounded."""
    lines = [f"{m.get('role')}: {message_text(m)}" for m in older]
    transcript = "\n".join(lines)
    if len(transcript) > limit_chars:
        transcript = transcript[-limit_chars:]
    return (
        "Summarise this conversation history of an agent so it can carry on without it. Keep facts, "
        "decisions, open tasks and names; drop chatter.\n\n" + transcript
    )


def default_summary(older: Sequence[dict[str, Any]]) -> str:
    """Without a model: a line per older cycle with its message and tool-call counts."""
    by_cycle: dict[int, list[dict[str, Any]]] = {}
    for m in older:
        by_cycle.setdefault(int(m.get("cycle", 0)), []).append(m)
    return "\n".join(
        f"cycle {c}: {len(ms)} messages, {sum(len(m.get('tool_calls') or []) for m in ms)} tool calls"
        for c, ms in sorted(by_cycle.items())
    )


# --- the adaptive model -------------------------------------------------------------------------------------
class ModelChoice(BaseModel):
    tier: ModelTier
    model: str
    reason: str


def choose_model(
    config: LivingAgentConfigSpec, items: Sequence[InboxItem], consciousness_tokens: int
) -> ModelChoice:
    """The documented rule, first match wins:

    1. no `adaptiveModel`: the config's model, tier standard;
    2. a `plan` event, or new input above LARGE_INPUT_TOKENS: reasoning;
    3. no new event (a periodic cycle), or only `service` events under SMALL_INPUT_TOKENS in all: cheap;
    4. otherwise (space messages, mixed input): standard.
    """
    if config.adaptive_model is None:
        return ModelChoice(
            tier=ModelTier.STANDARD, model=config.model.name, reason="no adaptiveModel in the config"
        )
    tiers = config.adaptive_model
    new_tokens = sum(estimate_tokens([event_message(i, 0)]) for i in items)
    plans = sum(1 for i in items if i.event_type == InboxEventType.PLAN)
    if plans:
        return ModelChoice(tier=ModelTier.REASONING, model=tiers.reasoning, reason=f"{plans} plan event(s)")
    if new_tokens > LARGE_INPUT_TOKENS:
        return ModelChoice(
            tier=ModelTier.REASONING,
            model=tiers.reasoning,
            reason=f"new input of {new_tokens} tokens > {LARGE_INPUT_TOKENS}",
        )
    if not items:
        return ModelChoice(tier=ModelTier.CHEAP, model=tiers.cheap, reason="no new event (periodic cycle)")
    if all(i.event_type == InboxEventType.SERVICE for i in items) and new_tokens < SMALL_INPUT_TOKENS:
        return ModelChoice(
            tier=ModelTier.CHEAP,
            model=tiers.cheap,
            reason=f"only service events, {new_tokens} tokens < {SMALL_INPUT_TOKENS}",
        )
    kinds = ", ".join(sorted({i.event_type for i in items}))
    return ModelChoice(
        tier=ModelTier.STANDARD, model=tiers.standard, reason=f"{len(items)} event(s): {kinds}"
    )
