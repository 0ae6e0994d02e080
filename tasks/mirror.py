"""Units of work of the run-log mirror: what Prefect says about a flow run plus what hopflow's database
knows about it, merged into agent_run_logs; paging through Prefect's flow runs; exporting run logs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from hopflow.models.access.run_facts import RunFacts, RunRef, in_chunks, read_run_facts
from hopflow.models.access.runs import (
    RunFile,
    RunLogUpdate,
    read_known_refs,
    read_log_artifacts,
    read_watermark,
    record_run_artifacts,
    update_configuration_last_run,
    upsert_run_logs,
    write_watermark,
)
from hopflow.models.db import session_scope
from hopflow.models.enums import RunArtifactKind, TriggerType
from hopflow.models.orm import utcnow
from hopflow.models.secrets import redact, scrub
from hopflow.models.settings import Settings, get_settings
from prefect import get_client
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

logger = logging.getLogger("hopflow.mirror")

# The flows whose runs the reconciler mirrors: hopflow's work flows. A new hopflow flow that carries
# mirror_hooks() adds its name here so the reconciler repairs what its hooks miss.
MIRRORED_FLOWS: tuple[str, ...] = ("mission", "agent-run", "think-cycle", "mission-run")
# Every flow hopflow defines: the crash automation touches runs of these only, never another team's
# flows on a shared Prefect server.
HOPFLOW_FLOW_NAMES: tuple[str, ...] = (*MIRRORED_FLOWS, "sync-run-logs", "runs-report")
WATERMARK_NAME = "prefect-flow-runs"
# Re-read this much before the watermark: runs created while a sync was paging, and logs that
# reached the API after the previous sync looked, are picked up by the next one.
WATERMARK_OVERLAP = timedelta(seconds=60)
# Logs reach the API about a second after the run ends: an export written sooner than
# this after the end is redone once by the reconciler.
LOG_SETTLE = timedelta(seconds=5)
PAGE_LIMIT = 200  # Prefect's API refuses a flow-run read with a larger limit: page with offset
PREVIEW_CHARS = 1000
ERROR_CHARS = 4000
TERMINAL_TYPES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
# Scheduled runs are left out: a cron deployment keeps ~100 future runs that nobody started yet; a
# scheduled run is not a run until it starts (it is mirrored then, as pending or running).
OPEN_TYPES = ("PENDING", "RUNNING", "CANCELLING", "PAUSED")
NOT_STARTED_TYPES = ("SCHEDULED",)
# A finished run whose logs have not reached the API yet is retried by the reconciler for this long;
# no empty file is ever written as its log.
LOG_RETRY = timedelta(days=1)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value.timestamp(), UTC)


class RunSnapshot(BaseModel):
    """What Prefect says about one flow run, detached from the client's classes."""

    run_id: str
    flow_name: str | None = None
    state_type: str
    state_name: str | None = None
    state_message: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    deployment_id: str | None = None
    parent_task_run_id: str | None = None
    parent_run_id: str | None = None
    auto_scheduled: bool = False
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.state_type in TERMINAL_TYPES


def _jsonable(value: Any) -> dict[str, Any]:
    # Parameters may hold pydantic models or dates; the snapshot stores what JSON can say of them.
    try:
        loaded = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def snapshot_of(
    flow_run: Any, *, flow_name: str | None, state: Any = None, state_type: str | None = None
) -> RunSnapshot:
    """A RunSnapshot of a Prefect FlowRun (and the state a hook was given, which is newer)."""
    state = state if state is not None else flow_run.state
    kind = state_type or (state.type.value if state is not None else "PENDING")
    stamp = _utc(getattr(state, "timestamp", None))
    start = _utc(flow_run.start_time) or (stamp if kind == "RUNNING" else None)
    # A terminal state's own time is the run's end (Prefect's end_time is set from it).
    end = (stamp or _utc(flow_run.end_time)) if kind in TERMINAL_TYPES else None
    return RunSnapshot(
        run_id=str(flow_run.id),
        flow_name=flow_name,
        state_type=kind,
        state_name=getattr(state, "name", None),
        state_message=getattr(state, "message", None),
        start_time=start,
        end_time=end,
        deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
        parent_task_run_id=str(flow_run.parent_task_run_id) if flow_run.parent_task_run_id else None,
        auto_scheduled=bool(getattr(flow_run, "auto_scheduled", False)),
        parameters=_jsonable(flow_run.parameters or {}),
        tags=list(flow_run.tags or []),
    )


