"""The automations hopflow's deployments register, read back from the Prefect API: each one named and
described for what it does (the Automations page otherwise shows "A custom trigger" and nothing else)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hopflow.deployments.build import deployment_for
from hopflow.deployments.living import living_deployments
from hopflow.tasks import living
from hopflow.tasks.agents import configure_agent, read_agent, register_blueprints
from prefect import get_client
from prefect.events.schemas.automations import Automation

from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows
SEED_EXAMPLE = Path(__file__).parents[1] / "tasks" / "living" / "seed_003_config.json"


def automations_of(deployment_id: object) -> dict[str, Automation]:
    with get_client(sync_client=True) as client:
        owned = client.read_resource_related_automations(f"prefect.deployment.{deployment_id}")
    return {a.name: a for a in owned}


def test_agent_event_trigger_automation_says_what_it_runs_on(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    name = f"auto-shop-{'pg' if hopflow_env.startswith('postgresql') else 'lite'}"
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])
    configured = configure_agent("agent_900", name, values=VALUES)
    deployment_id = deployment_for(read_agent(configured.id)).apply()

    automations = automations_of(deployment_id)
    assert list(automations) == [f"{name}: test.order.created (trigger 1)"]
    [automation] = automations.values()
    assert automation.description.startswith(f"Runs agent {name} (deployment agent-run/{name}")
    assert "test.order.created event arrives for prefect.resource.id=test." + name in automation.description
    assert set(automation.trigger.expect) == {"test.order.created"}  # type: ignore[union-attr]


def test_living_agent_inbox_automations_say_what_they_do(hopflow_env: str) -> None:
    name = f"helper-{'pg' if hopflow_env.startswith('postgresql') else 'lite'}"
    living.create_living_agent(name, living.load_living_config(SEED_EXAMPLE))
    [deployment] = [d for d in living_deployments() if d.name == name]
    deployment_id = deployment.apply()

    automations = automations_of(deployment_id)
    assert sorted(automations) == [f"{name}: inbox pushed", f"{name}: push event"]
    woken = automations[f"{name}: inbox pushed"].description
    assert f"Wakes living agent {name}" in woken and f"think/{name}" in woken
    assert "hopflow.inbox.pushed" in woken and f"hopflow.living.{name}" in woken
    pushed = automations[f"{name}: push event"].description
    assert "hopflow.inbox.push event" in pushed and "payload in the inbox first" in pushed
