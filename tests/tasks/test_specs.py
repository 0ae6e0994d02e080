"""Mission specs are checked whole before anything is written; errors name path, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.orm import Asset, Hop, Mission, ToolStep
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import SpecError, load_mission_spec, parse_mission_spec
from sqlalchemy.orm import Session

GOOD = """\
name: words
inputs:
  - name: article
    type: text
    content: "a b c"
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping:
          text: {asset: article}
        result_mapping:
          words: {asset: word_count, role: output}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mission.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_mission_spec(write(tmp_path, text))
    return str(info.value)


def test_good_spec_loads(tmp_path: Path) -> None:
    spec = load_mission_spec(write(tmp_path, GOOD))
    assert spec.hops[0].steps[0].tool == "text.count"


def test_unknown_tool_names_path_line_and_a_suggestion(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("tool: text.count", "tool: text.cont"))
    assert "mission.yaml" in msg
    assert "hops[0].steps[0].tool (line 9): unknown tool 'text.cont'" in msg
    assert "did you mean 'text.count'" in msg


def test_parameter_the_tool_does_not_take(tmp_path: Path) -> None:
    msg = problems(
        tmp_path,
        GOOD.replace("text: {asset: article}", "text: {asset: article}\n          colour: {literal: red}"),
    )
    assert (
        "hops[0].steps[0].parameter_mapping.colour (line 12): tool 'text.count' takes no parameter 'colour'"
        in msg
    )


def test_missing_required_parameter(tmp_path: Path) -> None:
    msg = problems(
        tmp_path,
        GOOD.replace("          text: {asset: article}\n", "          {}\n").replace(
            "parameter_mapping:\n          {}", "parameter_mapping: {}"
        ),
    )
    assert "hops[0].steps[0].parameter_mapping" in msg
    assert "missing required parameter 'text' of tool 'text.count'" in msg


def test_asset_used_before_it_is_produced(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("text: {asset: article}", "text: {asset: summary}"))
    assert "hops[0].steps[0].parameter_mapping.text.asset (line 11)" in msg
    assert "asset 'summary' (mission scope) is used before any input or step produces it" in msg


def test_hop_scoped_asset_is_not_visible_in_the_next_hop(tmp_path: Path) -> None:
    text = (
        GOOD.replace("words: {asset: word_count, role: output}", "words: {asset: n, scope: hop}")
        + """\
  - name: later
    steps:
      - tool: noop.echo
        parameter_mapping:
          value: {asset: n, scope: hop}
        result_mapping:
          value: {asset: copy}
"""
    )
    msg = problems(tmp_path, text)
    assert "hops[1].steps[0].parameter_mapping.value.asset" in msg
    assert "asset 'n' (hop scope) is used before" in msg


def test_duplicate_names(tmp_path: Path) -> None:
    text = GOOD.replace(
        '    content: "a b c"\n', '    content: "a b c"\n  - name: article\n    content: x\n'
    ).replace("words: {asset: word_count, role: output}", "words: {asset: article}")
    text += GOOD[GOOD.index("  - name: count") :]
    msg = problems(tmp_path, text)
    assert "inputs[1].name (line 6): duplicate input name 'article'" in msg
    assert "hops[0].steps[0].result_mapping.words.asset" in msg and "duplicate asset name 'article'" in msg
    assert "hops[1].name" in msg and "duplicate hop name 'count'" in msg


def test_type_mismatch_against_the_tool_input_model(tmp_path: Path) -> None:
    text = GOOD.replace('type: text\n    content: "a b c"', "type: number\n    content: 3")
    msg = problems(tmp_path, text)
    assert (
        "type mismatch: asset 'article' is 'number' but parameter 'text' of tool 'text.count' takes 'text'"
        in msg
    )
    lit = GOOD.replace("text: {asset: article}", "text: {literal: [1, 2]}")
    assert "hops[0].steps[0].parameter_mapping.text.literal" in problems(tmp_path, lit)


