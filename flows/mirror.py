"""The state hooks every hopflow flow carries: each state change of a run is mirrored into
agent_run_logs as it happens (the reconciler in flows/reconciler.py repairs what they miss)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from hopflow.tasks import mirror
from prefect import get_client

Hook = Callable[[Any, Any, Any], None]
logger = logging.getLogger("hopflow.mirror")


# --- state hooks -------------------------------------------------------------------------------------------
def _hook_failed(flow_obj: Any, flow_run: Any, what: str) -> None:
    # A hook never fails the flow: the reconciler repairs the row later. Tell the run's own log too.
    logger.exception("run log mirror: %s failed for flow run %s", what, getattr(flow_run, "id", "?"))
    try:
        from prefect.logging.loggers import flow_run_logger

        flow_run_logger(flow_run=flow_run, flow=flow_obj).warning(
            "hopflow could not %s (the sync_run_logs reconciler will repair it); see the process log", what
        )
    except Exception:  # no run logger here (the run's context is gone): the process log has it all
        logger.debug("could not tell flow run %s's own log", getattr(flow_run, "id", "?"), exc_info=True)


def _parent_run_id(parent_task_run_id: str | None) -> str | None:
    if not parent_task_run_id:
        return None
    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(UUID(parent_task_run_id))
    return str(task_run.flow_run_id) if task_run.flow_run_id else None


def _mirror(flow_obj: Any, flow_run: Any, state: Any, *, state_type: str | None = None) -> None:
    try:
        snap = mirror.snapshot_of(flow_run, flow_name=flow_obj.name, state=state, state_type=state_type)
        if snap.parent_task_run_id:
            try:
                snap.parent_run_id = _parent_run_id(snap.parent_task_run_id)
            except Exception:
                logger.debug("parent of flow run %s not resolved", snap.run_id, exc_info=True)
        mirror.mirror_runs([snap])
    except Exception:
        _hook_failed(flow_obj, flow_run, f"write the run log ({state_type or state.type.value})")
        return
    if not snap.is_final:
        return
    try:
        # Only what the API already has: its last lines arrive ~1 s after the run and the flow does not wait;
        # an export made now is redone by the reconciler once the logs have settled.
        plan = mirror.plan_log_exports([snap])
        with get_client(sync_client=True) as client:
            exported = mirror.export_logs(client, plan)
        if any(e.lines for e in exported.values()):
            mirror.record_log_exports(exported)
    except Exception:
        _hook_failed(flow_obj, flow_run, "export the run's logs")


def mirror_on_running(flow_obj: Any, flow_run: Any, state: Any) -> None:
    _mirror(flow_obj, flow_run, state)


def mirror_on_final(flow_obj: Any, flow_run: Any, state: Any) -> None:
    """Completion, failure and crash: the terminal state, timings, tokens, output and logs."""
    _mirror(flow_obj, flow_run, state)


def mirror_on_cancellation(flow_obj: Any, flow_run: Any, state: Any) -> None:
    # Prefect calls this hook with CANCELLING and does not call one for the CANCELLED that follows
    # (Prefect 3.x): record the cancellation now; the reconciler later writes Prefect's exact end time.
    _mirror(flow_obj, flow_run, state, state_type="CANCELLED")


def mirror_hooks(**extra: list[Hook]) -> dict[str, Any]:
    """The state hooks every hopflow flow carries, plus any extra ones per hook kind.

    Use as `@flow(..., **mirror_hooks(on_cancellation=[my_hook]))`. The flow's own hooks run first,
    so the mirror records what they did (a cancelled mission, say).
    """
    hooks: dict[str, list[Hook]] = {
        "on_running": [],
        "on_completion": [],
        "on_failure": [],
        "on_cancellation": [],
        "on_crashed": [],
    }
    for kind, fns in extra.items():
        if kind not in hooks:
            raise TypeError(f"mirror_hooks: unknown hook kind {kind!r}")
        hooks[kind] = [*hooks[kind], *fns]
    hooks["on_running"].append(mirror_on_running)
    hooks["on_completion"].append(mirror_on_final)
    hooks["on_failure"].append(mirror_on_final)
    hooks["on_crashed"].append(mirror_on_final)
    hooks["on_cancellation"].append(mirror_on_cancellation)
    return hooks
