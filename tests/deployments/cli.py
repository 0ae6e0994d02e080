"""Running the `hopflow` CLI in tests, in this process: the output of a command that must succeed or
must be refused (exit code 1), and row counts to prove a refusal wrote nothing."""

from __future__ import annotations

import sqlalchemy as sa
from hopflow.deployments.cli import app
from hopflow.models.db import session_scope
from typer.testing import CliRunner

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def count(model: type) -> int:
    with session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
