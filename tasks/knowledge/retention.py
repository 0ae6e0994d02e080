"""`hopflow prune`: delete what finished missions and runs left behind, older than a cut-off, one batch
per unit of work, then the files (exported logs, offloaded content) those rows pointed to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hopflow.models.access.retention import TABLES, count_prunable, prune_batch
from hopflow.models.db import session_scope
from hopflow.models.settings import Settings, get_settings
from pydantic import BaseModel

_AGE = re.compile(r"^\s*(\d+)\s*([dwh])\s*$")
_UNITS = {"d": "days", "w": "weeks", "h": "hours"}


class PruneReport(BaseModel):
    cutoff: datetime
    dry_run: bool
    rows: dict[str, int]
    files_removed: int = 0


def parse_age(value: str) -> timedelta:
    """`90d`, `12w`, `36h`; the error names the option."""
    match = _AGE.match(value)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"--older-than {value!r}: give a positive age such as 90d, 12w or 36h")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _remove(paths: list[str], settings: Settings) -> int:
    # Only files under hopflow's own folders: a row pointing elsewhere is not a licence to delete.
    roots = [settings.logs.resolve(), settings.data.resolve()]
    removed = 0
    for raw in paths:
        path = Path(raw).resolve()
        if any(path.is_relative_to(root) for root in roots) and path.is_file():
            path.unlink()
            removed += 1
    return removed


def prune(
    older_than: timedelta,
    *,
    dry_run: bool = False,
    batch: int = 1000,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> PruneReport:
    settings = settings or get_settings()
    cutoff = (now or datetime.now(UTC)) - older_than
    if dry_run:
        with session_scope() as session:
            return PruneReport(cutoff=cutoff, dry_run=True, rows=count_prunable(session, cutoff))
    rows = dict.fromkeys(TABLES, 0)
    removed = 0
    for table in TABLES:
        while True:
            with session_scope() as session:
                count, files = prune_batch(session, table, cutoff, batch)
            removed += _remove(files, settings)
            rows[table] += count
            if count < batch:
                break
    return PruneReport(cutoff=cutoff, dry_run=False, rows=rows, files_removed=removed)
