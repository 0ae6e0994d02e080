"""Faults tell the truth: a SQLite file deleted or replaced mid-run fails the run, a dropped
PostgreSQL database is one clear error naming it, and a flow run Prefect still shows running while
hopflow's database finished its mission is set from the database by the next sync."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hopflow.flows.mission import mission_flow, run_mission
from hopflow.flows.reconciler import sync_run_logs
from hopflow.models.access.identity import ensure_user
from hopflow.models.db import DatabaseUnavailable, dispose_engines, session_scope
from hopflow.models.enums import MissionStatus, RunStatus
from hopflow.models.orm import AgentRunLog, Mission, utcnow
from hopflow.models.settings import get_settings, reset_settings
from hopflow.tasks.missions import create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from hopflow.tasks.tools import ToolContext
from hopflow.tasks.tools.registry import tool, unregister_tool
from prefect import get_client
from prefect.states import Running
from pydantic import BaseModel

from tests.conftest import PG_URL, require_postgres

pytestmark = pytest.mark.flows


class Nothing(BaseModel):
    pass


class Done(BaseModel):
    done: bool = True


def three_step_spec(middle: str) -> dict[str, Any]:
    def step(tool_id: str, n: int) -> dict[str, Any]:
        return {"tool": tool_id, "result_mapping": {"done": {"asset": f"done_{n}"}}}

    return {
        "name": "faulty",
        "hops": [{"name": "h", "steps": [step("test.ok", 1), step(middle, 2), step("test.ok", 3)]}],
    }


@pytest.fixture
def fault_tools() -> Iterator[None]:
    @tool("test.ok")
    def ok(params: Nothing) -> Done:
        return Done()

    @tool("test.delete-db")
    def delete_db(params: Nothing, ctx: ToolContext) -> Done:
        path = Path(get_settings().database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return Done()

    @tool("test.replace-db")
    def replace_db(params: Nothing, ctx: ToolContext) -> Done:
        path = Path(get_settings().database_url.removeprefix("sqlite:///"))
        shutil.copy(path, f"{path}.new")
        os.replace(f"{path}.new", path)  # same name, another file (a restore from backup, say)
        return Done()

    @tool("test.drop-db")
    def drop_db(params: Nothing, ctx: ToolContext) -> Done:
        name = sa.engine.make_url(get_settings().database_url).database
        admin = sa.create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database "{name}" with (force)'))
        admin.dispose()
        return Done()

    try:
        yield
    finally:
        for tool_id in ("test.ok", "test.delete-db", "test.replace-db", "test.drop-db"):
            unregister_tool(tool_id)


def store(spec: dict[str, Any]) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        return create_mission_from_spec(session, parse_mission_spec(spec), user_id=user.id).id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("tool_id", "what"), [("test.delete-db", "was deleted"), ("test.replace-db", "was replaced")]
)
def test_sqlite_file_deleted_or_replaced_mid_run_fails_the_run(
    hopflow_env: str, fault_tools: None, tool_id: str, what: str
) -> None:
    mission_id = store(three_step_spec(tool_id))
    path = hopflow_env.removeprefix("sqlite:///")
    with pytest.raises(DatabaseUnavailable, match=f"SQLite database {path} {what}"):
        run_mission(mission_id)


@pytest.fixture
def own_pg_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A whole PostgreSQL database of its own (it is dropped mid-run), migrated."""
    require_postgres()
    from hopflow.models import migrations

    name = f"hopflow_drop_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrations.upgrade(url)
        monkeypatch.setenv("HOPFLOW_DATABASE_URL", url)
        for sub in ("logs", "uploads", "data"):
            (tmp_path / sub).mkdir(exist_ok=True)
            monkeypatch.setenv(f"HOPFLOW_{sub.upper()}", str(tmp_path / sub))
        reset_settings()
        yield name
    finally:
        dispose_engines()
        reset_settings()
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.mark.postgres
def test_dropped_postgresql_database_is_one_clear_error_naming_it(
    own_pg_database: str, fault_tools: None
) -> None:
    mission_id = store(three_step_spec("test.drop-db"))
    with pytest.raises(DatabaseUnavailable) as caught:
        run_mission(mission_id)
    message = str(caught.value)
    assert f"PostgreSQL database '{own_pg_database}'" in message and "is unavailable" in message
    assert "Traceback" not in message and "\n" not in message


def test_sync_sets_a_run_prefect_left_running_from_the_finished_mission(hopflow_env: str) -> None:
    """The runner lost Prefect's API after finishing in hopflow's database: Prefect says RUNNING."""
    spec = {
        "name": "done",
        "hops": [
            {"name": "h", "steps": [{"tool": "noop.echo", "parameter_mapping": {"value": {"literal": 1}}}]}
        ],
    }
    finished, in_flight = store(spec), store(spec)
    since = datetime.now(UTC) - timedelta(seconds=5)
    runs = {}
    with get_client(sync_client=True) as client:
        for mission_id in (finished, in_flight):
            flow_run = client.create_flow_run(mission_flow, parameters={"mission_id": mission_id})
            client.set_flow_run_state(flow_run.id, Running(), force=True)
            runs[mission_id] = str(flow_run.id)
    with session_scope() as session:
        for mission_id, run_id in runs.items():
            session.get(Mission, mission_id).flow_run_id = run_id
        mission = session.get(Mission, finished)
        mission.status = MissionStatus.COMPLETED  # as the runner left it, its final report lost
        mission.completed_at = utcnow()
    report = sync_run_logs(since=since, flow_names=["mission"], export_logs=False, settle_after=0)
    assert report.settled == [runs[finished]]  # the mission still in flight is left alone
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(uuid.UUID(runs[finished])).state
        other = client.read_flow_run(uuid.UUID(runs[in_flight])).state
    assert state is not None and state.is_completed() and "hopflow's database" in (state.message or "")
    assert other is not None and other.is_running()
    with session_scope() as session:
        row = session.scalars(sa.select(AgentRunLog).where(AgentRunLog.run_id == runs[finished])).one()
        assert (row.status, row.prefect_state) == (RunStatus.SUCCESS, "COMPLETED")
