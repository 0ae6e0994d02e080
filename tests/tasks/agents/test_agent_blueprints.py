"""Blueprints and configurations on SQLite and PostgreSQL: register (upsert by id and version),
configure (values checked, namespace resolved), status changes, and every refusal writing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.enums import AgentConfigurationStatus, EntityType, LastRunStatus
from hopflow.models.orm import AgentConfiguration, AgentDefinition, Entity, Event, Playbook, Workspace
from hopflow.tasks.agents import (
    AgentSpecError,
    RegistrationError,
    configure_agent,
    read_webhook_routes,
    register_blueprints,
    set_agent_status,
)
from typer.testing import CliRunner

from tests.tasks.agents.factories import SECRET_ENV, VALUES, blueprint, write_yaml

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "agents" / "sales_sentinel.yaml"
EXAMPLE_VALUES = ROOT / "examples" / "agents" / "sales_sentinel.values.yaml"
runner = CliRunner()


def counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
            for model in (AgentDefinition, Playbook, AgentConfiguration, Workspace, Entity)
        }


def register(tmp_path: Path, *docs: dict[str, Any]) -> list[Any]:
    return register_blueprints([write_yaml(tmp_path / f"b{i}.yaml", d) for i, d in enumerate(docs)])


def test_example_blueprint_registers_and_configures(hopflow_env: str) -> None:
    [registered] = register_blueprints([EXAMPLE])
    assert (registered.id, registered.version, registered.action) == ("agent_003", "1.0.0", "created")
    created = configure_agent("agent_003", "acme-shop", values_path=EXAMPLE_VALUES, workspace="acme")
    with session_scope() as session:
        definition = session.get(AgentDefinition, "agent_003")
        assert definition is not None and definition.name == "ShopifySalesSentinel"
        # seed 001's stored shape: {"type", "config"}
        assert definition.triggers_config[0] == {
            "type": "schedule",
            "config": {"cron": "0 */2 * * *", "timezone": "Europe/Lisbon"},
        }
        assert definition.stack_details and definition.stack_details["models_used"] == ["offline-echo-1"]
        assert [p.name for p in definition.playbooks] == ["order_brief"] and definition.playbooks[
            0
        ].is_default
        config = session.get(AgentConfiguration, created.id)
        assert config is not None and config.status == AgentConfigurationStatus.ACTIVE
        assert config.last_run_status == LastRunStatus.IDLE
        # the values file as written: the secret stays a reference
        assert "${env.SHOP_TOKEN}" in config.yaml_config
        assert config.effective_config_cache == {
            "shop_name": "ACME Coffee",
            "api_token": "${env.SHOP_TOKEN}",
            "alert_threshold": 250,
            "fetch_live": False,
            "status_url": "https://example.com/",
            "order": None,
        }
        workspace = session.scalars(sa.select(Workspace).where(Workspace.name == "acme")).one()
        assert config.workspace_id == workspace.id
        assert config.external_memory_namespace == f"sentinel_{workspace.id}_{config.id}"
        entity = session.get(Entity, config.entity_id)
        assert entity is not None and entity.entity_type == EntityType.AGENT and entity.name == "acme-shop"
    [route] = read_webhook_routes()
    assert (route.method, route.path, route.secret_env) == (
        "POST",
        "/hooks/acme-shop/orders",
        "ACME_SHOP_WEBHOOK_SECRET",
    )


def test_register_upserts_by_id_and_version(hopflow_env: str, tmp_path: Path) -> None:
    assert register(tmp_path, blueprint())[0].action == "created"
    assert register(tmp_path, blueprint())[0].action == "unchanged"
    assert register(tmp_path, blueprint(tagline="Sharper."))[0].action == "updated"
    renamed = blueprint(version="1.1.0")
    renamed["playbooks"][0]["name"] = "order_digest"
    assert register(tmp_path, renamed)[0].action == "updated"
    with session_scope() as session:
        definition = session.get(AgentDefinition, "agent_900")
        assert definition is not None and (definition.version, definition.tagline) == (
            "1.1.0",
            "Watches test orders.",
        )
        assert [p.name for p in definition.playbooks] == ["order_digest"]
    with pytest.raises(
        RegistrationError, match=r"version \(line 3\): version 0.9.0 is older than the registered 1.1.0"
    ):
        register(tmp_path, blueprint(version="0.9.0"))
    with session_scope() as session:
        assert session.get(AgentDefinition, "agent_900").version == "1.1.0"  # type: ignore[union-attr]
        events = session.scalars(
            sa.select(Event.action).where(Event.subject_type == "agent_definitions")
        ).all()
        assert events == ["agent_definition_created", "agent_definition_updated", "agent_definition_updated"]


def _bad_cron() -> dict[str, Any]:
    doc = blueprint()
    doc["triggers"][0]["cron"] = "61 * * * *"
    return doc


def _unknown_trigger() -> dict[str, Any]:
    doc = blueprint()
    doc["triggers"].append({"type": "carrier_pigeon", "loft": "roof"})
    return doc


def _path_twice() -> dict[str, Any]:
    doc = blueprint()
    doc["triggers"].append({"type": "webhook", "path": "/hooks/{{configuration}}/orders/", "secret_env": "X"})
    return doc


def _bad_condition() -> dict[str, Any]:
    doc = blueprint()
    doc["playbooks"][0]["steps"][2]["condition"] = "__import__('os').getcwd()"
    return doc


def _unknown_input_placeholder() -> dict[str, Any]:
    doc = blueprint()
    doc["playbooks"][0]["steps"][3]["parameter_mapping"]["title"]["literal"] = "{{inputs.shopp}}"
    return doc


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_bad_cron, r"triggers\[0\]\.cron \(line \d+\): invalid cron schedule '61 \* \* \* \*'"),
        (_unknown_trigger, r"triggers\[4\]\.type \(line \d+\): unknown trigger type 'carrier_pigeon'"),
        (
            _path_twice,
            r"triggers\[4\]\.path \(line \d+\): webhook path claimed twice: "
            r"POST /hooks/\{\{configuration\}\}/orders",
        ),
        (
            _bad_condition,
            r"steps\[2\]\.condition \(line \d+\): condition .*'__import__' is not allowed",
        ),
        (
            _unknown_input_placeholder,
            r"steps\[3\]\.parameter_mapping\.title\.literal \(line \d+\): "
            r"unknown input 'shopp'; did you mean 'shop'",
        ),
        (lambda: blueprint(version="one"), r"version \(line 3\): .*'one' is not a semantic version"),
        (lambda: blueprint(colour="red"), r"colour \(line \d+\): unknown field"),
    ],
)
def test_invalid_blueprint_is_a_clear_error_and_nothing_is_registered(
    hopflow_env: str, tmp_path: Path, make: Any, message: str
) -> None:
    good = write_yaml(tmp_path / "good.yaml", blueprint(id="agent_901", name="Other", triggers=[]))
    bad = write_yaml(tmp_path / "bad.yaml", make())
    with pytest.raises(RegistrationError, match=message) as caught:
        register_blueprints([good, bad])
    assert "bad.yaml" in str(caught.value) and "nothing was registered" in str(caught.value)
    assert counts()["agent_definitions"] == 0


def test_static_webhook_path_claimed_by_two_blueprints_is_refused(hopflow_env: str, tmp_path: Path) -> None:
    def static(id_: str, name: str) -> dict[str, Any]:
        return blueprint(
            id=id_, name=name, triggers=[{"type": "webhook", "path": "/hooks/shared", "secret_env": "S"}]
        )

    with pytest.raises(
        RegistrationError, match="webhook path claimed twice: POST /hooks/shared is also claimed by agent_a"
    ):
        register(tmp_path, static("agent_a", "A"), static("agent_b", "B"))
    assert counts()["agent_definitions"] == 0
    register(tmp_path, static("agent_a", "A"))
    with pytest.raises(RegistrationError, match="POST /hooks/shared is already claimed by agent 'agent_a'"):
        register_blueprints([write_yaml(tmp_path / "b.yaml", static("agent_b", "B"))])
    assert counts()["agent_definitions"] == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"shop": "x"}, r"token \(line 1\): missing required input 'token' \(string\)"),
        (
            {**VALUES, "threshold": "ten"},
            r"threshold \(line 3\): wrong type for input 'threshold': expected number",
        ),
        ({**VALUES, "loud": "yes"}, r"loud \(line 4\): wrong type for input 'loud': expected boolean"),
        ({**VALUES, "order": "not json"}, r"order \(line 4\): wrong type for input 'order': expected json"),
        ({**VALUES, "threshold": "${env.N}"}, r"only string and json inputs may hold one"),
        (
            {**VALUES, "thresold": 5},
            r"thresold \(line 4\): unknown input 'thresold'; did you mean 'threshold'",
        ),
    ],
)
def test_configuration_values_are_checked_and_nothing_is_written(
    hopflow_env: str, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    register(tmp_path, blueprint())
    before = counts()
    path = write_yaml(tmp_path / "values.yaml", values)
    with pytest.raises(AgentSpecError, match=message) as caught:
        configure_agent("agent_900", "shop-a", values_path=path, workspace="new-ws")
    assert str(path) in str(caught.value)
    assert counts() == before


def test_webhook_path_claimed_twice_across_configurations(hopflow_env: str, tmp_path: Path) -> None:
    register(tmp_path, blueprint(triggers=[{"type": "webhook", "path": "/hooks/one", "secret_env": "S"}]))
    first = configure_agent("agent_900", "shop-a", values=VALUES)
    with pytest.raises(
        ValueError, match="webhook path claimed twice: POST /hooks/one by configurations shop-a, shop-b"
    ):
        configure_agent("agent_900", "shop-b", values=VALUES)
    set_agent_status(first.id, AgentConfigurationStatus.INACTIVE)
    configure_agent("agent_900", "shop-b", values=VALUES)
    with pytest.raises(ValueError, match="webhook path claimed twice"):
        set_agent_status("shop-a", AgentConfigurationStatus.ACTIVE)
    assert [r.configuration_name for r in read_webhook_routes()] == ["shop-b"]


def test_cli_from_blueprint_to_configuration_and_status_changes(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(tmp_path / "agent.yaml", blueprint())
    values = write_yaml(tmp_path / "values.yaml", VALUES)
    result = runner.invoke(app, ["agents", "register", str(path)])
    assert result.exit_code == 0, result.output
    assert "created agent_900 TestSentinel 1.0.0" in result.output
    result = runner.invoke(
        app,
        [
            "agents",
            "configure",
            "TestSentinel",
            "--name",
            "shop-a",
            "--config",
            str(values),
            "--workspace",
            "w1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "deployment agent-run/shop-a" in result.output and "POST /hooks/shop-a/orders" in result.output
    listed = runner.invoke(app, ["agents", "list"])
    assert "agent_900" in listed.output and "shop-a" in listed.output
    shown = runner.invoke(app, ["agents", "show", "shop-a"])
    assert shown.exit_code == 0 and f"${{env.{SECRET_ENV}}}" in shown.output
    assert runner.invoke(app, ["agents", "show", "agent_900"]).exit_code == 0
    for command, status in (("disable", "inactive"), ("enable", "active"), ("archive", "archived")):
        result = runner.invoke(app, ["agents", command, "shop-a"])
        assert result.exit_code == 0 and f"now {status}" in result.output, result.output
    result = runner.invoke(app, ["agents", "enable", "shop-a"])
    assert result.exit_code == 1
    assert "cannot change status from 'archived' to 'active'" in result.output
    with session_scope() as session:
        moves = session.scalars(
            sa.select(Event.after)
            .where(Event.subject_type == "agent_configurations", Event.action == "status_changed")
            .order_by(Event.created_at)
        ).all()
        assert [m["status"] for m in moves] == ["inactive", "active", "archived"]  # type: ignore[index]
    bad = runner.invoke(
        app, ["agents", "configure", "agent_900", "--name", "shop-b", "--config", str(tmp_path / "nope.yaml")]
    )
    assert bad.exit_code == 1 and "no such configuration values file" in bad.output