# --- what hopflow's database adds to a snapshot -------------------------------------------------------
def _trigger_type(snap: RunSnapshot) -> TriggerType:
    given = snap.parameters.get("trigger_type", snap.parameters.get("trigger"))
    if isinstance(given, Mapping):
        given = given.get("type") or given.get("trigger_type")
    if isinstance(given, str):
        try:
            return TriggerType(given.lower())
        except ValueError:
            pass
    if snap.auto_scheduled:
        return TriggerType.SCHEDULE
    return TriggerType.API if snap.deployment_id else TriggerType.MANUAL


def _configuration_param(snap: RunSnapshot) -> str | None:
    value = snap.parameters.get("configuration_id", snap.parameters.get("agent_configuration_id"))
    return str(value) if value else None


def _ref(snap: RunSnapshot) -> RunRef:
    """What the database needs to know of a snapshot to find the run's facts."""
    mission = snap.parameters.get("mission_id")
    return RunRef(
        run_id=snap.run_id,
        parent_run_id=snap.parent_run_id,
        mission_param=str(mission) if mission else None,
        configuration_param=_configuration_param(snap),
        trigger_type=_trigger_type(snap),
        parameters=snap.parameters,
    )


def known_secrets(settings: Settings) -> list[str]:
    """Secrets hopflow holds itself, scrubbed from everything the mirror writes."""
    return [settings.llm_api_key.get_secret_value()] if settings.llm_api_key else []


def output_preview(outputs: list[tuple[str, str]], limit: int = PREVIEW_CHARS) -> str | None:
    """The mission's output summaries, one `name: summary` line each, bounded to `limit` characters."""
    if not outputs:
        return None
    text = "\n".join(f"{name}: {summary}" for name, summary in outputs)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _update_for(snap: RunSnapshot, facts: RunFacts, extra_secrets: list[str]) -> RunLogUpdate:
    mission_id = facts.missions.get(snap.run_id)
    config_id = _configuration_param(snap)
    if config_id not in facts.configs:
        config_id = facts.mission_config.get(mission_id or "")
    secrets = facts.secrets.get(snap.run_id, []) + extra_secrets
    tokens = facts.tokens.get(snap.run_id)
    fields: dict[str, Any] = {
        "flow_name": snap.flow_name,
        "deployment_id": snap.deployment_id,
        "parent_run_id": snap.parent_run_id,
        "trigger_type": facts.parent_triggers.get(snap.run_id) or _trigger_type(snap),
        "mission_id": mission_id,
        "agent_configuration_id": config_id,
        "agent_entity_id": facts.configs.get(config_id) if config_id else None,
        # Zero calls means "not known here" (a flow may account its tokens itself): never erase.
        "prompt_tokens": tokens[0] if tokens else None,
        "completion_tokens": tokens[1] if tokens else None,
        "step_count": facts.steps.get(mission_id, 0) if mission_id else None,
    }
    # Written only where the row has nothing yet: the agent flow writes its own input snapshot,
    # output preview and error before its final state, and those are more specific than these.
    defaults: dict[str, Any] = {"input_params_snapshot": redact(snap.parameters)}
    if snap.is_final:
        if snap.state_type != "COMPLETED" and snap.state_message:
            defaults["error_message"] = scrub(snap.state_message, secrets)[:ERROR_CHARS]
        if mission_id:
            defaults["output_preview"] = output_preview(facts.outputs.get(mission_id, []))
            defaults["full_output_ref"] = f"hopflow://missions/{mission_id}"
    return RunLogUpdate(
        run_id=snap.run_id,
        prefect_state=snap.state_type,
        start_time=snap.start_time,
        end_time=snap.end_time if snap.is_final else None,
        fields=fields,
        defaults=defaults,
    )


class MirrorResult(BaseModel):
    runs: int = 0
    log_exports: int = 0


def mirror_runs(
    snaps: Sequence[RunSnapshot],
    exported: Mapping[str, ExportedLog] | None = None,
    settings: Settings | None = None,
) -> MirrorResult:
    """One unit of work: merge a batch of snapshots (and exported logs) into agent_run_logs."""
    settings = settings or get_settings()
    if not snaps:
        return MirrorResult()
    extra = known_secrets(settings)
    with session_scope() as session:
        facts = read_run_facts(session, [_ref(s) for s in snaps])
        rows = upsert_run_logs(session, [_update_for(s, facts, extra) for s in snaps])
        _record_exports(session, exported or {})
        if any(row.cycle_status is not None for row in rows.values()):
            from hopflow.tasks.living.cycles import close_dead_cycles  # living imports the mirror

            close_dead_cycles(session, rows.values())
        # The configuration's last_run_* follow its newest run; one write per configuration. A subflow
        # (the mission an agent run starts) is part of its parent's run, not a run of its own.
        newest: dict[str, Any] = {}
        for row in rows.values():
            if row.agent_configuration_id is None or row.parent_run_id is not None:
                continue
            started = row.start_time or row.created_at
            held = newest.get(row.agent_configuration_id)
            if held is None or started >= (held.start_time or held.created_at):
                newest[row.agent_configuration_id] = row
        for row in newest.values():
            update_configuration_last_run(session, row)
    return MirrorResult(runs=len(snaps), log_exports=len(exported or {}))


