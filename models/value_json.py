"""The JSON side of hopflow's value representation: how a value is classified, stored inline as JSON,
and walked lazily, so measuring or previewing a value never touches more of it than a limit needs."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import itertools
import math
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from json.encoder import encode_basestring  # what json.dumps(..., ensure_ascii=False) uses for str
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import BaseModel, RootModel

if TYPE_CHECKING:
    import pandas as pd


SMALL_LIMIT_BYTES = 1024
PREVIEW_ITEMS = 3
TEXT_PREVIEW_CHARS = 150
PREVIEW_ITEM_CHARS = 120
MAX_KEY_NAMES = 50
KEY_NAME_CHARS = 64
MAX_FRAME_COLUMNS = 20
FRAME_ROWS_PREVIEW_CHARS = 600
BYTES_PREVIEW = 32

ELLIPSIS = "…"
TABLE_KIND = "table"
SERIES_KIND = "series"
BYTES_KIND = "bytes"

# Long strings are escaped a slice at a time so that measuring one never touches more of it
# than the limit needs.
_STR_CHUNK = 256
# A multiple of 3, so the base64 of consecutive slices concatenates into the base64 of the whole.
_B64_CHUNK = 3 * 256
# str(int) refuses more than 4300 digits by default and is quadratic; 12k bits is ~3600 digits,
# far past any summary limit, and cheap.
_MAX_INT_BITS = 12_000
_FRAME_BLOCK_CELLS = 4096
_BYTES_JSON_OVERHEAD = len('{"__kind__":"bytes","base64":""}')

_TEXT_LIKE = (dt.datetime, dt.date, dt.time, dt.timedelta, Decimal, uuid.UUID, PurePath, complex, Fraction)

_Kind = Literal[
    "null",
    "bool",
    "text",
    "int",
    "float",
    "array",
    "stream",
    "mapping",
    "fields",
    "table",
    "series",
    "bytes",
    "ndarray",
    "textlike",
    "opaque",
]
# A JSON piece: finished text, or tokens still to be produced (each again a piece).
_Piece: TypeAlias = "str | Iterator[_Piece]"


class _Stream:
    """A lazily produced JSON array, so a frame's rows are only built as far as a walk reads."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[object]) -> None:
        self.items = items


def json_size_upto(value: object, limit: int) -> int | None:
    """UTF-8 size of the compact JSON of `to_jsonable(value)` if at most `limit`, else None.

    Work is proportional to `limit`, not to the value: the walk stops on the first fragment past it.
    A top-level str counts with its quotes and escapes here; `is_small` counts text raw.
    """
    size = 0
    for fragment in _json_fragments(value):
        size += len(fragment) if fragment.isascii() else _utf8_len(fragment)
        if size > limit:
            return None
    return size


