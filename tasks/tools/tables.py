"""Table tools over pandas DataFrames: read from uploads, query, aggregate, join, describe, head.

Each takes and returns whole frames and never mutates its inputs; the step runner stores the frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import pandas as pd
from hopflow.tasks.tools.files import resolve_upload_path
from hopflow.tasks.tools.registry import ToolContext, tool
from pandas.errors import UndefinedVariableError
from pydantic import BaseModel, ConfigDict, Field, field_validator

# The aggregations a mission may name: pandas' own reductions, and nothing that takes code.
AGGREGATIONS = ("sum", "mean", "min", "max", "count", "median", "std", "nunique")
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl"}

_TABLE_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class MissingColumnError(KeyError):
    """A tool was asked for a column its table does not have; the message names it and the columns there."""

    def __init__(self, tool_id: str, column: str, columns: Iterable[object], *, side: str = "table") -> None:
        self.column = column
        self.message = (
            f"{tool_id}: column {column!r} is not in the {side} (columns: {', '.join(map(str, columns))})"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _require_columns(
    tool_id: str, frame: pd.DataFrame, columns: Iterable[str], *, side: str = "table"
) -> None:
    for column in columns:
        if column not in frame.columns:
            raise MissingColumnError(tool_id, column, frame.columns, side=side)


class TableOutput(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    table: pd.DataFrame


class ReadInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="path relative to the uploads dir")
    format: Literal["csv", "parquet", "json", "jsonl"] | None = Field(
        default=None, description="inferred from the file suffix when not given"
    )


@tool("table.read")
def read_table(params: ReadInput, ctx: ToolContext) -> TableOutput:
    """Read a CSV, Parquet, JSON or JSON-lines file from the uploads dir into a table."""
    target = resolve_upload_path(ctx.uploads, params.path)
    fmt = params.format or TABLE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot infer the table format of {params.path!r} from its suffix; "
            f"give format or use one of {', '.join(TABLE_FORMATS)}"
        )
    if not target.is_file():
        raise FileNotFoundError(f"table.read: {params.path!r} is not a file in the uploads dir {ctx.uploads}")
    if fmt == "csv":
        frame = pd.read_csv(target)
    elif fmt == "parquet":
        frame = pd.read_parquet(target)
    else:
        frame = pd.read_json(target, lines=fmt == "jsonl")
    return TableOutput(table=frame)


class QueryInput(BaseModel):
    model_config = _TABLE_CONFIG

    table: pd.DataFrame
    expr: str = Field(description="a DataFrame.query expression, e.g. \"amount > 10 and region == 'EU'\"")

    @field_validator("expr")
    @classmethod
    def _no_escape_hatches(cls, value: str) -> str:
        # `@name` reads Python variables and dunders reach into objects: a mission's expression may
        # only talk about the table's columns.
        if "@" in value or "__" in value:
            raise ValueError(f"expr {value!r} may not use '@' variables or '__' names; refer to columns only")
        return value


_UNDEFINED_NAME_RE = re.compile(r"name '([^']+)' is not defined")


@tool("table.query")
def query_table(params: QueryInput) -> TableOutput:
    """The rows matching a DataFrame.query expression, renumbered from 0."""
    frame = params.table
    try:
        # Empty namespaces so a bare name can only mean a column, never something in this module.
        result = frame.query(params.expr, local_dict={}, global_dict={})
    except UndefinedVariableError as exc:
        found = _UNDEFINED_NAME_RE.search(str(exc))
        raise MissingColumnError(
            "table.query", found.group(1) if found else str(exc), frame.columns
        ) from None
    return TableOutput(table=result.reset_index(drop=True))


class AggregateInput(BaseModel):
    model_config = _TABLE_CONFIG

    table: pd.DataFrame
    by: list[str] = Field(
        default_factory=list, description="group-by columns; empty aggregates the whole table"
    )
    aggregations: dict[str, str] = Field(description=f"column -> one of {', '.join(AGGREGATIONS)}")

    @field_validator("aggregations")
    @classmethod
    def _allowed(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("aggregations is empty; name at least one column")
        for column, func in value.items():
            if func not in AGGREGATIONS:
                raise ValueError(
                    f"aggregation {func!r} for column {column!r} is not allowed; "
                    f"use one of {', '.join(AGGREGATIONS)}"
                )
        return value


@tool("table.aggregate")
def aggregate_table(params: AggregateInput) -> TableOutput:
    """Aggregate columns, optionally per group; one row per group with the group columns first."""
    frame = params.table
    _require_columns("table.aggregate", frame, [*params.by, *params.aggregations])
    if not params.by:
        return TableOutput(
            table=pd.DataFrame({col: [frame[col].agg(func)] for col, func in params.aggregations.items()})
        )
    # dropna=False: a missing group key is a group of its own, not rows silently left out.
    grouped = frame.groupby(params.by, dropna=False, sort=True).agg(params.aggregations)
    return TableOutput(table=grouped.reset_index())


class JoinInput(BaseModel):
    model_config = _TABLE_CONFIG

    left: pd.DataFrame
    right: pd.DataFrame
    on: str | list[str]
    how: Literal["inner", "left", "right", "outer"] = "inner"


@tool("table.join")
def join_tables(params: JoinInput) -> TableOutput:
    """Join two tables on shared key columns; clashing column names get _left/_right suffixes."""
    keys = [params.on] if isinstance(params.on, str) else params.on
    if not keys:
        raise ValueError("table.join: on names no columns")
    _require_columns("table.join", params.left, keys, side="left table")
    _require_columns("table.join", params.right, keys, side="right table")
    joined = params.left.merge(params.right, on=keys, how=params.how, suffixes=("_left", "_right"))
    return TableOutput(table=joined)


class DescribeInput(BaseModel):
    model_config = _TABLE_CONFIG

    table: pd.DataFrame


@tool("table.describe")
def describe_table(params: DescribeInput) -> TableOutput:
    """Summary statistics (count, mean, std, min, quartiles, max), the statistic names in column `stat`."""
    if "stat" in params.table.columns:
        raise ValueError("table.describe: the table already has a column named 'stat'; rename it first")
    return TableOutput(table=params.table.describe().reset_index(names="stat"))


class HeadInput(BaseModel):
    model_config = _TABLE_CONFIG

    table: pd.DataFrame
    n: int = Field(default=5, ge=0)


@tool("table.head")
def head_table(params: HeadInput) -> TableOutput:
    """The first n rows."""
    return TableOutput(table=params.table.head(params.n).reset_index(drop=True))


class EvalInput(BaseModel):
    model_config = _TABLE_CONFIG

    table: pd.DataFrame
    expr: str = Field(description='a DataFrame.eval assignment, e.g. "revenue = units * unit_price"')

    @field_validator("expr")
    @classmethod
    def _columns_only(cls, value: str) -> str:
        # Same rule as table.query: no Python variables, no dunders.
        if "@" in value or "__" in value:
            raise ValueError(f"expr {value!r} may not use '@' variables or '__' names; refer to columns only")
        if "=" not in value.replace("==", ""):
            raise ValueError(f"expr {value!r} must assign a column, e.g. 'total = a + b'")
        return value


@tool("table.eval")
def eval_table(params: EvalInput) -> TableOutput:
    """The table with a column computed (or replaced) by a DataFrame.eval assignment."""
    frame = params.table
    try:
        result = frame.eval(params.expr, local_dict={}, global_dict={})
    except UndefinedVariableError as exc:
        found = _UNDEFINED_NAME_RE.search(str(exc))
        raise MissingColumnError("table.eval", found.group(1) if found else str(exc), frame.columns) from None
    return TableOutput(table=result)
