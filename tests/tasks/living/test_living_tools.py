"""Living-agent tools over loopback HTTP: gateway tools (schema-checked, `${env.X}` per call, scrubbed) and
the OpenAI-compatible provider speaking tools / tool_calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hopflow.models.schemas.living import LivingAgentConfigSpec
from hopflow.tasks.chat import ToolCall, chat
from hopflow.tasks.living.tools import run_tool_call, tool_catalog
from hopflow.tasks.llm import LLMProviderError, OpenAICompatibleProvider

from tests.fakes import FakeOpenAI, completion, tool_call_completion


class Gateway:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: dict[str, Any] = {"tickets": [1, 2]}


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "json": body}
            )
            # Echo the Authorization header back, as a misbehaving server might.
            payload = json.dumps({**state.answer, "seen": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _config(url: str, method: str = "GET") -> LivingAgentConfigSpec:
    return LivingAgentConfigSpec.model_validate(
        {
            "version": "3.0",
            "agent": {"name": "a"},
            "model": {"provider": "openai", "name": "gpt-test"},
            "tools": [
                {
                    "name": "fetchTickets",
                    "executionType": "gateway",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project": {"type": "string"},
                            "limit": {"type": "integer", "maximum": 50},
                        },
                        "required": ["project"],
                    },
                    "execution": {
                        "url": url + "/search",
                        "method": method,
                        "headers": {"Authorization": "Bearer ${env.GW_TOKEN}"},
                        "timeout": 5000,
                    },
                }
            ],
        }
    )


def test_gateway_tool_calls_http_with_env_header_resolved_per_call_and_scrubbed(
    gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = gateway
    monkeypatch.setenv("GW_TOKEN", "s3cr3t-token-value")
    config = _config(url)
    catalog = tool_catalog(config, include_hopflow=False)
    call = ToolCall(id="c1", name="fetchTickets", arguments={"project": "HOP", "limit": 5})
    result = run_tool_call(call, catalog, config, agent="a", cycle=1)
    assert state.requests[0]["method"] == "GET"
    assert state.requests[0]["path"] == "/search?project=HOP&limit=5"
    assert state.requests[0]["headers"]["Authorization"] == "Bearer s3cr3t-token-value"
    assert result["status"] == 200 and result["body"]["tickets"] == [1, 2]
    assert "s3cr3t-token-value" not in json.dumps(result)
    assert config.as_stored()["tools"][0]["execution"]["headers"]["Authorization"] == "Bearer ${env.GW_TOKEN}"


def test_gateway_post_sends_arguments_as_json(
    gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = gateway
    monkeypatch.setenv("GW_TOKEN", "t0k3n-abc")
    config = _config(url, method="POST")
    run_tool_call(
        ToolCall(id="c", name="fetchTickets", arguments={"project": "X"}),
        tool_catalog(config, include_hopflow=False),
        config,
        agent="a",
        cycle=1,
    )
    assert state.requests[0]["json"] == {"project": "X"}


def test_arguments_not_matching_the_input_schema_are_refused_before_any_request(
    gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = gateway
    monkeypatch.setenv("GW_TOKEN", "t0k3n-abc")
    config = _config(url)
    catalog = tool_catalog(config, include_hopflow=False)
    result = run_tool_call(
        ToolCall(id="c", name="fetchTickets", arguments={"limit": 500}), catalog, config, agent="a", cycle=1
    )
    assert "inputSchema" in result["error"] and "'project' is a required property" in result["error"]
    assert "limit: 500 is greater than the maximum of 50" in result["error"]
    bad_json = ToolCall(id="c", name="fetchTickets", arguments_error="arguments are not valid JSON: x")
    assert run_tool_call(bad_json, catalog, config, agent="a", cycle=1) == {
        "error": "arguments are not valid JSON: x"
    }
    unknown = run_tool_call(ToolCall(id="c", name="nope"), catalog, config, agent="a", cycle=1)
    assert "unknown tool 'nope'" in unknown["error"]
    assert state.requests == []


def test_missing_env_reference_is_an_error_for_the_model_not_a_request(gateway: tuple[Gateway, str]) -> None:
    state, url = gateway
    config = _config(url)
    result = run_tool_call(
        ToolCall(id="c", name="fetchTickets", arguments={"project": "X"}),
        tool_catalog(config, include_hopflow=False),
        config,
        agent="a",
        cycle=1,
    )
    assert "GW_TOKEN" in result["error"] and state.requests == []


def test_hopflow_registered_tools_are_offered_and_run() -> None:
    config = LivingAgentConfigSpec.model_validate(
        {"version": "3.0", "agent": {"name": "a"}, "model": {"provider": "offline", "name": "m"}}
    )
    catalog = tool_catalog(config)
    assert catalog["text__count"].kind == "hopflow" and catalog["text__count"].parameters["required"] == [
        "text"
    ]
    ok = run_tool_call(
        ToolCall(id="c", name="text__count", arguments={"text": "a b c"}), catalog, config, agent="a", cycle=1
    )
    assert ok["result"]["words"] == 3
    bad = run_tool_call(
        ToolCall(id="c", name="text__count", arguments={}), catalog, config, agent="a", cycle=1
    )
    assert "text: Field required" in bad["error"]


def test_openai_provider_sends_tools_and_parses_tool_calls(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.body = tool_call_completion(
        [("fetchTickets", {"project": "HOP"}), ("other", "{not json")],
        usage={"prompt_tokens": 30, "completion_tokens": 9},
    )
    provider = OpenAICompatibleProvider(base_url=base_url, api_key="sk-test-key-123", model="gpt-test")
    tools = [{"name": "fetchTickets", "description": "d", "parameters": {"type": "object"}}]
    messages = [{"role": "user", "content": "find tickets", "cycle": 1}]
    result = chat(provider, messages, tools=tools, model="gpt-x", tool_choice="auto", temperature=0.5)
    sent = state.requests[0]["json"]
    assert sent["model"] == "gpt-x" and sent["temperature"] == 0.5 and sent["tool_choice"] == "auto"
    assert sent["tools"] == [{"type": "function", "function": tools[0]}]
    assert sent["messages"] == [{"role": "user", "content": "find tickets"}]  # hopflow's own keys stay home
    assert state.requests[0]["headers"]["Authorization"] == "Bearer sk-test-key-123"
    first, second = result.tool_calls
    assert (first.name, first.arguments, first.arguments_error) == ("fetchTickets", {"project": "HOP"}, None)
    assert second.arguments_error is not None and "not valid JSON" in second.arguments_error
    assert (result.prompt_tokens, result.completion_tokens) == (30, 9)
    assert result.as_message()["tool_calls"][0]["function"]["name"] == "fetchTickets"


def test_openai_provider_errors_never_carry_the_key(fake_openai: tuple[FakeOpenAI, str]) -> None:
    state, base_url = fake_openai
    state.status = 401
    state.body = {"error": "bad key sk-test-key-123"}
    provider = OpenAICompatibleProvider(base_url=base_url, api_key="sk-test-key-123", model="gpt-test")
    with pytest.raises(LLMProviderError) as info:
        chat(provider, [{"role": "user", "content": "x"}])
    assert "HTTP 401" in str(info.value) and "sk-test-key-123" not in str(info.value)
    state.status = 200
    state.body = completion("plain answer")
    assert chat(provider, [{"role": "user", "content": "x"}]).text == "plain answer"
