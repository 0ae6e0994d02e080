"""llm_calls rows: one per model call, with its texts kept only as the prompt-storage mode allows;
writes that only flush."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from hopflow.models.orm import LLMCall
from hopflow.models.settings import PromptStorage
from sqlalchemy.orm import Session


class LLMCallFacts(Protocol):
    """What a model call reports (tasks.llm.LLMCallRecord has these fields)."""

    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def prompt_slug(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def used_by(self) -> str | None: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def duration_ms(self) -> int: ...
    @property
    def prompt_text(self) -> str: ...
    @property
    def output_text(self) -> str: ...


def add_llm_calls(
    session: Session,
    calls: Sequence[LLMCallFacts],
    mode: PromptStorage,
    *,
    flow_run_id: str | None,
    mission_id: str | None,
    tool_step_id: str | None,
    agent_configuration_id: str | None = None,
) -> tuple[int, int]:
    """One row per call; `metadata` mode keeps no text, `redacted` lengths and SHA-256 digests, `full`
    the texts too. Returns the (prompt, completion) token totals."""
    prompt_total = completion_total = 0
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
        session.add(row)
        prompt_total += call.prompt_tokens
        completion_total += call.completion_tokens
    session.flush()
    return prompt_total, completion_total
