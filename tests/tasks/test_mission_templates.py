"""Mission templates without Prefect: storing a spec (and its schedule), the Run form its inputs make, the
check of a run's inputs (outside data: typed, bounded, no ${env.X}), and the fresh mission a run gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.db import session_scope
from hopflow.models.orm import Asset, Mission, MissionTemplate
from hopflow.tasks.assets import load_value
from hopflow.tasks.specs import SpecError
from hopflow.tasks.templates import (
    MAX_INPUT_DEPTH,
    check_template_inputs,
    create_template_mission,
    parameter_schema,
    read_template,
    store_template,
)

ROOT = Path(__file__).resolve().parents[2]
SALES = ROOT / "examples" / "missions" / "sales_report.yaml"

SPEC = """\
name: words
description: Count the words of an article.
inputs:
  - {name: article, type: text, content: "alpha beta gamma", description: the text to count}
  - {name: limit, type: number, content: 3}
  - {name: options, type: json, content: {verbose: false}}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {text: {asset: article}}
        result_mapping: {words: {asset: word_count, role: output}}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "words.yaml"
    path.write_text(SPEC)
    return path


def test_store_template_keeps_spec_schedule_and_versions(hopflow_env: str, spec_file: Path) -> None:
    first = store_template(spec_file, name="nightly-words", cron="0 3 * * *", timezone="Europe/Lisbon")
    assert (first.name, first.version, first.cron, first.timezone) == (
        "nightly-words",
        1,
        "0 3 * * *",
        "Europe/Lisbon",
    )
    assert first.inputs == ["article", "limit", "options"] and first.deployment == "mission-run/nightly-words"
    again = store_template(spec_file, name="nightly-words", interval_seconds=600)
    assert (again.version, again.cron, again.timezone, again.interval_seconds) == (2, None, None, 600)
    with session_scope() as session:
        [row] = session.scalars(sa.select(MissionTemplate)).all()
        assert row.spec["name"] == "nightly-words" and row.base_dir == str(spec_file.parent.resolve())


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"cron": "not a cron"}, "cron 'not a cron'"),
        ({"cron": "0 3 * * *", "interval_seconds": 60}, "not both"),
        ({"timezone": "Europe/Lisbon"}, "--timezone needs --cron"),
        ({"interval_seconds": 0}, "at least 1 second"),
    ],
)
def test_bad_schedule_is_refused_and_nothing_is_stored(
    hopflow_env: str, spec_file: Path, options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(SpecError, match=fragment):
        store_template(spec_file, **options)
    with session_scope() as session:
        assert session.scalars(sa.select(MissionTemplate)).all() == []


def test_run_form_has_the_spec_inputs_with_types_defaults_and_descriptions(
    hopflow_env: str, spec_file: Path
) -> None:
    view, spec = read_template(store_template(spec_file).name)
    schema = parameter_schema(view, spec)
    assert schema["properties"]["template"]["enum"] == ["words"]
    assert schema["properties"]["template"]["readOnly"] is True
    inputs = schema["properties"]["inputs"]
    assert inputs["properties"]["article"] == {
        "type": "string",
        "title": "article",
        "default": "alpha beta gamma",
        "description": "the text to count",
    }
    assert inputs["properties"]["limit"]["type"] == "number"
    assert inputs["properties"]["options"]["type"] == "object"
    assert inputs["default"] == {"article": "alpha beta gamma", "limit": 3, "options": {"verbose": False}}


def test_a_file_table_input_is_an_optional_array_of_rows(hopflow_env: str) -> None:
    view, spec = read_template(store_template(SALES, name="sales").name)
    sales = parameter_schema(view, spec)["properties"]["inputs"]["properties"]["sales"]
    assert sales["type"] == "array" and sales["items"] == {"type": "object"}
    assert "default" not in sales and "../data/sales.csv" in sales["description"]


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"artcle": "x"}, "unknown input 'artcle'; the mission's inputs: article, limit, options"),
        ({"limit": "three"}, "input 'limit' (number): expected number, got str"),
        ({"article": "${env.HOME}"}, "${env.X} references are not accepted"),
        ({"options": [1, 2]}, None),  # json may be a list
        ("not an object", "inputs must be an object"),
        ({"options": {"a": "x" * 1_100_000}}, "more than the 1000000 allowed"),
    ],
)
def test_run_inputs_are_checked_like_outside_data(
    hopflow_env: str, spec_file: Path, inputs: Any, fragment: str | None
) -> None:
    _, spec = read_template(store_template(spec_file).name)
    issues = check_template_inputs(spec, inputs)
    if fragment is None:
        assert issues == []
    else:
        assert any(fragment in i.message for i in issues), issues


def test_deeply_nested_inputs_are_refused(hopflow_env: str, spec_file: Path) -> None:
    _, spec = read_template(store_template(spec_file).name)
    deep: Any = {}
    for _ in range(MAX_INPUT_DEPTH + 5):
        deep = {"x": deep}
    [issue] = check_template_inputs(spec, {"options": deep})
    assert f"deeper than {MAX_INPUT_DEPTH}" in issue.message


def test_each_run_creates_a_fresh_mission_with_the_given_inputs(hopflow_env: str, spec_file: Path) -> None:
    store_template(spec_file)
    first = create_template_mission("words", {"article": "one two"}, "run-1")
    second = create_template_mission("words", None, "run-2")
    assert first != second
    with session_scope() as session:
        missions = {m.id: m for m in session.scalars(sa.select(Mission))}
        assert set(missions) == {first, second}
        assert missions[first].mission_metadata["template"] == "words"  # type: ignore[index]
        assert missions[first].mission_metadata["template_run_id"] == "run-1"  # type: ignore[index]

        def article(mission_id: str) -> Any:
            asset = session.scalars(
                sa.select(Asset).where(Asset.scope_id == mission_id, Asset.name == "article")
            ).one()
            return load_value(asset)

        assert (article(first), article(second)) == ("one two", "alpha beta gamma")


def test_bad_run_inputs_write_no_mission(hopflow_env: str, spec_file: Path) -> None:
    store_template(spec_file)
    with pytest.raises(SpecError, match="run inputs of mission template 'words'"):
        create_template_mission("words", {"limit": "three"}, None)
    with pytest.raises(LookupError, match="no mission template named 'nope'; known: words"):
        create_template_mission("nope", {}, None)
    with session_scope() as session:
        assert session.scalars(sa.select(Mission)).all() == []


def test_template_deployment_and_prefect_yaml_entry(hopflow_env: str, spec_file: Path) -> None:
    from hopflow.deployments.build import prefect_yaml_document
    from hopflow.deployments.templates import template_deployments

    store_template(spec_file, name="nightly", cron="0 3 * * *", timezone="Europe/Lisbon")
    [deployment] = template_deployments()
    assert (deployment.name, deployment.flow_name, deployment.parameters) == (
        "nightly",
        "mission-run",
        {"template": "nightly"},
    )
    assert deployment.entrypoint == "hopflow.flows.mission_template.mission_template_flow"
    form = deployment._parameter_openapi_schema.properties["inputs"]["properties"]
    assert form["article"]["type"] == "string"
    [entry] = prefect_yaml_document([], "pool")["deployments"]
    assert entry["name"] == "nightly" and entry["parameters"] == {"template": "nightly"}
    assert entry["schedules"] == [{"cron": "0 3 * * *", "timezone": "Europe/Lisbon", "active": True}]
    assert Path(entry["entrypoint"].rpartition(":")[0]).is_file()
