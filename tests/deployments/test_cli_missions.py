"""The mission commands as a user types them: run, demo, missions list/show, assets show."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from hopflow.models.orm import Asset, Mission
from typer.testing import CliRunner

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
name: cli-words
inputs:
  - {name: article, type: text, content: "alpha beta gamma"}
hops:
  - name: count
    steps:
      - tool: text.count
        parameter_mapping: {text: {asset: article}}
        result_mapping: {words: {asset: word_count, role: output}}
"""


def test_run_stores_runs_and_shows_assets(hopflow_env: str, tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(SPEC)
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    assert "mission cli-words completed" in result.output
    assert "word_count" in result.output and "step-1.1:text.count" in result.output
    listed = runner.invoke(app, ["missions", "list"])
    assert "cli-words" in listed.output and "completed" in listed.output
    content = runner.invoke(app, ["assets", "show", "cli-words", "--content", "article"])
    assert content.exit_code == 0 and "alpha beta gamma" in content.output
    shown = runner.invoke(app, ["missions", "show", "cli-words"])
    assert "hop-1:count" in shown.output


def test_bad_spec_exits_1_with_path_and_line_and_writes_nothing(hopflow_env: str, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("text.count", "text.cuont"))
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "hops[0].steps[0].tool (line 7)" in result.output
    assert "did you mean 'text.count'" in result.output
    assert "Traceback" not in result.output
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Mission)) == 0


def test_demo_runs_the_bundled_mission_to_a_report(hopflow_env: str) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "mission sales-report completed" in result.output
    with session_scope() as session:
        report = session.scalars(sa.select(Asset).where(Asset.name == "report")).one()
        table = session.scalars(sa.select(Asset).where(Asset.name == "revenue_by_region")).one()
        assert report.status.value == "ready" and table.status.value == "ready"
        assert "# Sales report - October 2026" in report.content  # type: ignore[operator]
        # north: 12x9.5 + 4x24 + 2x14.25 + 15x9.5 + 5x24 = 501.0, straight from examples/data/sales.csv
        assert "| north | 501.00 | 38 | 5 |" in report.content  # type: ignore[operator]
        assert table.content_summary is not None and table.content_summary.startswith(
            "DataFrame (4 rows x 4 columns)"
        )
