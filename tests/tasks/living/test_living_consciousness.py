"""Compaction by token budget, the adaptive model rule and the offline provider's tool-call script (pure)."""

from __future__ import annotations

import json
from pathlib import Path

from hopflow.models.enums import ModelTier
from hopflow.models.schemas.living import ConsciousnessConfig, LivingAgentConfigSpec
from hopflow.tasks.chat import ChatScript, chat, estimate_tokens, offline_chat, wire_messages
from hopflow.tasks.living.consciousness import SUMMARY_PREFIX, InboxItem, choose_model, compact
from hopflow.tasks.llm import OfflineProvider

SEED_EXAMPLE = Path(__file__).with_name("seed_003_config.json")


def _cycle(n: int, words: int = 40, tool: bool = False) -> list[dict]:
    msgs: list[dict] = [{"role": "user", "content": "word " * words, "cycle": n}]
    if tool:
        call = {"id": f"c{n}", "type": "function", "function": {"name": "t", "arguments": "{}"}}
        msgs.append({"role": "assistant", "content": "", "tool_calls": [call], "cycle": n})
        msgs.append({"role": "tool", "tool_call_id": f"c{n}", "content": "{}", "cycle": n})
    msgs.append({"role": "assistant", "content": "ok", "cycle": n})
    return msgs


def test_under_budget_nothing_changes() -> None:
    messages = _cycle(1) + _cycle(2)
    result = compact(messages, ConsciousnessConfig(maxTokens=10_000, minRecentCycles=1))
    assert not result.changed and result.messages == messages


def test_summarize_keeps_min_recent_cycles_verbatim_and_replaces_older_with_one_summary() -> None:
    messages = [m for n in range(1, 7) for m in _cycle(n, tool=n % 2 == 0)]
    asked: list[list[dict]] = []

    def summarise(older: list[dict]) -> str:
        asked.append(older)
        return "they talked"

    config = ConsciousnessConfig(maxTokens=100, minRecentCycles=2, compactionStrategy="summarize")
    result = compact(messages, config, summarise)
    assert result.cycles_compacted == [1, 2, 3, 4]
    assert {m["cycle"] for m in asked[0]} == {1, 2, 3, 4}
    summary, *recent = result.messages
    assert summary["role"] == "system" and summary["content"].startswith(SUMMARY_PREFIX)
    assert "they talked" in summary["content"]
    assert recent == [m for m in messages if m["cycle"] in (5, 6)]
    assert (
        result.tokens_before
        == estimate_tokens(messages)
        > result.tokens_after
        == estimate_tokens(result.messages)
    )


def test_truncate_drops_older_cycles_and_never_splits_a_tool_call_from_its_result() -> None:
    messages = [m for n in range(1, 5) for m in _cycle(n, tool=True)]
    result = compact(
        messages, ConsciousnessConfig(maxTokens=50, minRecentCycles=1, compactionStrategy="truncate")
    )
    assert [m["cycle"] for m in result.messages] == [4, 4, 4, 4]
    calls = {c["id"] for m in result.messages for c in m.get("tool_calls", [])}
    answers = {m["tool_call_id"] for m in result.messages if m["role"] == "tool"}
    assert calls == answers == {"c4"}


def test_min_recent_cycles_wins_over_the_budget() -> None:
    messages = _cycle(1, words=500) + _cycle(2, words=500)
    result = compact(messages, ConsciousnessConfig(maxTokens=10, minRecentCycles=2))
    assert not result.changed and result.messages == messages


def _items(*specs: tuple[str, str]) -> list[InboxItem]:
    return [
        InboxItem(row_id=str(i), event_id=f"e{i}", event_type=t, data={"text": text})
        for i, (t, text) in enumerate(specs)
    ]


def test_adaptive_rule_picks_tier_with_a_reason() -> None:
    config = LivingAgentConfigSpec.model_validate(json.loads(SEED_EXAMPLE.read_text()))
    plan = choose_model(config, _items(("space_message", "hi"), ("plan", "ship v2")), 0)
    assert (plan.tier, plan.model) == (ModelTier.REASONING, "o3") and "plan" in plan.reason
    big = choose_model(config, _items(("space_message", "word " * 3000)), 0)
    assert big.tier == ModelTier.REASONING and "tokens" in big.reason
    service = choose_model(config, _items(("service", "ping")), 0)
    assert (service.tier, service.model) == (ModelTier.CHEAP, "gpt-4o-mini")
    periodic = choose_model(config, [], 0)
    assert periodic.tier == ModelTier.CHEAP and "periodic" in periodic.reason
    chat_msgs = choose_model(config, _items(("space_message", "hello"), ("service", "x")), 0)
    assert (chat_msgs.tier, chat_msgs.model) == (ModelTier.STANDARD, "gpt-4o")
    no_adaptive = config.model_copy(update={"adaptive_model": None})
    assert choose_model(no_adaptive, _items(("plan", "x")), 0).model == "gpt-4o"


def test_offline_script_answers_with_tool_calls_then_text_deterministically() -> None:
    script = ChatScript.model_validate(
        {
            "rules": [
                {"when": "deploy", "toolCalls": [{"name": "confirm", "arguments": {"v": 1}}], "text": "asked"}
            ]
        }
    )
    tools = [{"name": "confirm", "description": "", "parameters": {}}]
    messages = [{"role": "user", "content": "please deploy", "cycle": 1}]
    text, calls = offline_chat(messages, model="m", tools=tools, script=script)
    again = offline_chat(messages, model="m", tools=tools, script=script)
    assert text == "" and [(c.name, c.arguments) for c in calls] == [("confirm", {"v": 1})]
    assert again[1] == calls
    messages += [
        {"role": "assistant", "content": "", "tool_calls": [calls[0].as_message_part()]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "{}", "tool_name": "confirm"},
    ]
    assert offline_chat(messages, model="m", tools=tools, script=script) == ("asked", [])
    # A tool that is not offered is never called.
    assert offline_chat(messages[:1], model="m", tools=[], script=script)[1] == []


def test_offline_chat_counts_tokens_and_wire_messages_drop_private_keys() -> None:
    messages = [{"role": "user", "content": "hello there", "cycle": 3, "summary": True}]
    result = chat(OfflineProvider(), messages, model="x")
    assert result.prompt_tokens == estimate_tokens(messages) > 0 and result.completion_tokens > 0
    assert wire_messages(messages) == [{"role": "user", "content": "hello there"}]
