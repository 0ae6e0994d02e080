"""Every status enum of hopflow and, as data, the moves each status machine allows.

Values are exactly those of the seeds (004 for the execution core, 001 for agents and runs,
000 for plans and faults). `ALLOWED_TRANSITIONS` is the one table `hopflow.models.access.status.transition`
consults; nothing else decides whether a status may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


# --- seed 004: the execution core -------------------------------------------------------------
class MissionStatus(StrEnum):
    PROPOSED = "proposed"
    READY_FOR_NEXT_HOP = "ready_for_next_hop"
    BUILDING_HOP = "building_hop"
    HOP_READY_TO_EXECUTE = "hop_ready_to_execute"
    EXECUTING_HOP = "executing_hop"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class HopStatus(StrEnum):
    PROPOSED = "proposed"
    READY_TO_RESOLVE = "ready_to_resolve"
    READY_TO_EXECUTE = "ready_to_execute"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ToolExecutionStatus(StrEnum):
    PROPOSED = "proposed"
    READY_TO_CONFIGURE = "ready_to_configure"
    READY_TO_EXECUTE = "ready_to_execute"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunOutcome(StrEnum):
    """What running a hop or a step came to, as its task returns it (not a stored status)."""

    COMPLETED = "completed"
    SKIPPED = "skipped"  # already completed with its assets ready: nothing run again


class AssetStatus(StrEnum):
    PROPOSED = "proposed"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    READY = "ready"
    ERROR = "error"
    EXPIRED = "expired"


class AssetRole(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    INTERMEDIATE = "intermediate"


class AssetScopeType(StrEnum):
    MISSION = "mission"
    HOP = "hop"


# --- seeds 000 and 003: actors -----------------------------------------------------------------
class EntityType(StrEnum):
    HUMAN = "human"
    AGENT = "agent"


class EntityStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


# --- seed 001: agents ---------------------------------------------------------------------------
class AgentDefinitionStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class AgentConfigurationStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


class TriggerKind(StrEnum):
    """Trigger types a blueprint may declare (seed 001 plus `api` for explicit API-only agents)."""

    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    EVENT = "event"
    API = "api"


class TriggerType(StrEnum):
    """What started a run (seed 001's AgentRunLog.trigger_type, plus `event` and `api`)."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    COMMAND = "command"
    EVENT = "event"
    API = "api"


class InputType(StrEnum):
    JSON = "json"
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"


class OutputType(StrEnum):
    JSON = "json"
    STRING = "string"
    MD = "md"
    URL = "url"


class RunStatus(StrEnum):
    """AgentRunLog.status (seed 001). A crashed flow run is `error` with prefect_state CRASHED."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"


class LastRunStatus(StrEnum):
    """AgentConfiguration.last_run_status (seed 001)."""

    IDLE = "idle"
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"


class RunArtifactKind(StrEnum):
    LOG = "log"
    REPORT = "report"
    OUTPUT = "output"


# --- seed 003: living agents -------------------------------------------------------------------
class CycleStatus(StrEnum):
    """A think cycle's status on its agent_run_logs row (seed 003's RunStatus)."""

    RUNNING = "running"
    WAITING_TOOL = "waiting_tool"
    COMPLETED = "completed"
    FAILED = "failed"


class InboxEventType(StrEnum):
    SPACE_MESSAGE = "space_message"
    PLAN = "plan"
    SERVICE = "service"


class ModelTier(StrEnum):
    """adaptiveModel's three tiers; the cycle's run row records which one it ran with, and why."""

    CHEAP = "cheap"
    STANDARD = "standard"
    REASONING = "reasoning"


class CycleStopReason(StrEnum):
    """Why a think cycle's model loop ended."""

    END_TURN = "end_turn"
    MAX_STEPS = "max_steps"
    BUDGET = "budget"
    IDLE = "idle"
    ERROR = "error"


# --- seed 000: knowledge and planning ----------------------------------------------------------
class MemoryTargetType(StrEnum):
    AGENT = "agent"
    TASK = "task"
    PLAN = "plan"
    PROJECT = "project"
    MISSION = "mission"
    ENTITY = "entity"
    OTHER = "other"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class PlanTaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BLOCKED = "blocked"


class FaultStatus(StrEnum):
    OPEN = "open"
    FIXED = "fixed"


class FaultSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# --- status machines ---------------------------------------------------------------------------
def _machine(
    flow: Mapping[StrEnum, tuple[StrEnum, ...]], terminal: tuple[StrEnum, ...], escape: tuple[StrEnum, ...]
) -> dict[StrEnum, frozenset[StrEnum]]:
    """Build a transition table: the declared flow, plus any non-terminal state -> an escape state."""
    table: dict[StrEnum, set[StrEnum]] = {state: set(targets) for state, targets in flow.items()}
    for state in type(terminal[0]):
        table.setdefault(state, set())
        if state not in terminal:
            table[state].update(escape)
    return {state: frozenset(targets - {state}) for state, targets in table.items()}


M, H, T, A = MissionStatus, HopStatus, ToolExecutionStatus, AssetStatus

ALLOWED_TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    # seed 004 section 6. Resume moves (a failed or crashed mission going round again) are
    # declared here too, so a rerun is a legal walk of the machine, not a bypass of it.
    MissionStatus: _machine(
        {
            M.PROPOSED: (M.READY_FOR_NEXT_HOP,),
            M.READY_FOR_NEXT_HOP: (M.BUILDING_HOP, M.COMPLETED),
            M.BUILDING_HOP: (M.HOP_READY_TO_EXECUTE, M.READY_FOR_NEXT_HOP),
            M.HOP_READY_TO_EXECUTE: (M.EXECUTING_HOP, M.READY_FOR_NEXT_HOP),
            M.EXECUTING_HOP: (M.READY_FOR_NEXT_HOP, M.COMPLETED),
            M.FAILED: (M.READY_FOR_NEXT_HOP,),  # resume
        },
        terminal=(M.COMPLETED, M.FAILED, M.CANCELLED),
        escape=(M.FAILED, M.CANCELLED),
    ),
    HopStatus: _machine(
        {
            H.PROPOSED: (H.READY_TO_RESOLVE,),
            H.READY_TO_RESOLVE: (H.READY_TO_EXECUTE,),
            H.READY_TO_EXECUTE: (H.EXECUTING,),
            H.EXECUTING: (H.COMPLETED, H.READY_TO_EXECUTE),  # back to ready: resume after a crash
            H.FAILED: (H.READY_TO_EXECUTE,),  # resume
        },
        terminal=(H.COMPLETED, H.FAILED, H.CANCELLED),
        escape=(H.FAILED, H.CANCELLED),
    ),
    ToolExecutionStatus: _machine(
        {
            T.PROPOSED: (T.READY_TO_CONFIGURE,),
            T.READY_TO_CONFIGURE: (T.READY_TO_EXECUTE,),
            T.READY_TO_EXECUTE: (T.EXECUTING,),
            T.EXECUTING: (T.COMPLETED, T.READY_TO_EXECUTE),  # back to ready: resume after a crash
            T.FAILED: (T.READY_TO_EXECUTE,),  # resume
            T.COMPLETED: (T.READY_TO_EXECUTE,),  # redo: an output asset went missing (its file, say)
        },
        terminal=(T.COMPLETED, T.FAILED, T.CANCELLED),
        escape=(T.FAILED, T.CANCELLED),
    ),
    AssetStatus: _machine(
        {
            A.PROPOSED: (A.PENDING,),
            A.PENDING: (A.IN_PROGRESS,),
            A.IN_PROGRESS: (A.READY, A.PENDING),  # back to pending: its step is rerun
            A.READY: (A.ERROR, A.EXPIRED),
            A.ERROR: (A.PENDING,),  # its step is rerun
        },
        terminal=(A.EXPIRED,),
        escape=(A.ERROR,),
    ),
    # The run log mirrors Prefect, whose word is final: hooks and the reconciler write in any order,
    # so a late non-final state never reopens a finished run, while Prefect's final state corrects
    # a final one a hook wrote first (a cancellation recorded at CANCELLING that ended COMPLETED).
    # A flow retry goes back to pending (AwaitingRetry is a scheduled state).
    RunStatus: _machine(
        {
            RunStatus.PENDING: (RunStatus.RUNNING, RunStatus.SUCCESS),
            RunStatus.RUNNING: (RunStatus.SUCCESS, RunStatus.PENDING),
            RunStatus.SUCCESS: (RunStatus.ERROR, RunStatus.CANCELLED),
            RunStatus.ERROR: (RunStatus.SUCCESS, RunStatus.CANCELLED),
            RunStatus.CANCELLED: (RunStatus.SUCCESS, RunStatus.ERROR),
        },
        terminal=(RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.CANCELLED),
        escape=(RunStatus.ERROR, RunStatus.CANCELLED),
    ),
    CycleStatus: {
        CycleStatus.RUNNING: frozenset({CycleStatus.WAITING_TOOL, CycleStatus.COMPLETED, CycleStatus.FAILED}),
        CycleStatus.WAITING_TOOL: frozenset({CycleStatus.RUNNING, CycleStatus.FAILED}),
        CycleStatus.COMPLETED: frozenset(),
        CycleStatus.FAILED: frozenset(),
    },
    EntityStatus: {
        EntityStatus.ACTIVE: frozenset({EntityStatus.INACTIVE}),
        EntityStatus.INACTIVE: frozenset({EntityStatus.ACTIVE}),
    },
    AgentConfigurationStatus: {
        AgentConfigurationStatus.ACTIVE: frozenset(
            {AgentConfigurationStatus.INACTIVE, AgentConfigurationStatus.ARCHIVED}
        ),
        AgentConfigurationStatus.INACTIVE: frozenset(
            {AgentConfigurationStatus.ACTIVE, AgentConfigurationStatus.ARCHIVED}
        ),
        AgentConfigurationStatus.ARCHIVED: frozenset(),
    },
    # seed 000's recommendation: draft -> active -> completed | archived (a plan is archived from anywhere).
    PlanStatus: {
        PlanStatus.DRAFT: frozenset({PlanStatus.ACTIVE, PlanStatus.ARCHIVED}),
        PlanStatus.ACTIVE: frozenset({PlanStatus.COMPLETED, PlanStatus.ARCHIVED}),
        PlanStatus.COMPLETED: frozenset({PlanStatus.ACTIVE, PlanStatus.ARCHIVED}),  # a task reopened
        PlanStatus.ARCHIVED: frozenset(),
    },
    PlanTaskStatus: {
        PlanTaskStatus.OPEN: frozenset(
            {PlanTaskStatus.IN_PROGRESS, PlanTaskStatus.BLOCKED, PlanTaskStatus.COMPLETED}
        ),
        PlanTaskStatus.IN_PROGRESS: frozenset(
            {PlanTaskStatus.OPEN, PlanTaskStatus.BLOCKED, PlanTaskStatus.COMPLETED}
        ),
        PlanTaskStatus.BLOCKED: frozenset({PlanTaskStatus.OPEN, PlanTaskStatus.IN_PROGRESS}),
        PlanTaskStatus.COMPLETED: frozenset({PlanTaskStatus.OPEN}),  # reopened
    },
    FaultStatus: {
        FaultStatus.OPEN: frozenset({FaultStatus.FIXED}),
        FaultStatus.FIXED: frozenset({FaultStatus.OPEN}),
    },
}

