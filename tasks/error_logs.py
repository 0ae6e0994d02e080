"""Each error once in a run's logs: the step that failed logs it (scrubbed, with the tool's frames);
every later line about the same exception becomes a one-line reference to that step.

A failing tool's exception travels up through the step task, the hop task and the flow, and Prefect
logs it at each level ("Task run failed with exception", "Encountered exception during execution",
"Finished in state Failed('<the error>')"), each with a full traceback of Prefect's own frames. A
filter on Prefect's run loggers rewrites those lines: the first record that carries an exception
keeps it (unless hopflow already logged it itself), the others name the exception's type and where
it was logged. Console and API handlers both see the rewritten record.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from typing import Any

RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")
# Where an exception was logged, set on the exception object itself (it is re-raised as is).
LOGGED_IN = "_hopflow_logged_in"
REMEMBERED = 64  # error texts kept to recognise them inside "Finished in state Failed(...)"
MIN_TEXT = 12  # shorter texts would match unrelated lines


class ErrorOnceFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__("")
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, tuple[str, str]] = OrderedDict()  # text -> (type name, where)

    def remember(self, exc: BaseException, where: str) -> None:
        # an exception type without a __dict__ is recognised by its text only
        with contextlib.suppress(AttributeError):
            setattr(exc, LOGGED_IN, where)
        text = str(exc)
        if len(text) < MIN_TEXT:
            return
        with self._lock:
            self._texts[text] = (type(exc).__name__, where)
            self._texts.move_to_end(text)
            while len(self._texts) > REMEMBERED:
                self._texts.popitem(last=False)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = _exception_in(record)
        if exc is not None:
            where = getattr(exc, LOGGED_IN, None)
            if where is None:
                if record.exc_info and record.exc_info[1] is exc:
                    self.remember(exc, _where(record))  # this record is the one that logs it
                return True
            _rewrite(record, _reference(record.getMessage(), type(exc).__name__, where))
            return True
        message = record.msg if isinstance(record.msg, str) else ""
        if message.startswith("Finished in state") and not message.startswith("Finished in state Completed"):
            with self._lock:
                known = [v for t, v in self._texts.items() if t in message]
            if known:
                name, where = known[-1]
                state = message.removeprefix("Finished in state ").split("(", 1)[0]
                _rewrite(record, f"Finished in state {state}: {name}, logged once by {where}")
        return True


def _exception_in(record: logging.LogRecord) -> BaseException | None:
    if record.exc_info and isinstance(record.exc_info[1], BaseException):
        return record.exc_info[1]
    args: Any = record.args
    for arg in args if isinstance(args, tuple) else ():
        if isinstance(arg, BaseException):
            return arg
    return None


def _where(record: logging.LogRecord) -> str:
    name = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
    return str(name) if name and name != "<unknown>" else "the run"


def _reference(message: str, name: str, where: str) -> str:
    """`<what Prefect says>: <Type>, logged once by <where>`, keeping a retry notice."""
    head = message.split("\n", 1)[0].split(":", 1)[0]
    tail = ""
    for marker in (" - Retry ", " - Retries are exhausted"):
        if marker in message:
            tail = message[message.rindex(marker) :].split("\n", 1)[0]
    return f"{head}: {name}, logged once by {where}{tail}"


def _rewrite(record: logging.LogRecord, message: str) -> None:
    record.msg, record.args = message, ()
    record.exc_info, record.exc_text = None, None


_filter = ErrorOnceFilter()


def install() -> None:
    """Put the filter on Prefect's run loggers (idempotent; logging config keeps logger filters)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


def mark_logged(exc: BaseException, where: str) -> None:
    """hopflow logged this exception itself: every Prefect line about it becomes a reference."""
    _filter.remember(exc, where)