# --- log export -----------------------------------------------------------------------------------------
class ExportedLog(BaseModel):
    run_id: str
    path: str
    size_bytes: int
    lines: int
    written_at: datetime


def _record_exports(session: Session, exported: Mapping[str, ExportedLog]) -> None:
    if not exported:
        return
    upsert_run_logs(
        session, [RunLogUpdate(run_id=e.run_id, fields={"logs_ref": e.path}) for e in exported.values()]
    )
    record_run_artifacts(
        session,
        [
            RunFile(e.run_id, RunArtifactKind.LOG, e.path, e.size_bytes, e.written_at)
            for e in exported.values()
        ],
    )


def record_log_exports(exported: Mapping[str, ExportedLog]) -> None:
    """One unit of work: RunArtifact rows and logs_ref for files export_logs wrote."""
    with session_scope() as session:
        _record_exports(session, exported)


def plan_log_exports(snaps: Sequence[RunSnapshot], settings: Settings | None = None) -> dict[str, list[str]]:
    """Finished runs whose log file is missing or was written before their logs settled: run id ->
    the secret values to scrub from its lines."""
    settings = settings or get_settings()
    final = [s for s in snaps if s.is_final]
    if not final:
        return {}
    with session_scope() as session:
        artifacts = read_log_artifacts(session, [s.run_id for s in final])
        facts = read_run_facts(session, [_ref(s) for s in final])
    plan: dict[str, list[str]] = {}
    now = utcnow()
    for snap in final:
        artifact = artifacts.get(snap.run_id)
        settled_at = (snap.end_time or now) + LOG_SETTLE
        if artifact is None and snap.end_time is not None and now - snap.end_time > LOG_RETRY:
            continue  # no log line ever reached the API: stop asking
        if artifact is None or artifact.created_at < settled_at or not Path(artifact.path).is_file():
            plan[snap.run_id] = facts.secrets.get(snap.run_id, []) + known_secrets(settings)
    return plan


def format_log_line(timestamp: datetime, level: int, name: str, message: str) -> str:
    return f"{timestamp.isoformat()} {logging.getLevelName(level):<8} {name} - {message}"


def export_logs(
    client: Any, plan: Mapping[str, list[str]], settings: Settings | None = None
) -> dict[str, ExportedLog]:
    """Read the planned runs' log lines from Prefect (in pages) and write HOPFLOW_LOGS/<run id>.log,
    secrets scrubbed. A run with no lines yet gets no file (an empty file is not its log): it stays
    planned, and a later pass of the reconciler exports it. No database access."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    settings = settings or get_settings()
    if not plan:
        return {}
    lines: dict[str, list[str]] = {run_id: [] for run_id in plan}
    for chunk in in_chunks(sorted(plan), PAGE_LIMIT):
        log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(r) for r in chunk]))
        offset = 0
        while True:
            page = client.read_logs(log_filter=log_filter, limit=PAGE_LIMIT, offset=offset,
                                    sort=LogSort.TIMESTAMP_ASC)  # fmt: skip
            for log in page:
                run_id = str(log.flow_run_id)
                line = format_log_line(_utc(log.timestamp) or utcnow(), log.level, log.name, log.message)
                lines[run_id].append(scrub(line, plan[run_id]))
            if len(page) < PAGE_LIMIT:
                break
            offset += PAGE_LIMIT
    directory = Path(settings.logs).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    exported: dict[str, ExportedLog] = {}
    for run_id, run_lines in lines.items():
        if not run_lines:
            continue
        path = directory / f"{run_id}.log"
        body = "".join(line + "\n" for line in run_lines).encode("utf-8")
        tmp = path.with_suffix(".log.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)  # a reader never sees half a file
        exported[run_id] = ExportedLog(
            run_id=run_id, path=str(path), size_bytes=len(body), lines=len(run_lines), written_at=utcnow()
        )
    return exported


# --- reading Prefect ------------------------------------------------------------------------------------
class SyncWindow(BaseModel):
    """What one reconciler pass reads: runs of these flows changed since `since` (None: all)."""

    since: datetime | None
    flow_ids: dict[str, str]  # flow id -> flow name
    started_at: datetime


class PageResult(BaseModel):
    offset: int
    read: int
    run_ids: list[str] = []
    open_run_ids: list[str] = []
    latest: datetime | None = None
    log_exports: int = 0
    read_seconds: float = 0.0
    write_seconds: float = 0.0


def open_sync_window(
    since: datetime | None = None, flow_names: Sequence[str] | None = None, *, use_watermark: bool = True
) -> SyncWindow:
    """The window of one reconciler pass: from `since`, else the stored watermark, else everything."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    started = utcnow()
    if since is None and use_watermark:
        with session_scope() as session:
            since = read_watermark(session, WATERMARK_NAME)
    names = list(flow_names or MIRRORED_FLOWS)
    with get_client(sync_client=True) as client:
        flows = client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=names)))
    return SyncWindow(since=_utc(since), flow_ids={str(f.id): f.name for f in flows}, started_at=started)


