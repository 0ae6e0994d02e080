"""The value representation of seed 004 section 7: the short summary that stands for any value,
in bounded work, and the JSON form in which hopflow stores a value inline."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
from hopflow.models.value_json import (
    _ASSET_TYPES,
    _BYTES_JSON_OVERHEAD,
    BYTES_PREVIEW,
    ELLIPSIS,
    FRAME_ROWS_PREVIEW_CHARS,
    KEY_NAME_CHARS,
    MAX_FRAME_COLUMNS,
    MAX_KEY_NAMES,
    PREVIEW_ITEM_CHARS,
    PREVIEW_ITEMS,
    SMALL_LIMIT_BYTES,
    TEXT_PREVIEW_CHARS,
    _byte_view,
    _cell,
    _frame_body,
    _int_text,
    _json_text_upto,
    _key_text,
    _kind,
    _members,
    _preview_json,
    _text_of,
    _unwrap,
    _utf8_size_upto,
    from_jsonable,
    json_size_upto,
    to_jsonable,
)


# --- public API ---------------------------------------------------------------------------------
def summarise(value: object) -> str:
    """The content summary of `value` under seed 004 section 7, in work bounded whatever its size.

    - Small (serialised size under `SMALL_LIMIT_BYTES`: for text its UTF-8 length, for anything
      else the UTF-8 length of the compact JSON of `to_jsonable(value)`): the full content, text as
      itself and anything else as that compact JSON.
    - Large list/tuple/set/array: ``Array of N items, preview: [first 3 items]``, each item's JSON
      cut to `PREVIEW_ITEM_CHARS` with "…".
    - Large dict/mapping/pydantic model/dataclass: ``Object with N fields: [key names]``, at most
      `MAX_KEY_NAMES` names and then ``… (+K more)``.
    - Large text: ``Text (N chars): <first 150 chars>...``.
    - DataFrame, Series and bytes always get their shaped form, small or not: their JSON encoding
      is a storage format, not content a reader would recognise.
    - datetime, Decimal, UUID and paths read as their text; any other object reads as
      ``<TypeName object>``, because its ``str()`` is arbitrary code of unknown cost.
    """
    value = _unwrap(value)
    kind = _kind(value)
    if kind == "table":
        return _summarise_frame(value)
    if kind == "series":
        return _summarise_series(value)
    if kind == "bytes":
        return _summarise_bytes(value)  # type: ignore[arg-type]
    if kind in ("text", "textlike", "opaque"):
        return _summarise_text(_text_of(value, kind))
    if kind == "int":
        return _summarise_int(value)  # type: ignore[arg-type]
    full = _json_text_upto(value, SMALL_LIMIT_BYTES - 1)
    if full is not None:
        return full
    if kind in ("mapping", "fields"):
        return _summarise_object(value)
    return _summarise_array(value)


def is_small(value: object, limit: int = SMALL_LIMIT_BYTES) -> bool:
    """Whether `value` serialises to fewer than `limit` bytes (text: its UTF-8 length), in bounded work."""
    value = _unwrap(value)
    kind = _kind(value)
    if kind in ("text", "textlike", "opaque"):
        return _utf8_size_upto(_text_of(value, kind), limit - 1) is not None
    if kind == "int":
        digits = _int_text(value)  # type: ignore[arg-type]
        return digits[0] != "<" and len(digits) < limit
    return json_size_upto(value, limit - 1) is not None


def describe_type(value: object) -> str:
    """The asset type hopflow records for `value`: text, number, boolean, json, table, series or bytes."""
    value = _unwrap(value)
    kind = _kind(value)
    if kind == "textlike" and isinstance(value, Decimal):
        return "number"
    return _ASSET_TYPES[kind]


# --- shaped forms -------------------------------------------------------------------------------
def _summarise_text(text: str) -> str:
    if _utf8_size_upto(text, SMALL_LIMIT_BYTES - 1) is not None:
        return str.__str__(text)  # a plain str, even for a str subclass
    return f"Text ({len(text)} chars): {text[:TEXT_PREVIEW_CHARS]}..."


def _summarise_int(value: int) -> str:
    digits = _int_text(value)
    if digits[0] == "<":
        return f"Number ({value.bit_length()} bits)"
    if len(digits) < SMALL_LIMIT_BYTES:
        return digits
    return f"Number ({len(digits.lstrip('-'))} digits): {digits[:TEXT_PREVIEW_CHARS]}..."


def _summarise_array(items: Any) -> str:
    head = itertools.islice(items, PREVIEW_ITEMS)
    preview = ",".join(_preview_json(item, PREVIEW_ITEM_CHARS) for item in head)
    return f"Array of {len(items)} items, preview: [{preview}]"


def _summarise_object(value: object) -> str:
    count, keys = _members(value)
    names = [_clip(_key_text(key), KEY_NAME_CHARS) for key in itertools.islice(keys, MAX_KEY_NAMES)]
    if count > len(names):
        names.append(f"{ELLIPSIS} (+{count - len(names)} more)")
    return f"Object with {count} fields: [{', '.join(names)}]"


def _summarise_frame(frame: pd.DataFrame) -> str:
    rows, columns = frame.shape
    # positional slices cost the same for any length; rows first, as a 2-D iloc is much slower
    head = frame.iloc[:PREVIEW_ITEMS]
    if columns > MAX_FRAME_COLUMNS:
        head = head.iloc[:, :MAX_FRAME_COLUMNS]
    described = [
        f"{_clip(_key_text(label), KEY_NAME_CHARS)}: {dtype}"
        for label, dtype in zip(head.columns, head.dtypes, strict=True)
    ]
    if columns > len(described):
        described.append(f"{ELLIPSIS} (+{columns - len(described)} more)")
    first_rows = _preview_json(_frame_body(head)[1], FRAME_ROWS_PREVIEW_CHARS)
    return (
        f"DataFrame ({rows} rows x {columns} columns): columns [{', '.join(described)}]; "
        f"first rows: {first_rows}"
    )


def _summarise_series(series: pd.Series) -> str:
    head = map(_cell, series.iloc[:PREVIEW_ITEMS])
    preview = ",".join(_preview_json(item, PREVIEW_ITEM_CHARS) for item in head)
    name = "" if series.name is None else f" '{_clip(_key_text(series.name), KEY_NAME_CHARS)}'"
    return f"Series{name} ({len(series)} values, {series.dtype}): first values: [{preview}]"


def _summarise_bytes(value: bytes | bytearray | memoryview) -> str:
    data = _byte_view(value)
    size = data.nbytes
    if _BYTES_JSON_OVERHEAD + 4 * ((size + 2) // 3) < SMALL_LIMIT_BYTES:
        return f"Bytes ({size} bytes): {data.hex()}"
    return f"Bytes ({size} bytes): {data[:BYTES_PREVIEW].hex()}..."


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + ELLIPSIS


__all__ = [
    "BYTES_PREVIEW",
    "ELLIPSIS",
    "FRAME_ROWS_PREVIEW_CHARS",
    "KEY_NAME_CHARS",
    "MAX_FRAME_COLUMNS",
    "MAX_KEY_NAMES",
    "PREVIEW_ITEMS",
    "PREVIEW_ITEM_CHARS",
    "SMALL_LIMIT_BYTES",
    "TEXT_PREVIEW_CHARS",
    "describe_type",
    "from_jsonable",
    "is_small",
    "json_size_upto",
    "summarise",
    "to_jsonable",
]
