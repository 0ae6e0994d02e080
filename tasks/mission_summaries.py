"""A mission's summary for the UI: read from the database (status, steps with their errors, assets
with their summaries, tokens) and posted as a Markdown artifact on the flow runs that should show it."""

from __future__ import annotations

from hopflow.models.access.missions import count_steps_and_tokens, read_hops, read_mission_assets, read_steps
from hopflow.models.db import session_scope
from hopflow.models.orm import Mission
from hopflow.tasks.artifact_views import (
    AssetLine,
    MissionSummary,
    StepLine,
    artifact_key,
    key_prefix,
    mission_summary_markdown,
)
from hopflow.tasks.artifacts import publisher
from hopflow.tasks.missions import step_run_name


def read_mission_summary(mission_id: str) -> tuple[MissionSummary, str]:
    """(the summary, the artifact key prefix) of a stored mission."""
    with session_scope() as session:
        mission = session.get(Mission, mission_id)
        if mission is None:
            raise LookupError(f"no mission with id {mission_id!r}")
        steps: list[StepLine] = []
        for hop in read_hops(session, mission_id):
            for step in read_steps(session, hop.id):
                steps.append(
                    StepLine(
                        run_name=f"{step_run_name(hop, step)} in hop-{hop.sequence_order}:{hop.name}",
                        status=step.status.value,
                        error=step.error_message,
                    )
                )
        assets = read_mission_assets(session, mission_id)
        _, prompt_tokens, completion_tokens = count_steps_and_tokens(session, mission_id)
        summary = MissionSummary(
            mission_id=mission.id,
            name=mission.name,
            status=mission.status.value,
            flow_run_id=mission.flow_run_id,
            error=mission.error_message,
            steps=steps,
            assets=[
                AssetLine(
                    name=a.name,
                    role=a.role.value,
                    type=a.type,
                    status=a.status.value,
                    summary=a.content_summary or "",
                )
                for a in assets
            ],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return summary, key_prefix(mission.name, mission.mission_metadata)


def publish_mission_summary(mission_id: str, flow_run_id: str | None) -> str:
    """Post the mission's summary artifact on `flow_run_id` (the flow run, not a task run, so the run's
    Artifacts tab shows it); returns its key. The queued asset artifacts are posted first, then this
    one, from this thread: the run is ending, and waiting on the publisher's thread cost more."""
    summary, prefix = read_mission_summary(mission_id)
    key = artifact_key(prefix, "summary")
    publisher.flush()
    publisher.submit(
        key=key,
        type="markdown",
        data=mission_summary_markdown(summary),
        description=f"summary of mission {summary.name} ({summary.status})"
        + (f", flow run {flow_run_id}" if flow_run_id else ""),
        flow_run_id=flow_run_id,
        now=True,
    )
    return key
