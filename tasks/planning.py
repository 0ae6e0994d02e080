"""A mission's planner: what it sees of the mission, calling it with no transaction open (with its
retries), and checking the hop it proposes before the mission stores it."""

from __future__ import annotations

import logging
import time
from typing import Any

from hopflow.models.access.assets import read_mission_state
from hopflow.models.db import session_scope
from hopflow.models.orm import Hop, Mission
from hopflow.models.schemas.specs import HopSpec
from hopflow.models.secrets import escape_env_refs
from hopflow.models.settings import get_settings
from hopflow.tasks.llm import LLMCallRecord
from hopflow.tasks.specs import AssetCatalog, SpecError, SpecIssue, check_hop
from hopflow.tasks.tools import ToolContext, get_tool
from pydantic import BaseModel
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.missions")


class PlanRequest(BaseModel):
    """What the planner is asked with: its tool, its parameters (the mission state among them), and how
    many hops the mission had when it asked."""

    tool_id: str
    params: dict[str, Any]
    hop_count: int


def plan_request(session: Session, mission: Mission, hops: list[Hop]) -> PlanRequest | None:
    """The request for the mission's planner, or None when the mission has none."""
    planner = (mission.mission_metadata or {}).get("planner")
    if not planner:
        return None
    if len(hops) >= int(planner.get("max_hops", 10)):
        raise RuntimeError(
            f"mission {mission.name!r}: planner {planner['tool']!r} reached "
            f"max_hops={planner.get('max_hops')} "
            "without proposing a final hop"
        )
    state = mission_state_for_planner(session, mission, hops)
    params = {k: v["literal"] for k, v in planner.get("parameter_mapping", {}).items()}
    return PlanRequest(tool_id=planner["tool"], params={**params, "state": state}, hop_count=len(hops))


def run_planner(
    request: PlanRequest, mission_id: str, flow_run_id: str | None
) -> tuple[dict[str, Any] | None, list[LLMCallRecord], str]:
    """Call the planner with no transaction open, with its retries: (proposed hop, LLM calls, reason).

    The LLM calls of a planner that fails for good are saved before its error is raised.
    """
    tool = get_tool(request.tool_id)
    ctx = ToolContext.from_settings(mission_id=mission_id, flow_run_id=flow_run_id)
    for attempt in range(1, tool.retries + 2):
        ctx.idempotency_key = f"planner:{mission_id}:{request.hop_count + 1}:{attempt}"
        try:
            output = tool.run(request.params, ctx)
        except Exception as exc:
            if attempt > tool.retries:
                from hopflow.tasks.steps import record_llm_calls

                with session_scope() as session:
                    record_llm_calls(
                        session,
                        ctx.llm_calls,
                        get_settings(),
                        flow_run_id=flow_run_id,
                        mission_id=mission_id,
                        tool_step_id=None,
                    )
                raise
            logger.warning("planner %s attempt %s failed (%s); retrying", tool.id, attempt, exc)
            time.sleep(tool.retry_delay_seconds)
            continue
        reason = str(getattr(output, "reason", "") or "")
        # A planner's hop is tool output: its `${env.X}` text stays text (escaped), never resolved.
        return escape_env_refs(output.hop), ctx.llm_calls, reason  # type: ignore[attr-defined]
    raise AssertionError("unreachable")


def mission_state_for_planner(session: Session, mission: Mission, hops: list[Hop]) -> dict[str, Any]:
    """What a planner sees: goal, assets by name (type, status, summary), hops so far."""
    return {
        "mission": {
            "id": mission.id,
            "name": mission.name,
            "goal": mission.goal,
            "success_criteria": mission.success_criteria or [],
        },
        "assets": {
            a.name: {
                "type": a.type,
                "role": a.role.value,
                "status": a.status.value,
                "summary": a.content_summary,
            }
            for a in read_mission_state(session, mission.id).values()
        },
        "hops": [{"name": h.name, "status": h.status.value, "is_final": h.is_final} for h in hops],
    }


def check_planned_hop(session: Session, mission: Mission, tool_id: str, proposed: dict[str, Any]) -> HopSpec:
    """The proposed hop as a spec, checked against the mission's assets like a spec's own hops."""
    try:
        hop_spec = HopSpec.model_validate(proposed)
    except Exception as exc:
        raise SpecError(
            [SpecIssue(("planner", "hop"), f"planner {tool_id!r} proposed an invalid hop: {exc}")]
        ) from exc
    catalog = AssetCatalog(mission={a.name: a.type for a in read_mission_state(session, mission.id).values()})
    issues = check_hop(hop_spec, ("planner", "hop"), catalog)
    if issues:
        raise SpecError(issues, f"planner {tool_id!r}")
    return hop_spec
