"""LLM providers behind one small interface, chosen by settings: an offline one that answers
deterministically without a network and an OpenAI-compatible HTTP one, plus token accounting."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx
from hopflow.models.secrets import scrub
from hopflow.models.settings import LLMProviderName, Settings, get_settings
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

# Words and single punctuation marks: close enough to a BPE count for budgeting, and stable
# across versions, which matters more for the offline provider and for tests than accuracy does.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_ERROR_EXCERPT_CHARS = 500


def count_tokens(text: str) -> int:
    """A deterministic token count (words plus punctuation marks), not any provider's tokenizer."""
    return len(_TOKEN_RE.findall(text))


def redact_prompt(text: str, *, label: str = "prompt") -> str:
    """What DEBUG_REDACTED_MODE logs instead of a text: its length and a sha256 prefix, never the text."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"<{label} {len(text)} chars sha256:{digest}>"


def render_prompt_text(prompt: str, system: str | None = None) -> str:
    """The prompt as one text for records and hashes; the system message is part of what was asked."""
    if not system:
        return prompt
    return f"[system]\n{system}\n\n[user]\n{prompt}"


class LLMProviderError(RuntimeError):
    """A provider could not answer; the message has the URL and status, never the API key."""


class LLMResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    provider: str
    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    duration_ms: int = Field(ge=0)


@dataclass(frozen=True, kw_only=True)
class LLMCallRecord:
    """One LLM call as the step runner persists it.

    The raw texts travel in memory only; the persistence layer applies HOPFLOW_PROMPT_STORAGE to
    decide what of them to keep. They are left out of repr so a logged record never leaks a prompt.
    """

    provider: str
    model: str
    prompt_slug: str | None = None
    purpose: str | None = None
    used_by: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0
    prompt_text: str = field(default="", repr=False)
    output_text: str = field(default="", repr=False)

    @classmethod
    def from_result(
        cls,
        result: LLMResult,
        *,
        prompt_text: str,
        prompt_slug: str | None = None,
        purpose: str | None = None,
        used_by: str | None = None,
    ) -> LLMCallRecord:
        return cls(
            provider=result.provider,
            model=result.model,
            prompt_slug=prompt_slug,
            purpose=purpose,
            used_by=used_by,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            duration_ms=result.duration_ms,
            prompt_text=prompt_text,
            output_text=result.text,
        )


class LLMProvider(Protocol):
    @property
    def name(self) -> str:
        """The provider name recorded with each call ("offline", "openai")."""
        ...

    def complete(self, prompt: str, *, system: str | None = None, model: str | None = None) -> LLMResult: ...


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def _table_summary(text: str) -> str | None:
    """A Markdown table described, not echoed: its size, columns and first row."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip().startswith("|")]
    if len(rows) < 2 or len(rows) != len(text.strip().splitlines()):
        return None

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    header, body = cells(rows[0]), [cells(r) for r in rows[1:] if not set(r) <= set("|-: ")]
    first = ", ".join(f"{h} {v}" for h, v in zip(header, body[0], strict=False)) if body else "none"
    return (
        f"a table of {len(body)} row{'s' if len(body) != 1 else ''} and {len(header)} columns "
        f"({', '.join(header)}); first row: {first}."
    )


def offline_answer(prompt: str, system: str | None = None) -> str:
    """A deterministic stand-in for a model's answer, and visibly one: the first sentence of the prompt
    (or, for a Markdown table, its size, columns and first row), counts, and a note saying no model was
    asked. The same prompt always gives the same answer."""
    digest = hashlib.sha256(render_prompt_text(prompt, system).encode("utf-8")).digest()
    stripped = prompt.strip()
    sentences = [s for s in _SENTENCE_END_RE.split(stripped) if s]
    first = _table_summary(stripped) or (" ".join(sentences[0].split()) if sentences else "")
    if len(first) > 160:
        first = first[:157].rstrip() + "..."
    return (
        f"Summary: {first or '(empty prompt)'}\n"
        f"Words: {len(stripped.split())}; sentences: {len(sentences)}\n"
        f"Note: offline stand-in answer {digest.hex()[:8]}: no model was asked "
        "(set HOPFLOW_LLM_PROVIDER=openai for real summaries)"
    )


