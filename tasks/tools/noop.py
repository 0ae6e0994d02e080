"""Tools that do nothing useful on purpose: echo, fail and sleep, for tests and benchmarks of the runner."""

from __future__ import annotations

import time
from typing import Any

from hopflow.tasks.tools.registry import tool
from pydantic import BaseModel, ConfigDict, Field


class EchoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = None


class EchoOutput(BaseModel):
    value: Any = None


@tool("noop.echo")
def echo(params: EchoInput) -> EchoOutput:
    """Return the input value unchanged."""
    return EchoOutput(value=params.value)


class FailInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = "noop.fail was asked to fail"


class FailOutput(BaseModel):
    pass


@tool("noop.fail")
def fail(params: FailInput) -> FailOutput:
    """Always raise RuntimeError(message)."""
    raise RuntimeError(params.message)


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=3600)


class SleepOutput(BaseModel):
    slept_seconds: float


@tool("noop.sleep")
def sleep(params: SleepInput) -> SleepOutput:
    """Sleep, then report how long it took (timeouts and concurrency benchmarks)."""
    started = time.perf_counter()
    time.sleep(params.seconds)
    return SleepOutput(slept_seconds=time.perf_counter() - started)
