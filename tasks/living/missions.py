"""The `start_mission` tool of living agents: a mission from a spec the model writes or from a deployed
mission template, checked and stored here; flows/think_cycle.py runs it and this module words the answer.

Everything in the arguments is model output, so hostile: sizes and depth bounded before parsing, YAML
aliases refused, no `${env.X}` anywhere (an operator's spec may name secrets, a model's may not), no input
files (the model must not make hopflow read its own disk), input values typed as the mission declares.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hopflow.models.access.identity import ensure_user
from hopflow.models.access.templates import read_mission_template
from hopflow.models.db import session_scope
from hopflow.models.schemas.specs import MissionSpec
from hopflow.tasks.chat import ToolCall
from hopflow.tasks.missions import MissionResult, create_mission_from_spec, read_mission_result
from hopflow.tasks.outside_specs import OutsideSpecError, parse_outside_spec
from hopflow.tasks.specs import SpecError, SpecIssue, render_path
from hopflow.tasks.templates import check_template_inputs, spec_with_inputs
from pydantic import BaseModel

START_MISSION = "start_mission"
MAX_SPEC_CHARS = 64 * 1024
MAX_SPEC_DEPTH = 32
MAX_TEMPLATE_CHARS = 128
MAX_MISSIONS_PER_CYCLE = 3  # a model asking for more in one cycle is told no, not obeyed
MAX_ERROR_CHARS = 2_000

START_MISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "template": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEMPLATE_CHARS,
            "description": "Name of a deployed mission template (hopflow missions deploy).",
        },
        "spec": {
            "type": ["string", "object"],
            "maxLength": MAX_SPEC_CHARS,
            "description": "A mission spec (name, inputs with inline content, hops of tool steps), as an "
            "object or as YAML/JSON text.",
        },
        "inputs": {
            "type": "object",
            "maxProperties": 64,
            "description": "Values for the mission's declared inputs; left out: the spec's own.",
        },
    },
    "additionalProperties": False,
}
DESCRIPTION = (
    "Start a hopflow mission and wait for it: give `template` (a deployed mission template's name) or "
    "`spec` (a mission spec), and optionally `inputs`. Answers the mission id, its status and its outputs."
)


class MissionRequestError(ValueError):
    """Arguments that cannot start a mission; the message is what the model is told."""


class StartedMission(BaseModel):
    mission_id: str
    name: str
    source: str  # "template:<name>" or "spec"


def parse_model_spec(raw: Any) -> MissionSpec:
    """A spec the model wrote, as a MissionSpec, or MissionRequestError naming every problem."""
    try:
        return parse_outside_spec(
            raw, source="from a model", max_bytes=MAX_SPEC_CHARS, max_depth=MAX_SPEC_DEPTH
        )
    except OutsideSpecError as exc:
        raise MissionRequestError(str(exc)) from None
    except SpecError as exc:
        raise MissionRequestError(_issues(exc.issues, "spec")) from None


def _issues(issues: list[SpecIssue], where: str) -> str:
    text = "; ".join(f"{render_path(i.path) or '(spec)'}: {i.message}" for i in issues[:10])
    return f"{where}: {text}"[:MAX_ERROR_CHARS]


def create_requested_mission(
    arguments: dict[str, Any], *, agent: str, cycle: int, run_id: str, call_id: str
) -> StartedMission:
    """Check the arguments, then store the mission (nothing is written when they are wrong)."""
    template_ref, raw_spec, inputs = arguments.get("template"), arguments.get("spec"), arguments.get("inputs")
    if (template_ref is None) == (raw_spec is None):
        raise MissionRequestError("give either `template` (a mission template's name) or `spec`, not both")
    if inputs is not None and not isinstance(inputs, dict):
        raise MissionRequestError("inputs: must be an object of the mission's inputs")
    metadata: dict[str, Any] = {
        "started_by": f"living:{agent}",
        "think_run_id": run_id,
        "cycle": cycle,
        "tool_call_id": call_id[:255],
    }
    with session_scope() as session:
        base_dir: Path | None = None
        if template_ref is not None:
            if not isinstance(template_ref, str) or not 0 < len(template_ref) <= MAX_TEMPLATE_CHARS:
                raise MissionRequestError(f"template: a name of at most {MAX_TEMPLATE_CHARS} characters")
            try:
                template = read_mission_template(session, template_ref)
            except LookupError as exc:
                raise MissionRequestError(f"template: {exc}"[:MAX_ERROR_CHARS]) from None
            # The operator wrote the template (its ${env.X} and files are theirs); the inputs are the model's.
            spec = MissionSpec.model_validate(template.spec)
            source = f"template:{template.name}"
            metadata |= {"template": template.name, "template_version": template.version}
            user_id = template.created_by_user_id or ensure_user(session).id
            base_dir = Path(template.base_dir) if template.base_dir else None
        else:
            spec = parse_model_spec(raw_spec)
            source = "spec"
            user_id = ensure_user(session).id
        if issues := check_template_inputs(spec, inputs):
            raise MissionRequestError(_issues(issues, "inputs"))
        spec = spec_with_inputs(spec, inputs or {})
        try:
            mission = create_mission_from_spec(
                session, spec, user_id=user_id, base_dir=base_dir, metadata={**metadata, "source": source}
            )
        except SpecError as exc:
            raise MissionRequestError(_issues(exc.issues, source)) from None
        return StartedMission(mission_id=mission.id, name=mission.name, source=source)


def mission_answer(result: MissionResult, error: str | None = None) -> dict[str, Any]:
    """What the model is told about the mission it started."""
    answer: dict[str, Any] = {
        "mission_id": result.mission_id,
        "name": result.name,
        "status": result.status.value,
        "outputs": {k: v[:500] for k, v in list(result.outputs.items())[:50]},
        "steps": result.step_count,
    }
    if error:
        answer["error"] = error[:MAX_ERROR_CHARS]
    return answer


def start_requested_mission(
    call: ToolCall, runner: Callable[[str], Any], *, agent: str, cycle: int, run_id: str
) -> dict[str, Any]:
    """Store the mission the call asks for, run it with `runner` (mission_flow, given by the flow layer:
    tasks never import flows) and answer with its id and status. A mission that fails is an answer too."""
    try:
        started = create_requested_mission(
            call.arguments, agent=agent, cycle=cycle, run_id=run_id, call_id=call.id
        )
    except MissionRequestError as exc:
        return {"error": f"{call.name}: {exc}"[:MAX_ERROR_CHARS]}
    error = None
    try:
        runner(started.mission_id)
    except Exception as exc:  # on record: the mission row, its faults, its flow run
        error = f"{type(exc).__name__}: {exc}"
    return mission_answer(read_mission_result(started.mission_id), error)