@dataclass(frozen=True)
class OfflineProvider:
    """Answers without a network so missions, tests and benchmarks run anywhere, repeatably."""

    model: str = "offline-echo-1"
    name: ClassVar[str] = LLMProviderName.OFFLINE.value

    def complete(self, prompt: str, *, system: str | None = None, model: str | None = None) -> LLMResult:
        started = time.perf_counter()
        text = offline_answer(prompt, system)
        return LLMResult(
            text=text,
            provider=self.name,
            model=model or self.model,
            prompt_tokens=count_tokens(system or "") + count_tokens(prompt),
            completion_tokens=count_tokens(text),
            duration_ms=_elapsed_ms(started),
        )


class OpenAICompatibleProvider:
    """POSTs to {base_url}/chat/completions: OpenAI itself, or any server that speaks its API."""

    name: ClassVar[str] = LLMProviderName.OPENAI.value

    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key

    def __repr__(self) -> str:
        # Spelled out so the key can never reach a log line through repr().
        return f"OpenAICompatibleProvider(base_url={self.base_url!r}, model={self.model!r})"

    def _scrub(self, text: str) -> str:
        # A misbehaving server or proxy may echo the Authorization header back in its error body.
        return scrub(text, [self._api_key]) if self._api_key else text

    def _fail(self, message: str) -> LLMProviderError:
        return LLMProviderError(self._scrub(message))

    def request_headers(self) -> dict[str, str]:
        """The headers of every request (the key included): for callers that speak more of the API."""
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def scrub(self, text: str) -> str:
        return self._scrub(text)

    def complete(self, prompt: str, *, system: str | None = None, model: str | None = None) -> LLMResult:
        url = f"{self.base_url}/chat/completions"
        used_model = model or self.model
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"

        started = time.perf_counter()
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.post(url, json={"model": used_model, "messages": messages}, headers=headers)
        except httpx.HTTPError as exc:
            raise self._fail(f"{self.name}: POST {url} failed: {type(exc).__name__}: {exc}") from exc
        duration_ms = _elapsed_ms(started)

        if not response.is_success:
            excerpt = response.text[:_ERROR_EXCERPT_CHARS]
            raise self._fail(f"{self.name}: POST {url} returned HTTP {response.status_code}: {excerpt}")
        try:
            body: Any = response.json()
            content = body["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            excerpt = response.text[:_ERROR_EXCERPT_CHARS]
            raise self._fail(
                f"{self.name}: POST {url} answered without choices[0].message "
                f"({type(exc).__name__}): {excerpt}"
            ) from None

        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        # Some compatible servers omit usage; an estimate beats a zero in the token accounting.
        if not isinstance(prompt_tokens, int):
            prompt_tokens = count_tokens(system or "") + count_tokens(prompt)
        if not isinstance(completion_tokens, int):
            completion_tokens = count_tokens(content)
        return LLMResult(
            text=content,
            provider=self.name,
            model=body.get("model") or used_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            duration_ms=duration_ms,
        )


def get_provider(settings: Settings | None = None) -> LLMProvider:
    """The provider HOPFLOW_LLM_PROVIDER names, configured from the llm_* settings."""
    settings = settings or get_settings()
    if settings.llm_provider == LLMProviderName.OPENAI:
        return OpenAICompatibleProvider(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            model=settings.llm_model,
            timeout=settings.llm_timeout_seconds,
        )
    return OfflineProvider(model=settings.llm_model)


def log_llm_call(record: LLMCallRecord, settings: Settings | None = None) -> None:
    """Log a call's accounting; texts appear only redacted, and only in DEBUG_REDACTED_MODE."""
    settings = settings or get_settings()
    if settings.debug_redacted_mode:
        logger.info(
            "llm call %s/%s purpose=%s slug=%s tokens=%d+%d %dms prompt=%s output=%s",
            record.provider,
            record.model,
            record.purpose,
            record.prompt_slug,
            record.prompt_tokens,
            record.completion_tokens,
            record.duration_ms,
            redact_prompt(record.prompt_text),
            redact_prompt(record.output_text, label="output"),
        )
        return
    logger.debug(
        "llm call %s/%s purpose=%s slug=%s tokens=%d+%d %dms",
        record.provider,
        record.model,
        record.purpose,
        record.prompt_slug,
        record.prompt_tokens,
        record.completion_tokens,
        record.duration_ms,
    )
