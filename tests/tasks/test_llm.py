"""LLM providers: the offline one's determinism and token counts, the OpenAI-compatible one against a real
local HTTP server, provider choice from settings and prompt redaction."""

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hopflow.models.settings import Settings
from hopflow.tasks.llm import (
    LLMCallRecord,
    LLMProviderError,
    OfflineProvider,
    OpenAICompatibleProvider,
    count_tokens,
    get_provider,
    log_llm_call,
    redact_prompt,
)
from hopflow.tasks.tools import ToolContext, get_tool

from tests.fakes import FakeOpenAI, completion

API_KEY = "sk-test-0123456789abcdef"


# --- tokens and redaction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("hello", 1), ("Hello, world!", 4), ("it's 3.5 km", 7), ("  spaced\n\nout  ", 2)],
)
def test_count_tokens_counts_words_and_punctuation(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_redact_prompt_keeps_length_and_hash_but_not_the_text() -> None:
    redacted = redact_prompt("tell me the secret plan")
    assert redacted.startswith("<prompt 23 chars sha256:")
    assert "secret" not in redacted
    assert redacted == redact_prompt("tell me the secret plan")
    assert redacted != redact_prompt("tell me the secret plan!")
    assert redact_prompt("x", label="output").startswith("<output 1 chars")


# --- offline --------------------------------------------------------------------------------------


def test_offline_provider_is_deterministic() -> None:
    provider = OfflineProvider()
    prompt = "Summarise the quarterly report. It has three sections."
    first = provider.complete(prompt)
    again = OfflineProvider().complete(prompt)
    assert (first.text, first.prompt_tokens, first.completion_tokens) == (
        again.text,
        again.prompt_tokens,
        again.completion_tokens,
    )
    assert first.text.startswith("Summary: Summarise the quarterly report.")
    assert "Words: 8; sentences: 2" in first.text
    assert provider.complete(prompt + " More.").text != first.text
    assert provider.complete(prompt, system="Be terse.").text != first.text


def test_offline_provider_counts_tokens_for_prompt_system_andcompletion() -> None:
    result = OfflineProvider(model="offline-echo-1").complete("Hello, world!", system="Be kind.")
    assert result.prompt_tokens == 4 + 3
    assert result.completion_tokens == count_tokens(result.text) > 0
    assert (result.provider, result.model) == ("offline", "offline-echo-1")
    assert OfflineProvider().complete("x", model="other").model == "other"


def test_offline_provider_shortens_a_long_first_sentence_and_handles_empty_prompts() -> None:
    long = OfflineProvider().complete("word " * 100)
    assert len(long.text.splitlines()[0]) <= len("Summary: ") + 160
    assert "(empty prompt)" in OfflineProvider().complete("").text


# --- OpenAI-compatible ------------------------------------------------------------------------------


def test_openai_compatible_round_trip_reports_usage(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.body = completion("Paris.", {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23})
    provider = OpenAICompatibleProvider(base_url + "/", API_KEY, "gpt-test", timeout=5)

    result = provider.complete("Capital of France?", system="Answer in one word.")

    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("Paris.", 21, 2)
    assert (result.provider, result.model) == ("openai", "gpt-test-2024")
    assert result.duration_ms >= 0
    [request] = state.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["json"] == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Capital of France?"},
        ],
    }


