"""Seed 003's agent config: the seed's full example validates verbatim; mistakes get file, field and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hopflow.models.schemas.living import LivingAgentConfigSpec
from hopflow.tasks.agents.errors import AgentSpecError
from hopflow.tasks.living import load_living_config, parse_living_config

SEED_EXAMPLE = Path(__file__).with_name("seed_003_config.json")
EXAMPLE_AGENT = Path(__file__).parents[3] / "examples" / "living" / "assistant.json"


def test_the_seed_full_example_validates_verbatim() -> None:
    config = load_living_config(SEED_EXAMPLE)
    assert config.version == "3.0"
    assert config.model.provider == "openai" and config.model.max_output_tokens == 8000
    assert config.model.reasoning is not None and config.model.reasoning.effort == "medium"
    assert config.consciousness.min_recent_cycles == 10
    assert config.consciousness.compaction_strategy == "summarize"
    assert config.adaptive_model is not None and config.adaptive_model.reasoning == "o3"
    assert config.loop.max_tokens_per_cycle == 50000
    gateway, space = config.tools
    assert gateway.execution is not None and gateway.execution.timeout == 15000
    assert gateway.execution.headers == {"Authorization": "Bearer ${env.JIRA_TOKEN}"}
    assert space.display is not None and space.display.custom_ui == "deploymentConfirmation"
    assert config.mcp is not None and config.mcp.servers[0].allowed_tools == ["list_prs", "create_issue"]


def test_stored_form_is_camel_case_keeps_env_references_and_round_trips() -> None:
    config = load_living_config(SEED_EXAMPLE)
    stored = config.as_stored()
    assert stored["loop"]["maxTokensPerCycle"] == 50000
    assert stored["tools"][1]["display"] == {"customUI": "deploymentConfirmation"}
    assert "${env.JIRA_TOKEN}" in json.dumps(stored)
    assert LivingAgentConfigSpec.model_validate(stored) == config


def test_the_shipped_example_agent_validates() -> None:
    assert load_living_config(EXAMPLE_AGENT).model.provider in ("openai", "offline")


def test_unknown_and_wrong_fields_name_file_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        "{\n"
        '  "version": "3.0",\n'
        '  "agent": {"name": "a", "system": "s"},\n'
        '  "model": {"provider": "openai", "name": "m", "temprature": 0.5},\n'
        '  "loop": {"maxSteps": 0},\n'
        '  "consciousness": {"compactionStrategy": "forget"},\n'
        '  "tools": [\n'
        '    {"name": "t", "executionType": "gateway", "inputSchema": {"type": "nope"},\n'
        '     "execution": {"url": "ftp://x"}}\n'
        "  ]\n"
        "}\n"
    )
    with pytest.raises(AgentSpecError) as info:
        load_living_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid living agent config (5 problems)")
    assert "model.temprature (line 4): unknown field" in text
    assert "loop.maxSteps (line 5)" in text
    assert "consciousness.compactionStrategy (line 6)" in text
    assert "tools[0].inputSchema (line 8): not a valid JSON Schema" in text
    assert "tools[0].execution.url (line 9): must be an http:// or https:// URL" in text


def test_gateway_tool_without_execution_and_duplicate_tool_names_are_refused() -> None:
    base = json.loads(SEED_EXAMPLE.read_text())
    no_execution = json.loads(json.dumps(base))
    del no_execution["tools"][0]["execution"]
    with pytest.raises(AgentSpecError, match=r"tools\[0\]: a gateway tool needs `execution`"):
        parse_living_config(no_execution)
    twice = json.loads(json.dumps(base))
    twice["tools"][1]["name"] = twice["tools"][0]["name"]
    with pytest.raises(AgentSpecError, match="tool name 'fetchJiraTickets' is declared twice"):
        parse_living_config(twice)


def test_version_other_than_3_0_is_refused() -> None:
    base = json.loads(SEED_EXAMPLE.read_text())
    base["version"] = "2.0"
    with pytest.raises(AgentSpecError, match=r"version: Input should be '3.0'"):
        parse_living_config(base)