def _window_filters(window: SyncWindow) -> tuple[Any, Any]:
    """The flow filter and flow-run filter of a window: runs of its flows that started or ended since
    `since`, or are still open. One query: Prefect's flow run filter takes an `or_` operator."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
        Operator,
    )
    from prefect.client.schemas.objects import StateType

    not_started = FlowRunFilterStateType(not_any_=[StateType(t) for t in NOT_STARTED_TYPES])
    flow_run_filter = FlowRunFilter(state=FlowRunFilterState(type=not_started))
    if window.since is not None:
        flow_run_filter = FlowRunFilter(
            operator=Operator.or_,  # type: ignore[call-arg]  # OperatorMixin's field
            start_time=FlowRunFilterStartTime(after_=window.since),
            end_time=FlowRunFilterEndTime(after_=window.since),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(t) for t in OPEN_TYPES])),
        )
    return FlowFilter(id=FlowFilterId(any_=[UUID(i) for i in window.flow_ids])), flow_run_filter


def count_window_runs(window: SyncWindow) -> int:
    if not window.flow_ids:
        return 0
    flow_filter, flow_run_filter = _window_filters(window)
    with get_client(sync_client=True) as client:
        return int(client.count_flow_runs(flow_filter=flow_filter, flow_run_filter=flow_run_filter))


def read_flow_run_page(client: Any, window: SyncWindow, offset: int, limit: int = PAGE_LIMIT) -> list[Any]:
    """One page of the window's runs, sorted by id: a run changing state while we page cannot move
    between pages (no run leaves the window while it is read: one that ends was open, and now ended
    after `since`); runs created meanwhile can only make a page repeat a run, and callers dedupe."""
    from prefect.client.schemas.sorting import FlowRunSort

    if not window.flow_ids:
        return []
    flow_filter, flow_run_filter = _window_filters(window)
    return client.read_flow_runs(  # type: ignore[no-any-return]
        flow_filter=flow_filter,
        flow_run_filter=flow_run_filter,
        sort=FlowRunSort.ID_DESC,
        limit=min(limit, PAGE_LIMIT),
        offset=offset,
    )


def resolve_parent_runs(client: Any, snaps: Sequence[RunSnapshot]) -> None:
    """Fill parent_run_id of subflow runs: one task-run read for the whole batch."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId

    wanted = sorted({s.parent_task_run_id for s in snaps if s.parent_task_run_id and not s.parent_run_id})
    parents: dict[str, str] = {}
    for chunk in in_chunks(wanted, PAGE_LIMIT):
        for task_run in client.read_task_runs(
            task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=[UUID(i) for i in chunk])),
            limit=PAGE_LIMIT,
        ):
            if task_run.flow_run_id:
                parents[str(task_run.id)] = str(task_run.flow_run_id)
    for snap in snaps:
        if snap.parent_task_run_id in parents:
            snap.parent_run_id = parents[snap.parent_task_run_id]


def owned_runs(snaps: Sequence[RunSnapshot]) -> list[RunSnapshot]:
    """This hopflow's runs among runs of flows named like its own (a shared Prefect server holds other
    projects' runs, and other hopflow databases'): a run already mirrored, or whose mission or
    configuration parameter names one of this database's; a run with neither parameter counts when it
    carries the `hopflow` tag."""
    if not snaps:
        return []
    mission_ids = sorted({str(s.parameters["mission_id"]) for s in snaps if s.parameters.get("mission_id")})
    config_refs = sorted({c for s in snaps if (c := _configuration_param(s))})
    with session_scope() as session:
        runs, missions, configurations = read_known_refs(
            session, [s.run_id for s in snaps], mission_ids, config_refs
        )

    def ours(snap: RunSnapshot) -> bool:
        if snap.run_id in runs:
            return True
        mission, config = snap.parameters.get("mission_id"), _configuration_param(snap)
        if mission or config:
            return str(mission) in missions or config in configurations
        return "hopflow" in snap.tags

    return [s for s in snaps if ours(s)]