def test_openai_compatible_model_argument_overrides_the_default(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.body = completion("ok", {"prompt_tokens": 1, "completion_tokens": 1})
    OpenAICompatibleProvider(base_url, None, "default-model", timeout=5).complete("hi", model="other-model")
    [request] = state.requests
    assert request["json"]["model"] == "other-model"
    assert request["json"]["messages"] == [{"role": "user", "content": "hi"}]
    assert "Authorization" not in request["headers"]


def test_openai_compatible_counts_tokens_itself_without_usage(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.body = completion("The answer is 42.")
    result = OpenAICompatibleProvider(base_url, API_KEY, "gpt-test", timeout=5).complete("What is it?")
    assert (result.prompt_tokens, result.completion_tokens) == (4, 5)


def test_openai_compatible_error_names_status_and_body_but_never_the_key(
    fake_openai: tuple[FakeOpenAI, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = fake_openai
    state.status = 401
    # The server echoes the key back, as some proxies do; the error must still not carry it.
    state.body = {
        "error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "invalid_request_error"}
    }
    provider = OpenAICompatibleProvider(base_url, API_KEY, "gpt-test", timeout=5)
    with caplog.at_level(logging.DEBUG), pytest.raises(LLMProviderError) as caught:
        provider.complete("hi")
    message = str(caught.value)
    assert "HTTP 401" in message
    assert f"{base_url}/chat/completions" in message
    assert "Incorrect API key provided: ***" in message
    assert API_KEY not in message
    assert API_KEY not in repr(provider)
    assert API_KEY not in caplog.text


def test_openai_compatible_error_excerpt_is_bounded(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.status = 500
    state.body = "x" * 5000
    with pytest.raises(LLMProviderError, match="HTTP 500") as caught:
        OpenAICompatibleProvider(base_url, API_KEY, "gpt-test", timeout=5).complete("hi")
    assert len(str(caught.value)) < 700


def test_openai_compatible_refuses_an_answer_without_choices(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.body = {"unexpected": True}
    with pytest.raises(LLMProviderError, match=r"without choices\[0\]\.message"):
        OpenAICompatibleProvider(base_url, API_KEY, "gpt-test", timeout=5).complete("hi")


def test_openai_compatible_network_error_is_an_llm_error_without_the_key() -> None:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    with pytest.raises(LLMProviderError, match="failed: ConnectError") as caught:
        OpenAICompatibleProvider(f"http://127.0.0.1:{port}/v1", API_KEY, "gpt-test", timeout=2).complete("hi")
    assert API_KEY not in str(caught.value)


# --- provider choice and the llm.complete tool ------------------------------------------------------


def test_get_provider_follows_settings(tmp_path: Path) -> None:
    offline = get_provider(Settings(llm_provider="offline", llm_model="offline-x"))
    assert isinstance(offline, OfflineProvider)
    assert offline.model == "offline-x"
    online = get_provider(
        Settings(
            llm_provider="openai",
            llm_base_url="http://example.invalid/v1",
            llm_api_key=API_KEY,
            llm_model="m",
        )
    )
    assert isinstance(online, OpenAICompatibleProvider)
    assert (online.base_url, online.model) == ("http://example.invalid/v1", "m")


def test_llm_complete_tool_goes_through_the_openai_provider(
    tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    state, base_url = fake_openai
    state.body = completion("Bonjour.", {"prompt_tokens": 9, "completion_tokens": 3})
    settings = Settings(
        uploads=tmp_path,
        data=tmp_path,
        llm_provider="openai",
        llm_base_url=base_url,
        llm_api_key=API_KEY,
        llm_model="gpt-test",
    )
    ctx = ToolContext.from_settings(settings, mission_id="m-1")
    result = get_tool("llm.complete").run({"prompt": "Say hello in French.", "purpose": "greet"}, ctx)
    assert result.model_dump() == {"text": "Bonjour.", "prompt_tokens": 9, "completion_tokens": 3}
    [record] = ctx.llm_calls
    assert (record.provider, record.model, record.purpose) == ("openai", "gpt-test-2024", "greet")
    assert (record.prompt_text, record.output_text) == ("Say hello in French.", "Bonjour.")


def test_log_llm_call_redacts_texts_in_debug_redacted_mode(caplog: pytest.LogCaptureFixture) -> None:
    record = LLMCallRecord(
        provider="offline",
        model="m",
        purpose="p",
        prompt_tokens=3,
        completion_tokens=2,
        prompt_text="the secret prompt",
        output_text="the secret answer",
    )
    with caplog.at_level(logging.DEBUG, logger="hopflow.tasks.llm"):
        log_llm_call(record, Settings(debug_redacted_mode=True))
        log_llm_call(record, Settings(debug_redacted_mode=False))
    assert "secret" not in caplog.text
    assert redact_prompt("the secret prompt") in caplog.text
    assert redact_prompt("the secret answer", label="output") in caplog.text
    assert caplog.text.count("tokens=3+2") == 2


def test_llm_call_record_from_result_copies_the_accounting() -> None:
    result = OfflineProvider().complete("abc def")
    record = LLMCallRecord.from_result(
        result, prompt_text="abc def", prompt_slug="s", purpose="p", used_by="u"
    )
    assert (record.provider, record.model, record.prompt_slug, record.purpose, record.used_by) == (
        "offline",
        "offline-echo-1",
        "s",
        "p",
        "u",
    )
    assert (record.prompt_tokens, record.completion_tokens, record.duration_ms) == (
        result.prompt_tokens,
        result.completion_tokens,
        result.duration_ms,
    )
    assert (record.prompt_text, record.output_text) == ("abc def", result.text)
