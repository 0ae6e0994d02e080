"""What every command shares: the console, and turning hopflow's known errors into one clear line."""

from __future__ import annotations

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
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except tuple(KNOWN_ERRORS) as exc:
        raise fail(_message(exc)) from exc


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
    if verbose:
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
