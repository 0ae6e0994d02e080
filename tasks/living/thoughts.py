"""The thought a think cycle leaves (seed 000 thought_logs, stage `think`): what the cycle did, in one line —
events handled, model and tool calls, missions started, how it ended. Built from counts, names from the
tool catalog and ids hopflow made; never from prompt or message text (outside data stays out of it)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from hopflow.models.access.thoughts import record_thought
from hopflow.tasks.living.missions import START_MISSION
from sqlalchemy.orm import Session

STAGE = "think"
MAX_NAMED = 8  # tools or missions named in a thought; the rest are counted


def _named(names: Iterable[str]) -> str:
    counts = Counter(names)
    parts = [f"{n} x{c}" if c > 1 else n for n, c in list(counts.items())[:MAX_NAMED]]
    if len(counts) > MAX_NAMED:
        parts.append(f"{len(counts) - MAX_NAMED} more")
    return ", ".join(parts)


def _missions(messages: list[dict[str, Any]]) -> list[str]:
    """`<mission id> <status>` of each mission start_mission answered with (hopflow's own ids and words)."""
    started = []
    for message in messages:
        if message.get("role") != "tool" or message.get("tool_name") != START_MISSION:
            continue
        try:
            answer = json.loads(str(message.get("content") or ""))
        except ValueError:
            continue
        if isinstance(answer, dict) and isinstance(answer.get("mission_id"), str):
            status = str(answer.get("status", "?"))[:32]
            started.append(f"{answer['mission_id'][:36]} {status}")
    return started


def cycle_thought(
    *,
    cycle: int,
    event_types: list[str],
    messages: list[dict[str, Any]],
    tools: Iterable[str],
    steps: int,
    outcome: str,
) -> str:
    """One line: `cycle 3; 2 event(s) (service x2); 2 model call(s); tools: a, b; missions: <id> completed;
    <outcome>`.

    `tools` are the names the cycle ran, already limited to its catalog (a model's invented name is not
    repeated here)."""
    parts = [f"cycle {cycle}"]
    if event_types:
        parts.append(f"{len(event_types)} event(s) ({_named(event_types)})")
    else:
        parts.append("no new event")
    parts.append(f"{steps} model call(s)")
    ran = list(tools)
    parts.append(f"tools: {_named(ran)}" if ran else "no tool")
    if missions := _missions(messages):
        parts.append(f"missions: {_named(missions)}")
    parts.append(outcome)
    return "; ".join(parts)


def record_cycle_thought(session: Session, entity_id: str, text: str) -> None:
    record_thought(session, entity_id=entity_id, thought=text, stage=STAGE)
