"""mission_flow on a real Prefect API, on SQLite and PostgreSQL: hops and steps as task runs,
assets with summaries and artifacts, failures, large values, dynamic hops, resume after SIGKILL."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hopflow.flows.mission import run_mission
from hopflow.models.access.identity import ensure_user
from hopflow.models.access.status import advance_to
from hopflow.models.db import session_scope
from hopflow.models.enums import AssetStatus, HopStatus, MissionStatus, ToolExecutionStatus
from hopflow.models.orm import Asset, Event, Fault, Hop, Mission, ToolStep
from hopflow.tasks.missions import cancel_mission, create_mission_from_spec
from hopflow.tasks.specs import parse_mission_spec
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from tests.crashes import run_and_sigkill_mid_step

pytestmark = pytest.mark.flows

ROOT = Path(__file__).resolve().parents[2]


def store(spec: dict[str, Any], base_dir: Path | None = None) -> str:
    with session_scope() as session:
        user = ensure_user(session)
        return create_mission_from_spec(
            session, parse_mission_spec(spec), user_id=user.id, base_dir=base_dir
        ).id


def words_spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "words",
        "inputs": [{"name": "article", "type": "text", "content": "one two three. four five."}],
        "hops": [
            {
                "name": "count",
                "steps": [
                    {
                        "tool": "text.count",
                        "parameter_mapping": {"text": {"asset": "article"}},
                        "result_mapping": {
                            "words": {"asset": "word_count", "role": "output"},
                            "chars": {"asset": "chars", "scope": "hop"},
                        },
                    },
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"asset": "chars", "scope": "hop"}},
                        "result_mapping": {"value": {"asset": "char_copy"}},
                    },
                ],
            },
            {
                "name": "split",
                "steps": [
                    {
                        "tool": "text.split",
                        "parameter_mapping": {"text": {"asset": "article"}, "separator": {"literal": ". "}},
                        "result_mapping": {"parts": {"asset": "sentences", "role": "output"}},
                    },
                ],
            },
        ],
        **extra,
    }


def test_mission_runs_hops_and_steps_as_named_task_runs_with_assets(hopflow_env: str) -> None:
    mission_id = store(words_spec())
    result = run_mission(mission_id)
    assert result.status == MissionStatus.COMPLETED
    assert result.outputs == {"word_count": "5", "sentences": '["one two three","four five."]'}

    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.status == MissionStatus.COMPLETED
        assert mission.flow_run_id is not None and mission.completed_at is not None
        assert [h.status for h in mission.hops] == [HopStatus.COMPLETED, HopStatus.COMPLETED]
        steps = session.scalars(sa.select(ToolStep)).all()
        assert {s.status for s in steps} == {ToolExecutionStatus.COMPLETED}
        assert all(s.task_run_id and s.attempts == 1 for s in steps)
        assets = {a.name: a for a in session.scalars(sa.select(Asset))}
        assert {a.status for a in assets.values()} == {AssetStatus.READY}
        assert assets["chars"].scope_id == mission.hops[0].id and assets["chars"].content == 25
        assert assets["char_copy"].content_summary == "25"
        # every status move of the mission is in the audit store, in the seed's order
        moves = [
            e.after["status"]  # type: ignore[index]
            for e in session.scalars(
                sa.select(Event)
                .where(Event.subject_id == mission_id, Event.action == "status_changed")
                .order_by(Event.created_at)
            )
        ]
        assert moves == [
            "ready_for_next_hop",
            "building_hop",
            "hop_ready_to_execute",
            "executing_hop",
            "ready_for_next_hop",
            "building_hop",
            "hop_ready_to_execute",
            "executing_hop",
            "completed",
        ]
        flow_run_id = mission.flow_run_id

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        # the UI's breadcrumb reads "mission > words": the run name does not repeat the flow's
        assert flow_run.name == "words" and client.read_flow(flow_run.flow_id).name == "mission"
        assert flow_run.state is not None and flow_run.state.is_completed()
        assert f"mission:{mission_id}" in flow_run.tags
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
        names = {t.name for t in task_runs}
        assert {
            "hop-1:count",
            "hop-2:split",
            "step-1.1:text.count",
            "step-1.2:noop.echo",
            "step-2.1:text.split",
        } <= names
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
        keys = {a.key for a in artifacts}
        # keys stable across runs (the UI's history of a key): <mission name>-<asset name>, slugged
        assert {"words-word-count", "words-sentences", "words-assets", "words-summary"} <= keys
        # intermediate assets have no artifact of their own (HOPFLOW_ASSET_ARTIFACTS=outputs): the
        # table lists them
        assert not {"words-chars", "words-char-copy"} & keys
        table_rows = next(a for a in artifacts if a.key == "words-assets").data
        assert "char_copy" in str(table_rows)
        table = next(a for a in artifacts if a.key == "words-assets")
        assert table.type == "table"
        # the mission summary hangs on the flow run itself (not a task run) and lists the assets
        summary = next(a for a in artifacts if a.key == "words-summary")
        assert summary.type == "markdown" and summary.task_run_id is None
        assert "# mission words: completed" in str(summary.data) and "word_count" in str(summary.data)
        # bookkeeping task runs have stable names, no random suffix
        assert {"start-mission", "prepare-next-hop", "complete-mission"} <= names


@pytest.mark.parametrize("policy", ["all", "none"])
def test_asset_artifacts_setting_chooses_which_assets_get_their_own_artifact(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    from hopflow.models.settings import reset_settings

    monkeypatch.setenv("HOPFLOW_ASSET_ARTIFACTS", policy)
    reset_settings()
    mission_id = store(words_spec())
    assert run_mission(mission_id).status == MissionStatus.COMPLETED
    with session_scope() as session:
        flow_run_id = session.get(Mission, mission_id).flow_run_id  # type: ignore[union-attr]
    with get_client(sync_client=True) as client:
        keys = {
            a.key
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
        }
    per_asset = {"words-word-count", "words-sentences", "words-chars", "words-char-copy"}
    assert keys & per_asset == (per_asset if policy == "all" else set())
    # the summary and the table of all assets are there whatever the policy
    assert {"words-assets", "words-summary"} <= keys


def test_tool_failure_fails_step_hop_mission_and_opens_a_fault(hopflow_env: str) -> None:
    spec = words_spec()
    spec["hops"][1]["steps"].append(
        {
            "tool": "files.read",
            "parameter_mapping": {"path": {"literal": "missing.txt"}},
            "result_mapping": {"text": {"asset": "notes"}},
        }
    )
    mission_id = store(spec)
    with pytest.raises(Exception, match=r"missing\.txt"):
        run_mission(mission_id)
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.status == MissionStatus.FAILED
        assert "missing.txt" in (mission.error_message or "")
        hop1, hop2 = mission.hops
        assert hop1.status == HopStatus.COMPLETED and hop2.status == HopStatus.FAILED
        failed = hop2.tool_steps[1]
        assert failed.status == ToolExecutionStatus.FAILED and "missing.txt" in (failed.error_message or "")
        assert hop2.tool_steps[0].status == ToolExecutionStatus.COMPLETED
        notes = session.scalars(sa.select(Asset).where(Asset.name == "notes")).one()
        assert notes.status == AssetStatus.ERROR
        fault = session.scalars(sa.select(Fault)).one()
        assert fault.tool_step_id == failed.id and fault.mission_id == mission_id


def failed_reading_later_txt() -> str:
    """The words mission with a last step reading uploads/later.txt, run once while it is missing."""
    spec = words_spec()
    spec["hops"][1]["steps"].append(
        {
            "tool": "files.read",
            "parameter_mapping": {"path": {"literal": "later.txt"}},
            "result_mapping": {"text": {"asset": "notes", "role": "output"}},
        }
    )
    mission_id = store(spec)
    with pytest.raises(Exception, match=r"later\.txt"):
        run_mission(mission_id)
    return mission_id


def test_rerun_of_failed_mission_resumes_without_redoing_or_duplicating(
    hopflow_env: str, tmp_path: Path
) -> None:
    mission_id = failed_reading_later_txt()
    with session_scope() as session:
        before = {a.name: (a.id, a.updated_at) for a in session.scalars(sa.select(Asset))}
    (tmp_path / "uploads" / "later.txt").write_text("now it exists")
    result = run_mission(mission_id)
    assert result.status == MissionStatus.COMPLETED
    assert result.outputs["notes"] == "now it exists"
    with session_scope() as session:
        steps = {s.tool_id: s for s in session.scalars(sa.select(ToolStep))}
        assert steps["text.count"].attempts == 1 and steps["noop.echo"].attempts == 1
        assert steps["text.split"].attempts == 1
        assert steps["files.read"].attempts == 2
        after = {a.name: (a.id, a.updated_at) for a in session.scalars(sa.select(Asset))}
        assert set(after) == set(before)  # no duplicate, nothing lost
        for name in ("word_count", "chars", "char_copy", "sentences"):
            assert after[name] == before[name], f"{name} was redone"


def test_large_values_are_offloaded_and_read_back_transparently(
    hopflow_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hopflow.models.settings import reset_settings

    monkeypatch.setenv("HOPFLOW_INLINE_LIMIT_BYTES", "1000")
    reset_settings()
    big = "word " * 5000
    spec = {
        "name": "big",
        "inputs": [{"name": "article", "type": "text", "content": big}],
        "hops": [
            {
                "name": "h",
                "steps": [
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"asset": "article"}},
                        "result_mapping": {"value": {"asset": "copy"}},
                    },
                    {
                        "tool": "text.count",
                        "parameter_mapping": {"text": {"asset": "copy"}},
                        "result_mapping": {"words": {"asset": "n", "role": "output"}},
                    },
                ],
            }
        ],
    }
    mission_id = store(spec)
    result = run_mission(mission_id)
    assert result.outputs["n"] == "5000"
    with session_scope() as session:
        for name in ("article", "copy"):
            asset = session.scalars(sa.select(Asset).where(Asset.name == name)).one()
            assert asset.content is None and asset.content_ref is not None
            assert Path(asset.content_ref).is_file() and asset.size_bytes and asset.size_bytes > 25000
            assert asset.content_summary == f"Text (25000 chars): {big[:150]}..."


def test_dynamic_mission_loops_through_planner_hops(hopflow_env: str) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "missions" / "dynamic_checklist.yaml").read_text())
    mission_id = store(spec)
    result = run_mission(mission_id)
    assert result.status == MissionStatus.COMPLETED
    assert result.outputs["word_count"] == "13"
    assert result.hop_count == 2
    with session_scope() as session:
        hops = session.scalars(
            sa.select(Hop).where(Hop.mission_id == mission_id).order_by(Hop.sequence_order)
        ).all()
        assert [(h.name, h.is_final) for h in hops] == [("count", False), ("split", True)]
        planned = session.scalars(sa.select(Event).where(Event.action == "hop_planned")).all()
        assert len(planned) == 2


def test_cancelled_mission_cancels_unfinished_work_and_is_not_rerun(hopflow_env: str) -> None:
    mission_id = store(words_spec())
    cancel_mission(mission_id, reason="user asked")
    result = run_mission(mission_id)
    assert result.status == MissionStatus.CANCELLED
    with session_scope() as session:
        statuses = {s.status for s in session.scalars(sa.select(ToolStep))}
        assert statuses == {ToolExecutionStatus.CANCELLED}
        assert {h.status for h in session.scalars(sa.select(Hop))} == {HopStatus.CANCELLED}


def test_resume_redoes_a_completed_step_whose_output_is_gone_through_the_declared_machine(
    hopflow_env: str, tmp_path: Path
) -> None:
    mission_id = failed_reading_later_txt()
    with session_scope() as session:
        sentences = session.scalars(sa.select(Asset).where(Asset.name == "sentences")).one()
        advance_to(session, sentences, AssetStatus.ERROR, reason="its stored content was lost")
    (tmp_path / "uploads" / "later.txt").write_text("now it exists")
    assert run_mission(mission_id).status == MissionStatus.COMPLETED
    with session_scope() as session:
        split = session.scalars(sa.select(ToolStep).where(ToolStep.tool_id == "text.split")).one()
        assert split.status == ToolExecutionStatus.COMPLETED and split.attempts == 2  # redone once
        moves = [
            (e.before["status"], e.after["status"])
            for e in session.scalars(
                sa.select(Event)
                .where(Event.subject_id == split.id, Event.action == "status_changed")
                .order_by(Event.created_at)
            )
        ]
        assert ("completed", "ready_to_execute") in moves  # the redo is a declared, recorded move
        redo = sa.select(Event).where(Event.subject_id == split.id, Event.action == "step_redo")
        assert len(session.scalars(redo).all()) == 1
        kept = session.scalars(sa.select(ToolStep).where(ToolStep.tool_id == "text.count")).one()
        assert kept.attempts == 1  # its hop was complete: not redone


@pytest.mark.slow
def test_sigkill_mid_step_then_resume_redoes_only_the_step_in_flight(
    hopflow_env: str, tmp_path: Path, prefect_api: str
) -> None:
    spec = {
        "name": "killable",
        "inputs": [{"name": "seed", "type": "text", "content": "x"}],
        "hops": [
            {
                "name": "first",
                "steps": [
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"asset": "seed"}},
                        "result_mapping": {"value": {"asset": "a"}},
                    }
                ],
            },
            {
                "name": "slow",
                "steps": [
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"asset": "a"}},
                        "result_mapping": {"value": {"asset": "b"}},
                    },
                    {
                        "tool": "noop.sleep",
                        "parameter_mapping": {"seconds": {"literal": "${env.HOPFLOW_TEST_SLEEP}"}},
                        "result_mapping": {"slept_seconds": {"asset": "slept"}},
                    },
                    {
                        "tool": "noop.echo",
                        "parameter_mapping": {"value": {"asset": "b"}},
                        "result_mapping": {"value": {"asset": "c", "role": "output"}},
                    },
                ],
            },
        ],
    }
    # A short lease: the dead runner's mission can be taken over a few seconds after the kill.
    env = {"PREFECT_API_URL": prefect_api, "HOPFLOW_TEST_SLEEP": "120", "HOPFLOW_MISSION_LEASE_SECONDS": "3"}
    run_and_sigkill_mid_step(spec, tmp_path, env)

    with session_scope() as session:
        mission = session.scalars(sa.select(Mission)).one()
        mission_id = mission.id
        assert mission.status == MissionStatus.EXECUTING_HOP  # no hook ran: the crash left it mid-hop
        before = {a.name: (a.id, a.updated_at, a.status) for a in session.scalars(sa.select(Asset))}
    assert before["a"][2] == AssetStatus.READY and before["b"][2] == AssetStatus.READY
    assert before["slept"][2] == AssetStatus.IN_PROGRESS
    wait_until_lease_expired(mission_id)

    os.environ["HOPFLOW_TEST_SLEEP"] = "0"
    try:
        result = run_mission(mission_id)
    finally:
        del os.environ["HOPFLOW_TEST_SLEEP"]
    assert result.status == MissionStatus.COMPLETED
    with session_scope() as session:
        attempts = {
            (hop.sequence_order, step.sequence_order, step.tool_id): step.attempts
            for hop, step in session.execute(sa.select(Hop, ToolStep).join(ToolStep.hop))
        }
        # only the step in flight when the process died ran twice
        assert attempts == {
            (1, 1, "noop.echo"): 1,
            (2, 1, "noop.echo"): 1,
            (2, 2, "noop.sleep"): 2,
            (2, 3, "noop.echo"): 1,
        }
        after = {a.name: (a.id, a.updated_at, a.status) for a in session.scalars(sa.select(Asset))}
        assert set(after) == set(before)
        assert after["a"] == before["a"] and after["b"] == before["b"]  # completed work not redone
        assert after["slept"][2] == AssetStatus.READY and after["c"][2] == AssetStatus.READY
        assert session.scalar(sa.select(sa.func.count()).select_from(Asset)) == len(before)


def wait_until_lease_expired(mission_id: str, deadline_seconds: float = 120) -> None:
    """The dead runner stopped renewing: wait (on the condition, not a clock) until its lease lapses."""
    from hopflow.models.orm import utcnow

    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with session_scope() as session:
            expires = session.get(Mission, mission_id).lease_expires_at
        if expires is None or expires <= utcnow():
            return
        time.sleep(0.2)
    raise AssertionError(f"the lease of mission {mission_id} never expired")
