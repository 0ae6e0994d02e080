"""Configurations an attacker would try, on SQLite and PostgreSQL: names that normalise to another's webhook
secret, secrets too short to scrub, YAML bombs as values or blueprints. Each is refused, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentConfiguration, AgentDefinition
from hopflow.tasks.agents import (
    AgentSpecError,
    RegistrationError,
    configure_agent,
    read_webhook_routes,
    register_blueprints,
)
from typer.testing import CliRunner

from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

runner = CliRunner()
BOMB = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def configuration_count() -> int:
    with session_scope() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(AgentConfiguration)) or 0)


@pytest.fixture
def registered(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint())])


@pytest.mark.parametrize("twin", ["ACME_SHOP", "acme.shop", "Acme_Shop"])
def test_names_that_normalise_to_the_same_secret_are_refused(
    registered: None, tmp_path: Path, twin: str
) -> None:
    configure_agent("agent_900", "acme-shop", values=VALUES)
    twin_of = r"normalises to ACME_SHOP, as the existing configuration 'acme-shop'"
    with pytest.raises(ValueError, match=twin_of):
        configure_agent("agent_900", twin, values=VALUES)
    assert configuration_count() == 1
    assert [r.secret_env for r in read_webhook_routes()] == ["ACME_SHOP_SECRET"]
    values = write_yaml(tmp_path / "values.yaml", VALUES)
    result = runner.invoke(app, ["agents", "configure", "agent_900", "--name", twin, "--config", str(values)])
    assert result.exit_code != 0 and "normalises to ACME_SHOP" in result.output


def test_a_fixed_webhook_secret_shared_by_two_configurations_is_refused(
    hopflow_env: str, tmp_path: Path
) -> None:
    hooks = [{"type": "webhook", "path": "/hooks/{{configuration}}", "secret_env": "ONE_SECRET"}]
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint(triggers=hooks))])
    configure_agent("agent_900", "shop-a", values=VALUES)
    with pytest.raises(ValueError, match="webhook secret ONE_SECRET shared by configurations shop-a, shop-b"):
        configure_agent("agent_900", "shop-b", values=VALUES)
    assert configuration_count() == 1


@pytest.mark.parametrize("short", ["abc", "1234567"])
def test_a_secret_shorter_than_8_characters_is_refused_at_configure_time(
    registered: None, monkeypatch: pytest.MonkeyPatch, short: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, short)
    message = rf"token: environment variable '{SECRET_ENV}'.* holds {len(short)} char"
    with pytest.raises(AgentSpecError, match=message):
        configure_agent("agent_900", "shop-a", values=VALUES)
    assert configuration_count() == 0
    monkeypatch.setenv(SECRET_ENV, "12345678")
    configure_agent("agent_900", "shop-a", values=VALUES)
    assert configuration_count() == 1


def test_yaml_alias_bomb_values_and_blueprints_are_refused_fast(registered: None, tmp_path: Path) -> None:
    values = tmp_path / "bomb.values.yaml"
    nested = BOMB.replace("\n", "\n  ")
    values.write_text(f"shop: x\ntoken: y\nbomb:\n  {nested}", encoding="utf-8")
    with pytest.raises(AgentSpecError, match="expands to more than 1000000 nodes through YAML aliases"):
        configure_agent("agent_900", "shop-a", values_path=values)
    deep = tmp_path / "deep.yaml"
    deep.write_text("id: agent_901\nname: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB, encoding="utf-8")
    for path, message in ((deep, "nested deeper than 64 levels"), (bomb, "through YAML aliases")):
        with pytest.raises(RegistrationError, match=message):
            register_blueprints([path])
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AgentDefinition)) == 1
    assert configuration_count() == 0


def test_nul_characters_in_values_are_refused_on_both_backends(registered: None) -> None:
    with pytest.raises(AgentSpecError, match=r"a string holds a NUL character \(at shop\)"):
        configure_agent("agent_900", "shop-a", values={**VALUES, "shop": "Evil\x00Shop"})
    assert configuration_count() == 0
