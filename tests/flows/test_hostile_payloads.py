"""Hostile trigger payloads on a real Prefect API, SQLite and PostgreSQL: a payload's `${env.X}` text (keys,
values, lists, text a previous step produced) is data, never resolved; a payload sets only the inputs the
blueprint marks from_trigger and the configuration left unset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.flows.agent_run import agent_run_flow
from hopflow.models.db import session_scope
from hopflow.models.orm import Asset, Base, Mission
from hopflow.tasks.agents import AgentSpecError, configure_agent, register_blueprints
from hopflow.tasks.assets import load_value
from typer.testing import CliRunner

from tests.tasks.agents.factories import SECRET_ENV, SECRET_VALUE, VALUES, blueprint, write_yaml

pytestmark = pytest.mark.flows
runner = CliRunner()

LEAK_ENV = "HOPFLOW_TEST_DB_ADMIN_PASSWORD"
LEAK_VALUE = "pw-leaked-if-you-can-read-this-7c1e"
REF = f"${{env.{LEAK_ENV}}}"

STEPS: list[dict[str, Any]] = [
    {  # a whole placeholder: the payload's value itself, keys and all
        "name": "order",
        "type": "noop.echo",
        "parameter_mapping": {"value": {"literal": "{{inputs.order}}"}},
        "result_mapping": {"value": "order"},
    },
    {  # spliced into a longer literal as JSON text: what the step runner resolves references in
        "name": "spliced",
        "type": "report.build",
        "parameter_mapping": {
            "title": {"literal": "Order {{payload.order.id}}"},
            "body": {"literal": "order {{inputs.order}} for {{inputs.shop}}"},
        },
        "result_mapping": {"text": "spliced"},
    },
    {  # text a previous step produced, read as an asset
        "name": "again",
        "type": "report.build",
        "parameter_mapping": {"title": {"literal": "Again"}, "body": {"asset": "spliced"}},
        "result_mapping": {"text": {"asset": "again", "role": "output"}},
    },
    {  # the operator's own reference still resolves (counted, never echoed)
        "name": "auth",
        "type": "text.count",
        "parameter_mapping": {"text": {"literal": "Bearer {{inputs.token}}"}},
        "result_mapping": {"chars": "auth_chars"},
    },
]


@pytest.fixture
def agent(hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    monkeypatch.setenv(LEAK_ENV, LEAK_VALUE)
    doc = blueprint(triggers=[])
    doc["inputs"] = [
        *doc["inputs"],
        {"key": "status_url", "type": "string", "default": "https://example.com/"},
        {"key": "note", "type": "string", "from_trigger": True},
    ]
    doc["playbooks"][0]["steps"] = STEPS
    register_blueprints([write_yaml(tmp_path / "agent.yaml", doc)])
    return configure_agent("agent_900", "shop-h", values=VALUES).id


def assets(mission_id: str) -> dict[str, Any]:
    with session_scope() as session:
        rows = session.scalars(sa.select(Asset).where(Asset.scope_id == mission_id)).all()
        return {a.name: load_value(a) for a in rows}


def everything_stored() -> str:
    with session_scope() as session:
        return "\n".join(
            json.dumps([list(r) for r in session.execute(sa.select(table))], default=str)
            for table in Base.metadata.sorted_tables
        )


def test_payload_env_references_are_data_in_keys_values_lists_and_step_output(agent: str) -> None:
    order = {
        REF: 1,
        "id": 6,
        "total": 10,
        "note": f"call {REF}",
        "lines": [REF, {"nested": [{REF: REF}]}],
        "escaped": f"${REF}",  # already escaped once: stays as written too
    }
    outcome = agent_run_flow(agent, "webhook", {"order": order})
    assert outcome.status.value == "success" and outcome.mission_id is not None
    values = assets(outcome.mission_id)
    assert values["order"] == order  # the echo gave back exactly what was sent
    assert f'"{REF}":1' in values["spliced"] and f'"note":"call {REF}"' in values["spliced"]
    assert f'"escaped":"${REF}"' in values["spliced"]
    assert values["again"].endswith(values["spliced"])  # the previous step's text, unresolved
    # the operator's reference did resolve: "Bearer " + the token
    assert values["auth_chars"] == len("Bearer ") + len(SECRET_VALUE)
    stored = everything_stored()
    assert LEAK_VALUE not in stored and SECRET_VALUE not in stored


def test_payload_text_from_the_cli_trigger_is_not_resolved(agent: str) -> None:
    payload = {"order": {REF: 1, "id": 6, "total": 10}}
    result = runner.invoke(app, ["trigger", "shop-h", "--local", "--payload", json.dumps(payload)])
    assert result.exit_code == 0, result.output
    assert LEAK_VALUE not in result.output and LEAK_VALUE not in everything_stored()


def test_payload_may_not_set_inputs_the_blueprint_keeps_or_the_configuration_gave(agent: str) -> None:
    steal = {"status_url": "http://127.0.0.1:8899/steal", "token": "mine", "order": {"id": 1}}
    with pytest.raises(AgentSpecError) as raised:
        agent_run_flow(agent, "api", steal)
    message = str(raised.value)
    refused = "payload.status_url: input 'status_url' cannot be set by a trigger (not marked from_trigger"
    assert refused in message
    assert "payload.token: input 'token' cannot be set by a trigger (set by the configuration)" in message
    assert "a payload may set: order, note" in message
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0

    result = runner.invoke(
        app, ["trigger", "shop-h", "--local", "--payload", json.dumps({"status_url": "http://x/"})]
    )
    assert result.exit_code != 0 and "input 'status_url' cannot be set by a trigger" in result.output


def test_a_from_trigger_input_the_configuration_set_is_refused_too(
    hopflow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_VALUE)
    register_blueprints([write_yaml(tmp_path / "agent.yaml", blueprint(triggers=[]))])
    config_id = configure_agent("agent_900", "shop-o", values={**VALUES, "order": {"id": 0}}).id
    with pytest.raises(AgentSpecError, match=r"input 'order' cannot be set by a trigger \(set by the"):
        agent_run_flow(config_id, "api", {"order": {"id": 1}})