TERMINAL_STATES: dict[type[StrEnum], frozenset[StrEnum]] = {
    MissionStatus: frozenset({M.COMPLETED, M.FAILED, M.CANCELLED}),
    HopStatus: frozenset({H.COMPLETED, H.FAILED, H.CANCELLED}),
    ToolExecutionStatus: frozenset({T.COMPLETED, T.FAILED, T.CANCELLED}),
    RunStatus: frozenset({RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.CANCELLED}),
    CycleStatus: frozenset({CycleStatus.COMPLETED, CycleStatus.FAILED}),
}


class InvalidTransition(ValueError):
    """A status change the machine does not allow; the message names both states."""

    def __init__(self, subject: str, current: StrEnum, target: StrEnum) -> None:
        allowed = sorted(s.value for s in ALLOWED_TRANSITIONS[type(current)].get(current, frozenset()))
        super().__init__(
            f"{subject}: cannot change status from {current.value!r} to {target.value!r} "
            f"(allowed from {current.value!r}: {', '.join(allowed) or 'none'})"
        )
        self.subject = subject
        self.current = current
        self.target = target


def can_transition(current: StrEnum, target: StrEnum) -> bool:
    if type(current) is not type(target):
        raise TypeError(f"cannot compare a {type(current).__name__} with a {type(target).__name__}")
    return target in ALLOWED_TRANSITIONS[type(current)].get(current, frozenset())


def is_terminal(status: StrEnum) -> bool:
    return status in TERMINAL_STATES.get(type(status), frozenset())
