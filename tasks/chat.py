"""Chat with tool calling over tasks/llm.py's providers: OpenAI chat completions (`tools` / `tool_calls`) over
HTTP, and the offline provider answering from a deterministic script (HOPFLOW_LLM_SCRIPT) for tests and demos.

Messages are OpenAI chat messages (role system|user|assistant|tool, content, tool_calls, tool_call_id):
the shape a living agent's consciousness is stored in.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from hopflow.tasks.llm import (
    LLMProvider,
    LLMProviderError,
    OfflineProvider,
    OpenAICompatibleProvider,
    count_tokens,
    offline_answer,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_ARGUMENT_CHARS = 64 * 1024
_ERROR_EXCERPT_CHARS = 500
# Keys a stored message may carry that no provider is sent (hopflow's bookkeeping).
PRIVATE_KEYS = ("cycle", "summary", "tool_name")


class ToolCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Set when the model sent arguments that are not a JSON object: the tool is not called, the model is told.
    arguments_error: str | None = None

    def as_message_part(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments, sort_keys=True)},
        }


class ChatResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    provider: str
    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    duration_ms: int = Field(ge=0)

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [c.as_message_part() for c in self.tool_calls]
        return message


def message_text(message: dict[str, Any]) -> str:
    """Everything a message says, as one text (for token estimates and prompt records)."""
    parts = [str(message.get("content") or "")]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        parts.append(f"{function.get('name', '')} {function.get('arguments', '')}")
    return "\n".join(p for p in parts if p)


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    # Four tokens of framing per message, as OpenAI's own estimate adds.
    return sum(count_tokens(message_text(m)) + 4 for m in messages)


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in PRIVATE_KEYS} for m in messages]


def _parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return {}, f"arguments must be a JSON object, got {type(raw).__name__}"
    if len(raw) > MAX_ARGUMENT_CHARS:
        return {}, f"arguments are {len(raw)} characters; at most {MAX_ARGUMENT_CHARS}"
    try:
        value = json.loads(raw or "{}")
    except ValueError as exc:
        return {}, f"arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


# --- the offline provider's script --------------------------------------------------------------------------
class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptRule(BaseModel):
    """When the new user messages contain `when`, answer with these tool calls (then, after the tool
    results, with `text` or a summary of them)."""

    model_config = ConfigDict(extra="forbid")

    when: str = Field(min_length=1)
    tool_calls: list[ScriptedCall] = Field(default_factory=list, alias="toolCalls")
    text: str | None = None


class ChatScript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[ScriptRule] = Field(default_factory=list)


@lru_cache(maxsize=8)
def load_script(path: str) -> ChatScript:
    try:
        return ChatScript.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise LLMProviderError(f"offline: HOPFLOW_LLM_SCRIPT {path}: {exc}") from None


def _call_id(seed: str, index: int) -> str:
    return f"call_{hashlib.sha256(seed.encode()).hexdigest()[:12]}_{index}"


def offline_chat(
    messages: list[dict[str, Any]], *, model: str, tools: list[dict[str, Any]], script: ChatScript | None
) -> tuple[str, list[ToolCall]]:
    """Deterministic: the same messages always give the same answer.

    After tool results: a text naming them. After user messages: the first script rule whose `when` is in
    them (tool calls limited to the tools offered), else the offline summary of what was said.
    """
    tail: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") in ("assistant", "system"):
            break
        tail.append(message)
    tail.reverse()
    if tail and tail[-1].get("role") == "tool":
        names = [str(m.get("tool_name") or "tool") for m in tail if m.get("role") == "tool"]
        rule_text = None
        if script is not None:
            asked = _last_user_text(messages)
            rule = next((r for r in script.rules if r.when in asked), None)
            rule_text = rule.text if rule else None
        return rule_text or f"Done: {', '.join(names)} answered.", []
    said = "\n".join(str(m.get("content") or "") for m in tail if m.get("role") == "user")
    offered = {t["name"] for t in tools}
    if script is not None and said:
        for rule in script.rules:
            if rule.when in said:
                calls = [
                    ToolCall(id=_call_id(said, i), name=c.name, arguments=c.arguments)
                    for i, c in enumerate(rule.tool_calls)
                    if c.name in offered
                ]
                if calls:
                    return "", calls
                return rule.text or offline_answer(said), []
    return offline_answer(said or "(nothing new)"), []


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    """The user messages of this turn: back to the last plain answer, through tool calls and results."""
    said: list[str] = []
    for message in reversed(messages):
        role = message.get("role")
        if role == "system" or (role == "assistant" and not message.get("tool_calls")):
            break
        if role == "user":
            said.append(str(message.get("content") or ""))
    return "\n".join(reversed(said))


# --- one chat call ------------------------------------------------------------------------------------------
def chat(
    provider: LLMProvider,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    model: str | None = None,
    tool_choice: str = "auto",
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    script_path: Path | None = None,
) -> ChatResult:
    """One model call with the tools offered ({name, description, parameters} each)."""
    tools = tools or []
    started = time.perf_counter()
    if isinstance(provider, OpenAICompatibleProvider):
        return _openai_chat(
            provider,
            messages,
            tools=tools,
            model=model or provider.model,
            tool_choice=tool_choice,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
        )
    used_model = str(model or getattr(provider, "model", None) or "offline-echo-1")
    script = load_script(str(script_path)) if script_path else None
    offered = tools if tool_choice != "none" else []
    text, calls = offline_chat(messages, model=used_model, tools=offered, script=script)
    completion = count_tokens(text) + sum(count_tokens(json.dumps(c.arguments)) + 2 for c in calls)
    return ChatResult(
        text=text,
        tool_calls=calls,
        provider=getattr(provider, "name", OfflineProvider.name),
        model=used_model,
        prompt_tokens=estimate_tokens(messages),
        completion_tokens=completion,
        duration_ms=max(0, round((time.perf_counter() - started) * 1000)),
    )


def _openai_chat(
    provider: OpenAICompatibleProvider,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]],
    model: str,
    tool_choice: str,
    temperature: float | None,
    max_output_tokens: int | None,
) -> ChatResult:
    url = f"{provider.base_url}/chat/completions"
    body: dict[str, Any] = {"model": model, "messages": wire_messages(messages)}
    if tools:
        body["tools"] = [{"type": "function", "function": t} for t in tools]
        body["tool_choice"] = tool_choice
    if temperature is not None:
        body["temperature"] = temperature
    if max_output_tokens is not None:
        body["max_tokens"] = max_output_tokens
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=provider.timeout) as client:
            response = client.post(url, json=body, headers=provider.request_headers())
    except httpx.HTTPError as exc:
        raise LLMProviderError(
            provider.scrub(f"openai: POST {url} failed: {type(exc).__name__}: {exc}")
        ) from exc
    duration_ms = max(0, round((time.perf_counter() - started) * 1000))
    if not response.is_success:
        excerpt = response.text[:_ERROR_EXCERPT_CHARS]
        raise LLMProviderError(
            provider.scrub(f"openai: POST {url} returned HTTP {response.status_code}: {excerpt}")
        )
    try:
        answer: Any = response.json()
        message = answer["choices"][0]["message"]
        content = message.get("content") or ""
        raw_calls = message.get("tool_calls") or []
        calls = []
        for i, raw in enumerate(raw_calls):
            function = raw["function"]
            arguments, problem = _parse_arguments(function.get("arguments"))
            calls.append(
                ToolCall(
                    id=str(raw.get("id") or f"call_{i}"),
                    name=str(function["name"]),
                    arguments=arguments,
                    arguments_error=problem,
                )
            )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        excerpt = response.text[:_ERROR_EXCERPT_CHARS]
        raise LLMProviderError(
            provider.scrub(
                f"openai: POST {url} answered without a usable message ({type(exc).__name__}): {excerpt}"
            )
        ) from None
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    if not isinstance(prompt_tokens, int):
        prompt_tokens = estimate_tokens(messages)
    if not isinstance(completion_tokens, int):
        completion_tokens = count_tokens(content) + sum(count_tokens(json.dumps(c.arguments)) for c in calls)
    return ChatResult(
        text=content,
        tool_calls=calls,
        provider=provider.name,
        model=answer.get("model") or model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        duration_ms=duration_ms,
    )