def to_jsonable(value: object) -> Any:
    """`value` as plain JSON data (dict/list/str/int/float/bool/None) for inline storage.

    DataFrame -> {"__kind__": "table", "columns", "dtypes", "records"}; Series -> {"__kind__":
    "series", "name", "dtype", "values"}; bytes -> {"__kind__": "bytes", "base64"}; datetime ->
    isoformat; pydantic model -> model_dump(mode="json"); mapping keys become strings the way
    json.dumps would write them. Missing table cells (NaN, NA, NaT) become None. Full work: call
    it for storage, not to measure.
    """
    value = _unwrap(value)
    kind = _kind(value)
    if kind in ("null", "bool", "text", "int", "float"):
        return value
    if kind in ("array", "stream"):
        items = value.items if isinstance(value, _Stream) else value
        return [to_jsonable(item) for item in items]  # type: ignore[attr-defined]
    if kind == "mapping":
        return {_key_text(k): to_jsonable(v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "fields":
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        return {name: to_jsonable(v) for name, v in _field_items(value)}
    if kind == "table":
        return {k: to_jsonable(v) for k, v in _frame_items(value)}
    if kind == "series":
        return {k: to_jsonable(v) for k, v in _series_items(value)}
    if kind == "bytes":
        encoded = base64.b64encode(_byte_view(value)).decode("ascii")  # type: ignore[arg-type]
        return {"__kind__": BYTES_KIND, "base64": encoded}
    if kind == "ndarray":
        return to_jsonable(value.tolist())  # type: ignore[attr-defined]
    if kind == "textlike":
        return _text_like(value)
    # Storage wants fidelity over speed, as json.dumps(default=str) would give.
    return str(value)


def from_jsonable(obj: Any) -> Any:
    """Undo `to_jsonable`'s table, series and bytes encodings, at any depth.

    A table comes back with its column labels in order and its values; dtypes are restored where
    pandas can cast to them and otherwise re-inferred; the index is not kept.
    """
    if isinstance(obj, list):
        return [from_jsonable(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("__kind__")
    if kind == TABLE_KIND:
        return _frame_from_jsonable(obj)
    if kind == SERIES_KIND:
        return _series_from_jsonable(obj)
    if kind == BYTES_KIND:
        return base64.b64decode(obj["base64"])
    return {k: from_jsonable(v) for k, v in obj.items()}


# --- classification -----------------------------------------------------------------------------
_ASSET_TYPES: dict[str, str] = {
    "null": "json",
    "bool": "boolean",
    "text": "text",
    "int": "number",
    "float": "number",
    "array": "json",
    "stream": "json",
    "mapping": "json",
    "fields": "json",
    "ndarray": "json",
    "table": "table",
    "series": "series",
    "bytes": "bytes",
    # stored as their text by to_jsonable
    "textlike": "text",
    "opaque": "text",
}


def _kind(value: object) -> _Kind:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "array"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    # pandas and numpy are only looked for if already imported: a value cannot be one of their
    # objects otherwise, and importing them here would cost every caller half a second.
    pd_ = sys.modules.get("pandas")
    if pd_ is not None:
        if isinstance(value, pd_.DataFrame):
            return "table"
        if isinstance(value, pd_.Series):
            return "series"
    if isinstance(value, BaseModel) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return "fields"
    np_ = sys.modules.get("numpy")
    if np_ is not None and isinstance(value, np_.ndarray):
        return "ndarray"
    if isinstance(value, _TEXT_LIKE):
        return "textlike"
    if isinstance(value, _Stream):
        return "stream"
    return "opaque"


def _unwrap(value: object) -> object:
    """The plain value a numpy scalar, 0-d array, value enum or RootModel stands for."""
    np_ = sys.modules.get("numpy")
    if np_ is not None:
        # np.str_ and np.bytes_ already are str and bytes; item() would copy them
        if isinstance(value, np_.generic) and not isinstance(value, (str, bytes)):
            return _unwrap(value.item())
        if isinstance(value, np_.ndarray) and value.ndim == 0:
            return _unwrap(value.item())
    if isinstance(value, Enum) and not isinstance(value, (str, int)):
        return _unwrap(value.value)
    if isinstance(value, RootModel):
        return _unwrap(value.root)
    return value


def _text_like(value: object) -> str:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _text_of(value: object, kind: _Kind) -> str:
    if kind == "text":
        return value  # type: ignore[return-value]
    if kind == "textlike":
        return _text_like(value)
    return _opaque(value)


def _opaque(value: object) -> str:
    return f"<{type(value).__name__} object>"


def _key_text(key: object) -> str:
    """A mapping key as the string json.dumps would write for it (plus text for other types)."""
    if type(key) is str:  # nearly every key: skip the unwrap checks
        return key
    key = _unwrap(key)
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return _int_text(key)
    if isinstance(key, float):
        return _float_text(key)
    if isinstance(key, _TEXT_LIKE):
        return _text_like(key)
    if isinstance(key, (tuple, frozenset)):
        # frame column labels of a MultiIndex are tuples; hashable tuples are small in practice
        return str(key)
    return _opaque(key)


def _int_text(value: int) -> str:
    """The digits of `value`, or a short stand-in for an int too long to print cheaply."""
    if value.bit_length() > _MAX_INT_BITS:
        return f"<int of {value.bit_length()} bits>"
    return int.__repr__(value)


def _float_text(value: float) -> str:
    # the spellings json.dumps uses (allow_nan=True)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


# --- the bounded JSON walk ----------------------------------------------------------------------
def _encode(value: object) -> _Piece:
    """Finished JSON for a scalar, or a token iterator for anything that may be big."""
    # the common JSON types first, without the unwrap/classify detour
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, int):
        digits = _int_text(value)
        return digits if digits[0] != "<" else encode_basestring(digits)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (list, tuple)):
        return _array_tokens(value)
    if isinstance(value, dict):
        return _object_tokens(value.items())
    return _encode_other(value)


def _encode_other(value: object) -> _Piece:
    plain = _unwrap(value)
    if plain is not value:
        return _encode(plain)
    kind = _kind(value)
    if kind == "array":
        return _array_tokens(value)  # type: ignore[arg-type]
    if kind == "stream":
        return _array_tokens(value.items)  # type: ignore[attr-defined]
    if kind == "mapping":
        return _object_tokens(value.items())  # type: ignore[attr-defined]
    if kind == "fields":
        return _object_tokens(_field_items(value))
    if kind == "table":
        return _object_tokens(_frame_items(value))
    if kind == "series":
        return _object_tokens(_series_items(value))
    if kind == "bytes":
        return _bytes_tokens(_byte_view(value))  # type: ignore[arg-type]
    if kind == "ndarray":
        return _array_tokens(value)  # type: ignore[arg-type]
    if kind == "textlike":
        return _encode_str(_text_like(value))
    return _encode_str(_opaque(value))


def _encode_str(text: str) -> _Piece:
    if len(text) <= _STR_CHUNK:
        return encode_basestring(text)
    return _long_str_tokens(text)


def _long_str_tokens(text: str) -> Iterator[_Piece]:
    yield '"'
    for start in range(0, len(text), _STR_CHUNK):
        # JSON escapes character by character, so escaped slices join into the escaped whole
        yield encode_basestring(text[start : start + _STR_CHUNK])[1:-1]
    yield '"'


def _array_tokens(items: Iterable[object]) -> Iterator[_Piece]:
    yield "["
    for index, item in enumerate(items):
        if index:
            yield ","
        yield _encode(item)
    yield "]"


def _object_tokens(items: Iterable[tuple[object, object]]) -> Iterator[_Piece]:
    yield "{"
    for index, (key, item) in enumerate(items):
        if index:
            yield ","
        yield _encode_str(_key_text(key))
        yield ":"
        yield _encode(item)
    yield "}"


def _bytes_tokens(data: memoryview) -> Iterator[_Piece]:
    yield '{"__kind__":"bytes","base64":"'
    for start in range(0, data.nbytes, _B64_CHUNK):
        yield base64.b64encode(data[start : start + _B64_CHUNK]).decode("ascii")
    yield '"}'


def _json_fragments(value: object) -> Iterator[str]:
    """The compact JSON of `to_jsonable(value)` as a stream of non-empty fragments.

    Every fragment is at least one byte and costs bounded work, so a consumer that stops after
    `limit` bytes has done O(limit) work however big the value is.
    """
    first = _encode(value)
    if isinstance(first, str):
        yield first
        return
    stack: list[Iterator[_Piece]] = [first]
    while stack:
        for piece in stack[-1]:
            if isinstance(piece, str):
                yield piece
            else:
                stack.append(piece)
                break
        else:
            stack.pop()


def _json_text_upto(value: object, limit: int) -> str | None:
    """The JSON of `value` if it is at most `limit` UTF-8 bytes, else None; same walk as json_size_upto."""
    parts: list[str] = []
    size = 0
    for fragment in _json_fragments(value):
        size += len(fragment) if fragment.isascii() else _utf8_len(fragment)
        if size > limit:
            return None
        parts.append(fragment)
    return "".join(parts)


def _utf8_len(text: str) -> int:
    # surrogatepass: a lone surrogate must be measured, not raise
    return len(text.encode("utf-8", "surrogatepass"))


def _utf8_size_upto(text: str, limit: int) -> int | None:
    if len(text) > limit:  # every character is at least one byte: large without encoding
        return None
    size = len(text) if text.isascii() else _utf8_len(text)
    return size if size <= limit else None


def _preview_json(value: object, max_chars: int) -> str:
    """The JSON of `value`, cut at `max_chars` with an ellipsis if longer."""
    parts: list[str] = []
    length = 0
    for fragment in _json_fragments(value):
        parts.append(fragment)
        length += len(fragment)
        if length > max_chars:
            return "".join(parts)[:max_chars] + ELLIPSIS
    return "".join(parts)


# --- members of structured values ---------------------------------------------------------------
def _members(value: object) -> tuple[int, Iterator[object]]:
    """How many fields `value` has and an iterator over their names, without listing them all."""
    if isinstance(value, Mapping):
        return len(value), iter(value)
    if isinstance(value, BaseModel):
        names = type(value).model_fields
        extra = value.model_extra or {}
        return len(names) + len(extra), itertools.chain(names, extra)
    fields = dataclasses.fields(value)  # type: ignore[arg-type]
    return len(fields), (field.name for field in fields)


def _field_items(value: object) -> Iterator[tuple[str, object]]:
    # pydantic and dataclass fields read one at a time: model_dump would copy the whole model
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield name, getattr(value, name)
        yield from (value.model_extra or {}).items()
        return
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        yield field.name, getattr(value, field.name)


def _byte_view(value: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(value)
    try:
        return view.cast("B")
    except TypeError:  # not C-contiguous: only a copy can be read flat
        return memoryview(view.tobytes())


# --- pandas encodings ---------------------------------------------------------------------------
def _cell(value: object) -> object:
    """A table cell with pandas' missing markers (NaN, NA, NaT) as None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    pd_ = sys.modules["pandas"]
    if value is pd_.NA or value is pd_.NaT:
        return None
    return value


def _frame_items(frame: pd.DataFrame) -> Iterator[tuple[str, object]]:
    # The header costs O(columns); rows are only converted as far as the reader gets.
    yield "__kind__", TABLE_KIND
    yield "columns", _Stream(frame.columns)
    yield "dtypes", _Stream(str(dtype) for dtype in frame.dtypes)
    yield _frame_body(frame)


def _frame_body(frame: pd.DataFrame) -> tuple[str, _Stream]:
    keys = [_key_text(label) for label in frame.columns]
    rows = _frame_rows(frame)
    if len(set(keys)) == len(keys):
        return "records", _Stream(dict(zip(keys, row, strict=True)) for row in rows)
    # records would silently merge columns whose labels read the same
    return "rows", _Stream(rows)


def _frame_rows(frame: pd.DataFrame) -> Iterator[list[object]]:
    # A block of rows at a time: one to_numpy per block is several times cheaper than itertuples
    # (and gives Python scalars), and a walk that stops early has converted one block at most.
    step = max(1, _FRAME_BLOCK_CELLS // max(1, frame.shape[1]))
    for start in range(0, len(frame), step):
        block = frame if len(frame) <= step else frame.iloc[start : start + step]
        for row in block.to_numpy(dtype=object).tolist():
            yield [_cell(value) for value in row]


def _series_items(series: pd.Series) -> Iterator[tuple[str, object]]:
    yield "__kind__", SERIES_KIND
    yield "name", series.name
    yield "dtype", str(series.dtype)
    yield "values", _Stream(map(_cell, series))


def _label_from_jsonable(label: Any) -> Any:
    # tuple labels (MultiIndex) were written as JSON arrays
    if isinstance(label, list):
        return tuple(_label_from_jsonable(part) for part in label)
    return label


def _frame_from_jsonable(obj: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    labels = [_label_from_jsonable(label) for label in obj["columns"]]
    if "records" in obj:
        # look cells up by key: a JSON store such as PostgreSQL jsonb does not keep key order
        keys = [_key_text(label) for label in labels]
        rows = [[from_jsonable(record.get(key)) for key in keys] for record in obj["records"]]
    else:
        rows = [[from_jsonable(cell) for cell in row] for row in obj["rows"]]
    frame = pd.DataFrame(rows, columns=labels)
    for position, dtype in enumerate(obj.get("dtypes") or []):
        frame.isetitem(position, _restore_dtype(frame.iloc[:, position], dtype))
    return frame


def _series_from_jsonable(obj: dict[str, Any]) -> pd.Series:
    import pandas as pd

    values = [from_jsonable(value) for value in obj["values"]]
    series = pd.Series(values, name=_label_from_jsonable(obj.get("name")))
    dtype = obj.get("dtype")
    return _restore_dtype(series, dtype) if dtype else series


def _restore_dtype(values: pd.Series, dtype: str) -> pd.Series:
    if str(values.dtype) == dtype:
        return values
    try:
        return values.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        # e.g. an int column that gained missing values: keep what pandas inferred
        return values
