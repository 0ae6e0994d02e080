"""What a ToolStep says in its run's Logs tab: the tool, each parameter's summary, each output's summary,
LLM model and tokens, the duration, and a failure's error once (with the tool's frames).

Never a prompt or a secret: parameters are summarised before `${env.X}` references are resolved (a
reference shows as ***), secret-named keys are masked, prompt-like parameters show only their length,
and every line is scrubbed of the step's resolved secret values.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from hopflow.models.secrets import redact, scrub
from hopflow.models.values import summarise
from hopflow.tasks import error_logs

fallback_logger = logging.getLogger("hopflow.steps")

# Parameters whose text is a prompt: logged as their length only.
PROMPT_PARAMETERS = ("prompt", "system", "messages", "instructions", "question", "template")
PARAMETER_CHARS = 240


def step_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The current task run's logger (lines land in the run's Logs tab), else a plain one."""
    error_logs.install()
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:  # outside a run (tests calling .fn)
        return fallback_logger


def clip(text: str, limit: int = PARAMETER_CHARS) -> str:
    """One line, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def _is_prompt(name: str) -> bool:
    return any(p in name.lower() for p in PROMPT_PARAMETERS)


def parameter_summary(name: str, source: Mapping[str, Any], value: Any) -> str:
    """`name = asset X: summary` or `name = literal`, safe to log."""
    if _is_prompt(name):
        size = len(value) if isinstance(value, str) else len(summarise(value))
        shown = f"text of {size} chars (prompt text is never logged)"
    elif source.get("type") == "asset":
        shown = summarise(value)  # bounded work whatever the size; assets hold no ${env.X}
    else:
        shown = summarise(redact({name: value})[name])  # a literal: small, may hold references
    if source.get("type") == "asset":
        return f"{name} = asset {source.get('asset')}: {clip(shown)}"
    return f"{name} = {clip(shown)}"


def log_step_start(
    tool_id: str, mapping: Mapping[str, Any], loaded: Mapping[str, Any], secrets: Sequence[str]
) -> None:
    """The tool and its parameters, as loaded (asset contents) but before `${env.X}` is resolved."""
    lines = [f"tool {tool_id}"]
    lines += ["  " + parameter_summary(name, source, loaded.get(name)) for name, source in mapping.items()]
    step_logger().info(scrub("\n".join(lines), list(secrets)))


def log_step_done(
    tool_id: str,
    outputs: Mapping[str, str],
    llm_calls: Sequence[Any],
    seconds: float,
    secrets: Sequence[str],
) -> None:
    """Each output asset's summary, each LLM call's model and tokens, and how long the tool took."""
    lines = [f"tool {tool_id} done in {seconds:.3f} s"]
    lines += [f"  output {name}: {clip(summary)}" for name, summary in outputs.items()]
    for call in llm_calls:
        lines.append(
            f"  llm {call.provider}/{call.model}: {call.prompt_tokens} prompt + "
            f"{call.completion_tokens} completion tokens in {call.duration_ms} ms"
            + (f" (prompt {call.prompt_slug})" if call.prompt_slug else "")
        )
    step_logger().info(scrub("\n".join(lines), list(secrets)))


def log_step_failed(
    tool_id: str,
    failure: BaseException,
    seconds: float,
    attempt: int,
    final: bool,
    *,
    where: str,
    secrets: Sequence[str] = (),
) -> None:
    """The (already scrubbed) error, once per attempt; the last one with its traceback from the
    step's frame down into the tool's own (scrubbed too). The hop, the flow and Prefect's own lines
    then only refer to it (tasks/error_logs.py)."""
    logger = step_logger()
    error = clip(str(failure), 2000)
    if final:
        frames = "".join(traceback.format_exception(failure)).rstrip()
        logger.error(scrub(f"tool {tool_id} failed after {seconds:.3f} s: {error}\n{frames}", list(secrets)))
    else:
        logger.warning(
            f"tool {tool_id} failed on attempt {attempt} after {seconds:.3f} s (Prefect retries it): {error}"
        )
    error_logs.mark_logged(failure, where)


CONTEXT_PARAMETERS = ("url", "path", "file", "filename", "uri", "endpoint", "image", "container")


def error_context(mapping: Mapping[str, Any], secrets: Sequence[str]) -> str:
    """What a failing step was working on (the URL, the file, the assets it read), safe to show."""
    parts = []
    for name, source in mapping.items():
        if source.get("type") == "asset":
            parts.append(f"asset {source.get('asset')} as {name}")
        elif any(c == name.lower() or name.lower().endswith(f"_{c}") for c in CONTEXT_PARAMETERS):
            import json

            try:
                value = redact(json.loads(source.get("json", "null")))
            except ValueError:
                continue
            parts.append(f"{name}={clip(str(value), 200)}")
    return scrub(", ".join(parts), list(secrets))
