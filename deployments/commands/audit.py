"""`hopflow audit`, `hopflow thoughts` and `hopflow prune`: history, reasoning, and retention."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from hopflow.deployments.commands.common import clear_errors, console, settings
from hopflow.models.access.audit import read_history
from hopflow.models.access.thoughts import list_thoughts
from hopflow.models.db import session_scope


def out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def audit(
    subject: Annotated[str, typer.Argument(help="An id, an id prefix (4+ chars) or TABLE:ID.")],
    since: Annotated[str | None, typer.Option(help="Only since: 30m, 24h, 7d, 2w or an ISO date.")] = None,
    limit: Annotated[int, typer.Option()] = 200,
) -> None:
    """The history of a row: every create, update, delete and status change, with its diff."""
    from hopflow.deployments.commands.runs import parse_since

    settings()
    cutoff = parse_since(since) if since is not None else None
    with clear_errors(), session_scope() as session:
        rows = [
            (e.created_at, e.action, e.subject_type, e.subject_id, e.actor_entity_id, e.before, e.after)
            for e in read_history(session, subject, since=cutoff, limit=limit)
        ]
    if not rows:
        out(f"no history for {subject}")
    for at, action, kind, ident, actor, before, after in rows:
        who = f" by {actor[:8]}" if actor else ""
        out(f"{at.isoformat(timespec='seconds')}  {action:<14} {kind}:{ident[:8]}{who}")
        for key in sorted({*(before or {}), *(after or {})}):
            old = json.dumps((before or {}).get(key), default=str)[:200]
            new = json.dumps((after or {}).get(key), default=str)[:200]
            out(f"    {key}: {old} -> {new}" if before is not None else f"    {key}: {new}")


def thoughts(
    entity: Annotated[str, typer.Argument(help="Entity (human or agent) id or name.")],
    stage: Annotated[str | None, typer.Option(help="Only this stage, e.g. plan.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """An entity's thoughts (reasoning summaries), newest first."""
    settings()
    with clear_errors(), session_scope() as session:
        rows = [
            (t.created_at, t.stage or "-", t.thought)
            for t in list_thoughts(session, entity, stage=stage, limit=limit)
        ]
    if not rows:
        out(f"no thoughts of {entity}")
    for at, st, text in rows:
        out(f"{at.isoformat(timespec='seconds')}  {st:<10} {text}")


def prune(
    older_than: Annotated[str, typer.Option(help="Age: 90d, 12w or 36h.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go, per table.")] = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 1000,
) -> None:
    """Delete run logs, llm_calls, events, exported log files and offloaded data of finished missions
    older than --older-than, in batches; nothing of an unfinished mission."""
    from hopflow.tasks.knowledge.retention import parse_age
    from hopflow.tasks.knowledge.retention import prune as run_prune

    settings()
    with clear_errors():
        report = run_prune(parse_age(older_than), dry_run=dry_run, batch=batch)
    verb = "would delete" if report.dry_run else "deleted"
    out(f"{verb} (older than {report.cutoff.isoformat(timespec='seconds')}):")
    for table, count in report.rows.items():
        out(f"  {table:<18} {count}")
    if not report.dry_run:
        out(f"  files removed      {report.files_removed}")
