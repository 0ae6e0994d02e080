"""What every command shares: the consoles, printing outside data verbatim, and turning hopflow's known
errors (a database not migrated or not reachable included) into one clear line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from hopflow.models.db import DatabaseUnavailable
from hopflow.models.enums import InvalidTransition
from hopflow.models.migrations import MigrationError
from hopflow.models.settings import Settings, SettingsError, get_settings
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, NoSuchTableError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., object])

# Errors whose message already says what and where: shown as one line, exit code 1.
KNOWN_ERRORS: list[type[BaseException]] = [
    SettingsError,
    DatabaseUnavailable,
    MigrationError,
    InvalidTransition,
    ValidationError,
    FileNotFoundError,
    LookupError,
    ValueError,
]


def fail(message: str, code: int = 1) -> typer.Exit:
    # The message may quote outside data (a file's text, a tool's error): never read as markup.
    err_console.print(Text("error: ", style="bold red") + Text(message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(Text("warning: ", style="bold yellow") + Text(message), highlight=False, soft_wrap=True)


def say(text: Text | str) -> None:
    """One message line: the terminal wraps it, not Rich (an id or a path stays whole for copying)."""
    console.print(text, soft_wrap=True, highlight=False)


def cell(value: object, style: str | None = None) -> Text:
    """A table cell or line that shows `value` as it is: `[...]` in data is text, not Rich markup."""
    return Text("-" if value is None else str(value), style=style or "")


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def write_verbatim(text: str) -> None:
    """Content to stdout exactly as stored: no wrapping at the terminal width, no markup, nothing added
    (so `> file` saves what is stored)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def database_problem(exc: DBAPIError | NoSuchTableError) -> str:
    """One line for the database errors a newcomer meets: not migrated, not reachable, no such database."""
    from hopflow.models.settings import get_settings
    from sqlalchemy.engine import make_url

    try:
        where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:
        where = "HOPFLOW_DATABASE_URL"
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database {where} has no hopflow tables yet: run `hopflow db upgrade` ({text[:160]})"
    if isinstance(exc, NoSuchTableError):
        return f"the database {where} has no table {exc}: run `hopflow db upgrade` first"
    return (
        f"cannot use the database {where}: {text[:200]} "
        "(check HOPFLOW_DATABASE_URL, that the server is running and the database exists; "
        "then `hopflow db upgrade`)"
    )


@contextmanager
def clear_errors() -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except tuple(KNOWN_ERRORS) as exc:
        raise fail(_message(exc)) from exc
    except (DBAPIError, NoSuchTableError) as exc:
        raise fail(database_problem(exc)) from None


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "value"
            parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
        return "; ".join(parts)
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def settings() -> Settings:
    with clear_errors():
        return get_settings()


@contextmanager
def quiet_prefect_console(verbose: bool = False) -> Iterator[None]:
    """Keep Prefect's lines off the terminal while a command draws its own progress and then says, once,
    what failed. Logs and tracebacks still reach the Prefect API (a separate handler): the run's Logs
    tab has them, and `--verbose` prints them here too.
    """
    if verbose or os.environ.get("HOPFLOW_VERBOSE") == "1":
        yield
        return
    import logging

    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(max(handler.level, logging.CRITICAL))
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to (PREFECT_API_URL), or None for the ephemeral one."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


# One colour per kind of status, for every table the CLI prints: missions, hops, steps, assets,
# agent definitions and configurations, run logs.
STATUS_STYLE = {
    "completed": "green",
    "ready": "green",
    "active": "green",
    "success": "green",
    "draft": "cyan",
    "pending": "cyan",
    "executing": "yellow",
    "executing_hop": "yellow",
    "in_progress": "yellow",
    "running": "yellow",
    "inactive": "yellow",
    "failed": "red",
    "error": "red",
    "cancelled": "magenta",
    "deprecated": "magenta",
    "archived": "magenta",
}


def styled_status(status: str | None) -> Text:
    """A status word in its colour; `-` when there is none."""
    if status is None:
        return cell("-")
    return cell(status, STATUS_STYLE.get(status))
