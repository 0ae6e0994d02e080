"""Active configurations as deployments of agent_run_flow: schedules with timezone, event triggers with
templated parameters, concurrency, tags, description, and the prefect.yaml `hopflow deploy` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hopflow.deployments.build import build_deployments, prefect_yaml_document, write_prefect_yaml
from hopflow.deployments.triggers import EVENT_PAYLOAD_TEMPLATE
from hopflow.models.enums import AgentConfigurationStatus
from hopflow.tasks.agents import configure_agent, read_configurations, register_blueprints, set_agent_status

from tests.tasks.agents.factories import VALUES, blueprint, write_yaml


@pytest.fixture
def agents(hopflow_env: str, tmp_path: Path) -> list[str]:
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    a = configure_agent("agent_900", "shop-a", values=VALUES, description="the first shop")
    b = configure_agent("agent_900", "shop-b", values=VALUES)
    off = configure_agent("agent_900", "shop-off", values=VALUES)
    set_agent_status(off.id, AgentConfigurationStatus.INACTIVE)
    return [a.id, b.id]


def test_every_active_configuration_becomes_a_deployment(agents: list[str]) -> None:
    deployments = {d.name: d for d in build_deployments()}
    assert sorted(deployments) == ["shop-a", "shop-b"]
    d = deployments["shop-a"]
    assert d.flow_name == "agent-run"
    assert d.parameters == {"configuration_id": agents[0]}
    assert d.entrypoint == "hopflow.flows.agent_run.agent_run_flow"
    assert d.version == "1.0.0"
    assert d.tags == ["hopflow", "agent", "agent:TestSentinel", "agent-id:agent_900", "category:Sales"]
    assert (
        d.description is not None
        and "Watches test orders." in d.description
        and "the first shop" in d.description
    )
    assert d.concurrency_limit == 2
    assert d.concurrency_options is not None and d.concurrency_options.collision_strategy.value == "ENQUEUE"
    [schedule] = d.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("*/5 * * * *", "Europe/Lisbon")
    assert schedule.parameters == {"trigger_type": "schedule"}
    [trigger] = d.triggers
    assert trigger.expect == {"test.order.created"}
    assert trigger.match.model_dump() == {"prefect.resource.id": "test.shop-a"}
    assert trigger.parameters == {"trigger_type": "event", "payload": EVENT_PAYLOAD_TEMPLATE}
    # the schedule names its time zone where the UI's schedule card shows it, and so does the description
    assert schedule.slug == "cron-5-europe-lisbon-0" and "cron */5 * * * * in Europe/Lisbon" in d.description


def test_run_form_is_the_blueprint_inputs(agents: list[str]) -> None:
    d = {d.name: d for d in build_deployments()}["shop-a"]
    schema = d._parameter_openapi_schema.model_dump()
    props = schema["properties"]
    assert props["configuration_id"]["enum"] == [agents[0]] and props["configuration_id"]["readOnly"]
    assert props["trigger_type"]["enum"] == ["manual", "schedule", "webhook", "command", "event", "api"]
    payload = props["payload"]["properties"]
    # typed, with the configuration's values as defaults; the secret input is not offered at all
    assert set(payload) == {"shop", "threshold", "loud", "order"}
    assert payload["shop"]["type"] == "string" and payload["shop"]["default"] == "Test Shop"
    assert "required" in payload["shop"]["description"]
    assert (payload["threshold"]["type"], payload["threshold"]["default"]) == ("number", 100)
    assert (payload["loud"]["type"], payload["loud"]["default"]) == ("boolean", False)
    assert payload["order"]["type"] == "object" and "default" not in payload["order"]
    assert props["playbook"]["anyOf"][0]["enum"] == ["order_brief"]


def test_prefect_yaml_describes_the_same_deployments(agents: list[str], tmp_path: Path) -> None:
    views = read_configurations(active_only=True)
    document = prefect_yaml_document(views, "agents-pool")
    assert [d["name"] for d in document["deployments"]] == ["shop-a", "shop-b"]
    first = document["deployments"][0]
    file, _, function = first["entrypoint"].rpartition(":")
    assert Path(file).is_absolute() and Path(file).is_file() and function == "agent_run_flow"
    assert first["work_pool"]["name"] == "agents-pool"
    assert first["schedules"] == [
        {
            "cron": "*/5 * * * *",
            "timezone": "Europe/Lisbon",
            "active": True,
            "parameters": {"trigger_type": "schedule"},
        }
    ]
    assert first["triggers"][0]["expect"] == ["test.order.created"]
    assert first["triggers"][0]["parameters"]["payload"] == EVENT_PAYLOAD_TEMPLATE
    assert first["concurrency_limit"] == {"limit": 2, "collision_strategy": "ENQUEUE"}
    path = write_prefect_yaml(tmp_path / "prefect.yaml", views, "agents-pool")
    assert yaml.safe_load(path.read_text())["deployments"][1]["parameters"] == {"configuration_id": agents[1]}
    # the entrypoint `prefect deploy` would load exists where the pull step points
    root = Path(document["pull"][0]["prefect.deployments.steps.set_working_directory"]["directory"])
    assert (root / "flows" / "agent_run.py").is_file()