def sync_page(window: SyncWindow, offset: int, *, limit: int = PAGE_LIMIT, export: bool = True) -> PageResult:
    """One page of the reconciler: read runs from Prefect, export finished runs' logs, then write the
    page in one transaction."""
    import time

    t0 = time.perf_counter()
    with get_client(sync_client=True) as client:
        flow_runs = read_flow_run_page(client, window, offset, limit)
        every = [snapshot_of(fr, flow_name=window.flow_ids.get(str(fr.flow_id))) for fr in flow_runs]
        # Prefect's start-time filter also matches a scheduled run's expected start: a run that has
        # not started is not a run yet (the page still counts it, for paging).
        snaps = owned_runs([s for s in every if s.state_type not in NOT_STARTED_TYPES])
        resolve_parent_runs(client, snaps)
        t1 = time.perf_counter()
        exported = export_logs(client, plan_log_exports(snaps)) if export else {}
    t2 = time.perf_counter()
    result = mirror_runs(snaps, exported)
    t3 = time.perf_counter()
    times = [t for s in every for t in (s.start_time, s.end_time) if t is not None]
    return PageResult(
        offset=offset,
        read=len(every),
        run_ids=[s.run_id for s in snaps],
        open_run_ids=[s.run_id for s in snaps if s.state_type in ("RUNNING", "CANCELLING")],
        latest=max(times) if times else None,
        log_exports=result.log_exports,
        read_seconds=(t1 - t0) + (t2 - t1),
        write_seconds=t3 - t2,
    )


def close_sync_window(window: SyncWindow, latest: datetime | None) -> datetime | None:
    """Move the watermark to the newest start/end seen (never past the pass's own start), less the
    overlap; returns the new watermark (None when nothing was seen and nothing moves)."""
    if latest is None:
        return None
    mark = min(latest, window.started_at) - WATERMARK_OVERLAP
    with session_scope() as session:
        write_watermark(session, WATERMARK_NAME, mark)
        return read_watermark(session, WATERMARK_NAME)


# --- runs Prefect still shows running but that stopped beating ------------------------------------------
def last_activity(client: Any, run_id: str, since: datetime | None) -> datetime | None:
    """The time of the run's newest event (heartbeat or state change), from Prefect's events API."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

    occurred = EventOccurredFilter(since=since) if since else EventOccurredFilter()
    page = client.read_events(
        filter=EventFilter(
            occurred=occurred,
            event=EventNameFilter(prefix=["prefect.flow-run."]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
        ),
        limit=1,
    )
    return _utc(page.events[0].occurred) if page.events else None


def crash_stale_runs(run_ids: Sequence[str], stale_after: float) -> list[str]:
    """Propose CRASHED to Prefect for RUNNING runs with no event (heartbeat or state change) in the last
    `stale_after` seconds, as the crash automation would; returns the ids Prefect accepted it for."""
    from prefect.states import Crashed

    crashed: list[str] = []
    now = utcnow()
    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            flow_run = client.read_flow_run(UUID(run_id))
            if flow_run.state is None or flow_run.state.type.value != "RUNNING":
                continue
            since = _utc(flow_run.start_time) or (now - timedelta(days=7))
            seen = last_activity(client, run_id, since - timedelta(seconds=1))
            seen = max(t for t in (seen, _utc(flow_run.state.timestamp), since) if t is not None)
            if (now - seen).total_seconds() < stale_after:
                continue
            message = f"no heartbeat or state change for {int((now - seen).total_seconds())} s (hopflow sync)"
            result: Any = client.set_flow_run_state(UUID(run_id), Crashed(message=message), force=True)
            if result.state is not None and result.state.type.value == "CRASHED":
                crashed.append(run_id)
                logger.warning("flow run %s marked CRASHED: %s", run_id, message)
    return crashed


def read_snapshots(run_ids: Sequence[str], flow_names: Mapping[str, str]) -> list[RunSnapshot]:
    """Fresh snapshots of the given runs (after the reconciler changed their state)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    if not run_ids:
        return []
    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(r) for r in run_ids])),
            limit=PAGE_LIMIT,
        )
    return [snapshot_of(fr, flow_name=flow_names.get(str(fr.flow_id))) for fr in flow_runs]