def test_unknown_field_and_wrong_parameter_shape(tmp_path: Path) -> None:
    msg = problems(
        tmp_path,
        GOOD.replace("name: count", "name: count\n    colour: blue").replace(
            "text: {asset: article}", "text: article"
        ),
    )
    assert "hops[0].colour (line 8): unknown field" in msg
    assert "hops[0].steps[0].parameter_mapping.text" in msg
    assert "{asset: NAME[, scope: mission|hop]} or {literal: VALUE}" in msg


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    msg = problems(tmp_path, GOOD.replace("text: {asset: article}", "text: {asset: article"))
    assert "mission.yaml" in msg and "not valid YAML/JSON: line" in msg


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("tool: text.count", "tool: nope") + GOOD[GOOD.index("  - name: count") :].replace(
        "name: count", "name: again"
    ).replace("{asset: article}", "{asset: ghost}")
    msg = problems(tmp_path, text)
    assert "2 problems" in msg
    assert "unknown tool 'nope'" in msg and "asset 'ghost'" in msg


def test_invalid_spec_writes_nothing(session: Session) -> None:
    spec = parse_mission_spec(
        {
            "name": "bad",
            "inputs": [{"name": "x", "content": "t"}],
            "hops": [
                {
                    "name": "h",
                    "steps": [{"tool": "text.count", "parameter_mapping": {"text": {"asset": "y"}}}],
                }
            ],
        }
    )
    user = ensure_user(session)
    session.commit()
    with pytest.raises(SpecError, match="asset 'y'"):
        create_mission_from_spec(session, spec, user_id=user.id)
    session.rollback()
    for table in (Mission, Hop, ToolStep, Asset):
        assert session.scalar(sa.select(sa.func.count()).select_from(table)) == 0


def test_stored_spec_maps_parameters_and_results_by_asset_id(session: Session, tmp_path: Path) -> None:
    spec = load_mission_spec(write(tmp_path, GOOD))
    user = ensure_user(session)
    mission = create_mission_from_spec(session, spec, user_id=user.id, base_dir=tmp_path)
    session.commit()
    step = session.scalars(sa.select(ToolStep)).one()
    article = session.scalars(sa.select(Asset).where(Asset.name == "article")).one()
    word_count = session.scalars(sa.select(Asset).where(Asset.name == "word_count")).one()
    assert step.parameter_mapping == {
        "text": {"type": "asset", "asset_id": article.id, "asset": "article", "scope": "mission"}
    }
    assert step.result_mapping["words"]["asset_id"] == word_count.id  # type: ignore[index]
    assert word_count.status.value == "pending" and word_count.scope_id == mission.id
    assert article.status.value == "ready" and article.content == "a b c"


def test_literal_dicts_keep_their_key_order_on_every_backend(session: Session, tmp_path: Path) -> None:
    from hopflow.tasks.steps import load_parameters

    spec = parse_mission_spec(
        {
            "name": "order",
            "inputs": [{"name": "t", "type": "table", "content": [{"b": 1, "a": 2}]}],
            "hops": [
                {
                    "name": "h",
                    "steps": [
                        {
                            "tool": "table.aggregate",
                            "parameter_mapping": {
                                "table": {"asset": "t"},
                                "by": {"literal": ["b"]},
                                "aggregations": {"literal": {"zeta": "sum", "a": "max", "mid": "count"}},
                            },
                            "result_mapping": {"table": {"asset": "out"}},
                        }
                    ],
                }
            ],
        }
    )
    user = ensure_user(session)
    create_mission_from_spec(session, spec, user_id=user.id, base_dir=tmp_path)
    session.commit()
    session.expire_all()
    mapping = session.scalars(sa.select(ToolStep)).one().parameter_mapping
    assert mapping is not None
    literal_only = {k: v for k, v in mapping.items() if v["type"] == "literal"}
    assert list(load_parameters(literal_only)["aggregations"]) == ["zeta", "a", "mid"]
