"""LLM tools: one completion through the configured provider, recorded on the context for the step runner."""

from __future__ import annotations

from hopflow.tasks.llm import LLMCallRecord, render_prompt_text
from hopflow.tasks.tools.registry import ToolContext, tool
from pydantic import BaseModel, ConfigDict, Field


class CompleteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str
    system: str | None = None
    model: str | None = Field(default=None, description="overrides HOPFLOW_LLM_MODEL for this call")
    purpose: str = "complete"
    prompt_slug: str | None = Field(
        default=None, description="the prompt library entry this prompt came from"
    )


class CompleteOutput(BaseModel):
    text: str
    prompt_tokens: int
    completion_tokens: int


@tool("llm.complete", retries=2, retry_delay_seconds=2.0)
def complete(params: CompleteInput, ctx: ToolContext) -> CompleteOutput:
    """Ask the configured LLM provider for a completion of the prompt."""
    result = ctx.provider().complete(params.prompt, system=params.system, model=params.model)
    record = LLMCallRecord.from_result(
        result,
        prompt_text=render_prompt_text(params.prompt, params.system),
        prompt_slug=params.prompt_slug,
        purpose=params.purpose,
        used_by="llm.complete",
    )
    # The step runner persists and logs the record (redacted as settings say); the tool stays DB-free.
    ctx.llm_calls.append(record)
    return CompleteOutput(
        text=result.text, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
    )
