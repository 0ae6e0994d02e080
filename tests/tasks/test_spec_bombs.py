"""Hostile mission specs, on SQLite and PostgreSQL: each is refused with a clear error before anything
is stored, or stored exactly; a long spec is stored with a bounded number of statements per hop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import get_engine, session_scope
from hopflow.models.orm import Asset, Mission, ToolStep
from hopflow.models.schemas.specs import MAX_HOPS
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import SpecError, load_mission_spec, parse_mission_spec
from hopflow.tasks.steps import load_parameters

BOMB = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def one_step(tool: str, **literals: Any) -> dict[str, Any]:
    mapping = {k: {"literal": v} for k, v in literals.items()}
    return {"name": "m", "hops": [{"name": "h", "steps": [{"tool": tool, "parameter_mapping": mapping}]}]}


def store(spec: dict[str, Any]) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        return create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id


def missions() -> int:
    with session_scope() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Mission)) or 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            one_step("noop.sleep", seconds=-5),
            "'seconds' of tool 'noop.sleep': Input should be greater than or equal to 0",
        ),
        (one_step("noop.sleep", seconds=1e30), "Input should be less than or equal to 3600"),
        (one_step("noop.echo", value={"x": [float("nan")]}), "nan is not a JSON number"),
        (one_step("noop.echo", value=float("inf")), "inf is not a JSON number"),
        (
            {**one_step("noop.echo", value=1), "name": "evil\x00name"},
            "a string holds a NUL character (at name)",
        ),
        (one_step("noop.echo", value={"k": "v\x00"}), "a string holds a NUL character (at k)"),
    ],
)
def test_bad_literals_and_names_are_refused_before_anything_is_stored(
    hopflow_env: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as raised:
        store(spec)
    assert message in str(raised.value)
    assert missions() == 0


def test_deep_literals_are_a_clear_error(hopflow_env: str, tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(3000):
        deep = [deep]
    with pytest.raises(SpecError, match="nested deeper than 64 levels"):
        store(one_step("noop.echo", value=deep))
    path = tmp_path / "deep.json"
    step = (
        '{"tool": "noop.echo", "parameter_mapping": {"value": {"literal": ' + "[" * 3000 + "]" * 3000 + "}}}"
    )
    path.write_text('{"name": "m", "hops": [{"name": "h", "steps": [' + step + "]}]}", encoding="utf-8")
    with pytest.raises(SpecError, match="nested deeper than 64 levels"):
        load_mission_spec(path)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB, encoding="utf-8")
    with pytest.raises(SpecError, match="expands to more than 1000000 nodes"):
        load_mission_spec(bomb)
    assert missions() == 0


def test_big_integers_are_stored_exactly(hopflow_env: str) -> None:
    mission_id = store(one_step("noop.echo", value={"n": 10**40, "m": -(2**70)}))
    with session_scope() as session:
        step = session.scalars(sa.select(ToolStep)).one()
        assert load_parameters(step.parameter_mapping) == {"value": {"n": 10**40, "m": -(2**70)}}
        asset = Asset(user_id=ensure_user(session).id, scope_type="mission", scope_id=mission_id, name="big",
                      type="json", role="output", status="ready", content={"n": 10**40})  # fmt: skip
        session.add(asset)
        session.flush()
        asset_id = asset.id
    with session_scope() as session:
        stored = session.get(Asset, asset_id)
        assert stored is not None and stored.content == {"n": 10**40}


def test_a_spec_over_the_hop_limit_is_refused_and_a_long_one_stores_in_linear_statements(
    hopflow_env: str,
) -> None:
    def hops(n: int) -> dict[str, Any]:
        step = {"tool": "noop.echo", "parameter_mapping": {"value": {"literal": 1}}}
        made = [{**step, "result_mapping": {"value": f"a{i}"}} for i in range(n)]
        return {"name": "long", "hops": [{"name": f"h{i}", "steps": [made[i]]} for i in range(n)]}

    with pytest.raises(SpecError, match=f"hops: List should have at most {MAX_HOPS} items"):
        parse_mission_spec(hops(10_000))
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", count)
    counts = []
    store(hops(1))  # the first store also creates the user
    try:
        for n in (20, 40, 80):
            statements.clear()
            store(hops(n))
            counts.append(len(statements))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # the same statements per hop however long the mission (20 more hops, then 40 more) ...
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])
    # ... and none of them re-reads every asset of the mission so far (what made storing quadratic)
    scope_reads = [s for s in statements if "FROM assets" in s and "assets.name =" not in s]
    assert len(scope_reads) <= 1, scope_reads[:2]


def test_nul_and_nan_in_a_spec_file_are_refused(tmp_path: Path) -> None:
    for text, message in (
        ('name: "a\\0b"\n', "a string holds a NUL character"),
        ("n: .nan\n", "not a JSON number"),
    ):
        path = tmp_path / "bad.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SpecError, match=message):
            load_mission_spec(path)
