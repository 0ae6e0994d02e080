"""Flow runs Prefect still shows open while hopflow's database says their mission finished.

A runner that loses Prefect's API mid-run (the server died) keeps working against hopflow's
database and finishes the mission there, but its final state never reaches Prefect, which keeps
the flow run RUNNING. hopflow's database is the source of truth: the sync proposes the mission's
outcome to Prefect (forced), so Prefect and agent_run_logs both end up telling the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from hopflow.models.access.missions import read_finished_missions
from hopflow.models.db import session_scope
from hopflow.models.enums import MissionStatus
from hopflow.models.orm import utcnow
from prefect import get_client
from prefect.client.schemas.objects import State

logger = logging.getLogger("hopflow.settle")


def finished_missions(run_ids: Sequence[str], settle_after: float) -> dict[str, tuple[str, str, str]]:
    """{flow run id: (mission id, mission status, error)} for open runs whose mission finished (and
    let its lease go) more than `settle_after` seconds ago."""
    if not run_ids:
        return {}
    before = utcnow() - timedelta(seconds=settle_after)
    with session_scope() as session:
        rows = read_finished_missions(session, run_ids, before)
    return {run: (mission, status.value, error or "") for run, mission, status, error in rows}


def settle_finished_runs(run_ids: Sequence[str], settle_after: float = 60.0) -> list[str]:
    """Give Prefect the final state hopflow's database recorded for these open runs; returns the ids set."""
    from prefect.states import Cancelled, Completed, Failed

    finished = finished_missions(run_ids, settle_after)
    settled: list[str] = []
    if not finished:
        return settled
    with get_client(sync_client=True) as client:
        for run_id, (mission_id, status, error) in finished.items():
            flow_run = client.read_flow_run(UUID(run_id))
            if flow_run.state is None or flow_run.state.is_final():
                continue
            note = f"set by hopflow sync: hopflow's database says mission {mission_id} is {status}"
            state: State[Any]
            if status == MissionStatus.COMPLETED:
                state = Completed(message=note)
            elif status == MissionStatus.CANCELLED:
                state = Cancelled(message=note)
            else:
                state = Failed(message=f"{note}: {error}"[:4000])
            client.set_flow_run_state(UUID(run_id), state, force=True)
            settled.append(run_id)
            logger.warning("flow run %s was still %s in Prefect; %s", run_id, flow_run.state.type.value, note)
    return settled
