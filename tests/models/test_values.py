"""The value-representation summariser: seed 004 section 7 at its boundaries, and bounded work."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hopflow.models.values import (
    PREVIEW_ITEM_CHARS,
    SMALL_LIMIT_BYTES,
    describe_type,
    from_jsonable,
    is_small,
    json_size_upto,
    summarise,
    to_jsonable,
)
from pydantic import BaseModel


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def utf8(text: str) -> int:
    return len(text.encode("utf-8"))


# --- helpers that count what the summariser touches ---------------------------------------------
class CountingList(list[Any]):
    """A list that counts every element handed out, by iteration or indexing."""

    touched = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            self.touched += 1
            yield item

    def __getitem__(self, index: Any) -> Any:
        result = super().__getitem__(index)
        self.touched += len(result) if isinstance(index, slice) else 1
        return result


class CountingDict(dict[Any, Any]):
    """A dict that counts every key (or item) handed out, whichever way it is walked."""

    touched = 0

    def _count(self, items: Any) -> Iterator[Any]:
        for item in items:
            self.touched += 1
            yield item

    def __iter__(self) -> Iterator[Any]:
        return self._count(super().__iter__())

    def keys(self) -> Any:
        return self._count(super().keys())

    def values(self) -> Any:
        return self._count(super().values())

    def items(self) -> Any:
        return self._count(super().items())


class WatchedStr(str):
    """A str that records every slice taken of it and refuses whole-string work."""

    slices: list[Any]

    def __new__(cls, value: str) -> WatchedStr:
        obj = super().__new__(cls, value)
        obj.slices = []
        return obj

    def __getitem__(self, index: Any) -> str:
        self.slices.append(index)
        return str.__getitem__(self, index)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the summariser iterated the whole string")

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("the summariser encoded the whole string")


# --- text ---------------------------------------------------------------------------------------
def test_text_of_1023_bytes_is_its_own_summary() -> None:
    text = "a" * 1023
    assert summarise(text) == text
    assert is_small(text)


def test_text_of_exactly_1024_bytes_is_summarised() -> None:
    text = "a" * 1024
    assert summarise(text) == "Text (1024 chars): " + "a" * 150 + "..."
    assert not is_small(text)


def test_text_of_1025_bytes_is_summarised() -> None:
    assert summarise("a" * 1025) == "Text (1025 chars): " + "a" * 150 + "..."


def test_text_is_measured_in_utf8_bytes_not_characters() -> None:
    under = "é" * 511 + "a"  # 512 chars, 1023 bytes
    at = "é" * 512  # 512 chars, 1024 bytes
    assert utf8(under) == 1023 and utf8(at) == 1024
    assert summarise(under) == under
    assert summarise(at) == "Text (512 chars): " + "é" * 150 + "..."


def test_four_byte_character_straddling_the_limit_makes_text_large() -> None:
    fits = "a" * 1019 + "😀"  # 1023 bytes
    straddles = "a" * 1020 + "😀"  # 1021 chars but 1024 bytes
    assert summarise(fits) == fits
    assert summarise(straddles) == "Text (1021 chars): " + "a" * 150 + "..."


def test_text_count_is_in_characters_even_when_bytes_decided() -> None:
    text = "日本" * 600  # 1200 chars, 3600 bytes
    assert summarise(text).startswith("Text (1200 chars): 日本日本")


def test_large_text_preview_is_exactly_the_first_150_characters() -> None:
    text = "a" * 149 + "Z" + "b" + "c" * 2000  # char 150 is Z, char 151 is b
    summary = summarise(text)
    assert summary == f"Text ({len(text)} chars): " + "a" * 149 + "Z..."
    assert "b" not in summary


def test_large_text_preview_keeps_multibyte_characters_whole() -> None:
    assert summarise("é" * 600) == "Text (600 chars): " + "é" * 150 + "..."


def test_text_is_measured_raw_not_json_escaped() -> None:
    quotes = '"' * 1023  # 1023 bytes raw, over 2 KB as JSON
    assert summarise(quotes) == quotes
    assert is_small(quotes)


def test_small_text_summary_is_a_plain_str() -> None:
    summary = summarise(WatchedStr("hello"))
    assert summary == "hello"
    assert type(summary) is str


# --- arrays -------------------------------------------------------------------------------------
def test_list_whose_json_is_1023_bytes_is_its_own_summary() -> None:
    value = ["x" * 1019]
    assert len(compact(value)) == 1023
    assert summarise(value) == compact(value)


def test_list_whose_json_is_exactly_1024_bytes_is_summarised() -> None:
    value = ["x" * 1020]
    assert len(compact(value)) == 1024
    assert summarise(value) == 'Array of 1 items, preview: ["' + "x" * (PREVIEW_ITEM_CHARS - 1) + "…]"


def test_list_json_counts_utf8_bytes_and_escapes() -> None:
    assert summarise(["é" * 509]) == compact(["é" * 509])  # 1022 bytes
    assert summarise(["é" * 510]).startswith("Array of 1 items")  # 1024 bytes
    assert summarise(['"' * 509]) == compact(['"' * 509])  # each quote escapes to 2 bytes: 1022
    assert summarise(['"' * 510]).startswith("Array of 1 items")  # 1024 bytes


def test_large_list_shows_count_and_first_three_items() -> None:
    assert summarise(list(range(1, 5001))) == "Array of 5000 items, preview: [1,2,3]"


def test_large_tuple_reads_like_a_list() -> None:
    assert summarise(tuple(range(1, 5001))) == "Array of 5000 items, preview: [1,2,3]"


def test_large_list_preview_cuts_a_huge_item_with_an_ellipsis() -> None:
    summary = summarise(["x" * 1_000_000, 1, 2])
    assert summary == 'Array of 3 items, preview: ["' + "x" * (PREVIEW_ITEM_CHARS - 1) + "…,1,2]"


def test_large_list_of_nested_objects_previews_their_json() -> None:
    value = [{"id": i, "tags": ["x", "y"]} for i in range(1000)]
    assert summarise(value) == (
        'Array of 1000 items, preview: [{"id":0,"tags":["x","y"]},{"id":1,"tags":["x","y"]},'
        '{"id":2,"tags":["x","y"]}]'
    )


def test_large_list_of_fewer_than_three_items_previews_what_there_is() -> None:
    item = [0] * 2000
    assert summarise([item]) == f"Array of 1 items, preview: [{compact(item)[:PREVIEW_ITEM_CHARS]}…]"


def test_numpy_array_reads_like_a_list() -> None:
    assert summarise(np.arange(10_000)) == "Array of 10000 items, preview: [0,1,2]"
    assert summarise(np.arange(3)) == "[0,1,2]"


# --- objects ------------------------------------------------------------------------------------
def test_dict_whose_json_is_1023_bytes_is_its_own_summary() -> None:
    value = {"a": "x" * 1015}
    assert len(compact(value)) == 1023
    assert summarise(value) == compact(value)


def test_dict_whose_json_is_1024_or_1025_bytes_is_summarised() -> None:
    assert summarise({"a": "x" * 1016}) == "Object with 1 fields: [a]"
    assert summarise({"a": "x" * 1017}) == "Object with 1 fields: [a]"


def test_large_dict_lists_its_key_names_in_order() -> None:
    assert summarise({"a": 1, "b": 2, "c": "x" * 2000}) == "Object with 3 fields: [a, b, c]"


def test_large_dict_lists_at_most_fifty_key_names() -> None:
    fifty = {f"key{i:02d}": "x" * 30 for i in range(50)}
    fifty_one = {**fifty, "key50": "x" * 30}
    names = ", ".join(f"key{i:02d}" for i in range(50))
    assert summarise(fifty) == f"Object with 50 fields: [{names}]"
    assert summarise(fifty_one) == f"Object with 51 fields: [{names}, … (+1 more)]"


def test_huge_dict_names_fifty_keys_and_counts_the_rest() -> None:
    value = {f"k{i}": i for i in range(100_000)}
    names = ", ".join(f"k{i}" for i in range(50))
    assert summarise(value) == f"Object with 100000 fields: [{names}, … (+99950 more)]"


def test_long_key_names_are_clipped() -> None:
    summary = summarise({"k" * 5000: 1})
    assert summary == "Object with 1 fields: [" + "k" * 64 + "…]"


def test_non_string_keys_read_as_json_writes_them() -> None:
    value = {1: "a", None: "b", False: "c", 2.5: "d"}
    assert summarise(value) == compact(value) == '{"1":"a","null":"b","false":"c","2.5":"d"}'


def test_nested_small_structure_is_compact_json() -> None:
    value = {"a": {"b": [1, {"c": None, "d": 1.5, "e": "é"}]}, "f": (True, False)}
    assert summarise(value) == '{"a":{"b":[1,{"c":null,"d":1.5,"e":"é"}]},"f":[true,false]}'


def test_small_plain_json_summary_matches_compact_json_dumps() -> None:
    for value in (
        [1, -2.5, 'x\n"y"', None, True, {"k": []}],
        {"ü": "日本", "n": [1e300, -0.0, 3]},
        [float("nan"), float("inf"), float("-inf")],
    ):
        assert summarise(value) == compact(value)


def test_pydantic_model_is_summarised_from_its_fields_without_dumping() -> None:
    class Result(BaseModel):
        name: str
        items: list[int]

        def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise AssertionError("model_dump copies the whole model")

    assert summarise(Result(name="r", items=[1, 2])) == '{"name":"r","items":[1,2]}'
    assert summarise(Result(name="r", items=list(range(100_000)))) == "Object with 2 fields: [name, items]"


def test_dataclass_is_summarised_from_its_fields() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        label: str

    assert summarise(Point(1, "p")) == '{"x":1,"label":"p"}'
    assert summarise(Point(1, "p" * 2000)) == "Object with 2 fields: [x, label]"


# --- empty values and scalars -------------------------------------------------------------------
def test_empty_values_are_their_own_summary() -> None:
    assert summarise("") == ""
    assert summarise([]) == "[]"
    assert summarise(()) == "[]"
    assert summarise({}) == "{}"


def test_scalars_are_their_json() -> None:
    assert summarise(0) == "0"
    assert summarise(-1.5) == "-1.5"
    assert summarise(True) == "true"
    assert summarise(False) == "false"
    assert summarise(None) == "null"
    assert summarise(np.int64(7)) == "7"
    assert summarise(np.bool_(True)) == "true"


def test_huge_integer_is_summarised_by_its_digits() -> None:
    assert summarise(10**1022) == "1" + "0" * 1022
    assert summarise(-(10**1023)) == "Number (1024 digits): -1" + "0" * 148 + "..."
    assert summarise(10**2000) == "Number (2001 digits): 1" + "0" * 149 + "..."
    assert summarise(10**5000) == "Number (16610 bits)"
    assert not is_small(10**5000) and not is_small(10**1023) and is_small(10**1022)


def test_text_like_values_read_as_their_text() -> None:
    assert summarise(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert summarise(Decimal("1.10")) == "1.10"


def test_other_objects_read_as_their_type_without_calling_str() -> None:
    class Opaque:
        def __str__(self) -> str:
            raise AssertionError("str() of an unknown object may cost anything")

        __repr__ = __str__

    assert summarise(Opaque()) == "<Opaque object>"
    assert summarise([Opaque()]) == '["<Opaque object>"]'


# --- DataFrame, Series, bytes -------------------------------------------------------------------
def test_small_dataframe_gets_the_shaped_form() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    b_dtype = frame.dtypes["b"]
    assert summarise(frame) == (
        f"DataFrame (2 rows x 2 columns): columns [a: int64, b: {b_dtype}]; "
        'first rows: [{"a":1,"b":"x"},{"a":2,"b":"y"}]'
    )


def test_dataframe_shows_only_the_first_three_rows_and_nulls_for_missing() -> None:
    frame = pd.DataFrame({"a": [1.5, None, 3.0, 4.0] * 50_000})
    assert summarise(frame) == (
        "DataFrame (200000 rows x 1 columns): columns [a: float64]; "
        'first rows: [{"a":1.5},{"a":null},{"a":3.0}]'
    )


def test_wide_dataframe_lists_twenty_columns_then_counts_the_rest() -> None:
    frame = pd.DataFrame([list(range(25))], columns=[f"c{i}" for i in range(25)])
    summary = summarise(frame)
    listed = ", ".join(f"c{i}: int64" for i in range(20))
    assert summary.startswith(f"DataFrame (1 rows x 25 columns): columns [{listed}, … (+5 more)]; ")
    assert '"c19":19}]' in summary and "c20" not in summary.split("first rows")[1]


def test_dataframe_with_a_huge_cell_stays_short() -> None:
    frame = pd.DataFrame({"text": ["x" * 1_000_000, "y"]})
    summary = summarise(frame)
    assert len(summary) < 1000
    assert summary.endswith("…")


def test_series_shows_name_count_dtype_and_first_values() -> None:
    assert summarise(pd.Series([1.5, None, 3.0, 4.0], name="v")) == (
        "Series 'v' (4 values, float64): first values: [1.5,null,3.0]"
    )
    assert summarise(pd.Series([1, 2])) == "Series (2 values, int64): first values: [1,2]"


def test_small_bytes_show_all_their_hex() -> None:
    assert summarise(b"\x00\xffab") == "Bytes (4 bytes): 00ff6162"
    assert summarise(bytearray(b"\x01")) == "Bytes (1 bytes): 01"
    assert summarise(memoryview(b"\x02\x03")) == "Bytes (2 bytes): 0203"
    assert summarise(b"") == "Bytes (0 bytes): "


def test_bytes_are_small_while_their_base64_json_is_under_the_limit() -> None:
    # {"__kind__":"bytes","base64":"..."}: 32 bytes + 4 per 3 bytes of data
    assert json_size_upto(b"x" * 741, 10_000) == 1020
    assert json_size_upto(b"x" * 742, 10_000) == 1024
    assert is_small(b"x" * 741) and summarise(b"x" * 741) == "Bytes (741 bytes): " + "78" * 741
    assert not is_small(b"x" * 742)
    assert summarise(b"x" * 742) == "Bytes (742 bytes): " + "78" * 32 + "..."


def test_large_bytes_show_the_first_32_bytes() -> None:
    data = bytes(range(256)) * 4000
    assert summarise(data) == f"Bytes ({len(data)} bytes): {bytes(range(32)).hex()}..."


# --- bounded work, proven by counting -----------------------------------------------------------
def test_summarising_a_million_item_list_touches_a_few_hundred_items() -> None:
    value = CountingList(range(1_000_000))
    assert summarise(value) == "Array of 1000000 items, preview: [0,1,2]"
    assert value.touched <= 400


def test_summarising_a_million_key_dict_touches_a_few_hundred_keys() -> None:
    value = CountingDict((f"key{i}", i) for i in range(1_000_000))
    summary = summarise(value)
    assert summary.startswith("Object with 1000000 fields: [key0, key1, ")
    assert summary.endswith(", key49, … (+999950 more)]")
    assert value.touched <= 400


def test_summarising_huge_text_slices_only_its_preview() -> None:
    text = WatchedStr("x" * 10_000_000)
    assert summarise(text) == "Text (10000000 chars): " + "x" * 150 + "..."
    assert text.slices == [slice(None, 150)]
    assert not is_small(text)


def test_measuring_huge_nested_text_reads_only_a_few_slices() -> None:
    text = WatchedStr("é" * 10_000_000)
    assert json_size_upto([text], SMALL_LIMIT_BYTES) is None
    assert summarise({"body": text}) == "Object with 1 fields: [body]"
    assert len(text.slices) <= 10


def test_deep_nesting_neither_recurses_nor_walks_everything() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    assert summarise(value) == "Array of 1 items, preview: [" + "[" * PREVIEW_ITEM_CHARS + "…]"


def test_size_walk_stops_at_the_limit() -> None:
    value = CountingList(["abc"] * 1_000_000)
    assert json_size_upto(value, 100) is None
    assert value.touched <= 20


# --- measurement agrees with storage ------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True], "é": '日本\n"q"'},
        [b"\x00\x01", {"when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}],
        pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [0.5, float("nan")]}),
        pd.Series([1, 2, 3], name="s"),
        b"y" * 2000,
    ],
    ids=["nested", "bytes-and-datetime", "frame", "series", "bytes"],
)
def test_json_size_is_the_size_of_the_stored_json(value: object) -> None:
    stored = json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    size = len(stored.encode("utf-8"))
    assert json_size_upto(value, 10**6) == size
    assert json_size_upto(value, size) == size
    assert json_size_upto(value, size - 1) is None


@pytest.mark.parametrize(
    "value",
    [
        "a" * 1023,
        "a" * 1024,
        ["x" * 1019],
        ["x" * 1020],
        {"a": "x" * 1015},
        {"a": "x" * 1016},
        10**1100,
        5,
    ],
)
def test_is_small_agrees_with_the_summary_form(value: object) -> None:
    full = value if isinstance(value, str) else compact(value)
    assert is_small(value) == (summarise(value) == full)


def test_is_small_honours_a_custom_limit() -> None:
    assert is_small([1, 2, 3], limit=8)  # "[1,2,3]" is 7 bytes
    assert not is_small([1, 2, 3], limit=7)
    assert is_small("abc", limit=4) and not is_small("abcd", limit=4)


# --- describe_type ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "asset_type"),
    [
        ("x", "text"),
        (3, "number"),
        (2.5, "number"),
        (np.float32(1.0), "number"),
        (Decimal("1.5"), "number"),
        (True, "boolean"),
        (np.bool_(False), "boolean"),
        ({"a": 1}, "json"),
        ([1], "json"),
        ((1,), "json"),
        (None, "json"),
        (pd.DataFrame({"a": [1]}), "table"),
        (pd.Series([1]), "series"),
        (b"x", "bytes"),
        (bytearray(b"x"), "bytes"),
        (dt.date(2024, 1, 1), "text"),
    ],
)
def test_describe_type_names_the_asset_type(value: object, asset_type: str) -> None:
    assert describe_type(value) == asset_type


# --- to_jsonable / from_jsonable ----------------------------------------------------------------
def through_json(value: object) -> Any:
    return from_jsonable(json.loads(json.dumps(to_jsonable(value))))


def test_dataframe_round_trip_keeps_column_order_and_values() -> None:
    frame = pd.DataFrame(
        {
            "b": [1, 2, 3],
            "a": ["x", None, "z"],
            "c": [0.5, float("nan"), 2.0],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "u": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-03 23:59"], utc=True),
        }
    )
    back = through_json(frame)
    assert list(back.columns) == ["b", "a", "c", "t", "u"]
    pd.testing.assert_frame_equal(back, frame)


def test_dataframe_encoding_is_records_with_columns_and_dtypes() -> None:
    encoded = to_jsonable(pd.DataFrame({"a": [1, 2], "b": [0.5, None]}))
    assert encoded == {
        "__kind__": "table",
        "columns": ["a", "b"],
        "dtypes": ["int64", "float64"],
        "records": [{"a": 1, "b": 0.5}, {"a": 2, "b": None}],
    }


def test_dataframe_round_trip_ignores_record_key_order() -> None:
    # PostgreSQL jsonb does not keep key order
    encoded = json.loads(json.dumps(to_jsonable(pd.DataFrame({"zz": [1], "a": [2]}))))
    encoded["records"] = [dict(reversed(record.items())) for record in encoded["records"]]
    back = from_jsonable(encoded)
    assert list(back.columns) == ["zz", "a"]
    assert back.iloc[0].tolist() == [1, 2]


def test_dataframe_round_trip_with_non_string_and_duplicate_labels() -> None:
    numbered = pd.DataFrame([[1, 2]], columns=[0, 1])
    pd.testing.assert_frame_equal(through_json(numbered), numbered)
    duplicated = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    assert "rows" in to_jsonable(duplicated)
    pd.testing.assert_frame_equal(through_json(duplicated), duplicated)


def test_empty_dataframe_round_trip_keeps_columns() -> None:
    frame = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="float64")})
    pd.testing.assert_frame_equal(through_json(frame), frame)


def test_series_round_trip_keeps_name_values_and_dtype() -> None:
    series = pd.Series([1, 2, 3], name="n")
    pd.testing.assert_series_equal(through_json(series), series)
    assert to_jsonable(series) == {"__kind__": "series", "name": "n", "dtype": "int64", "values": [1, 2, 3]}


def test_bytes_round_trip_through_base64() -> None:
    assert to_jsonable(b"hi") == {"__kind__": "bytes", "base64": "aGk="}
    assert through_json(b"\x00\xff" * 100) == b"\x00\xff" * 100
    assert through_json(bytearray(b"ab")) == b"ab"


def test_nested_encodings_round_trip_inside_plain_data() -> None:
    value = {"frame": pd.DataFrame({"a": [1]}), "blobs": [b"x"], "n": 1}
    back = through_json(value)
    pd.testing.assert_frame_equal(back["frame"], value["frame"])
    assert back["blobs"] == [b"x"] and back["n"] == 1


def test_to_jsonable_converts_dates_models_tuples_and_keys() -> None:
    class Item(BaseModel):
        when: dt.date
        tags: tuple[str, ...]

    value = {
        "at": dt.datetime(2024, 5, 6, 7, 8, 9),
        "item": Item(when=dt.date(2024, 1, 2), tags=("a",)),
        "pair": (1, 2),
        3: np.int64(4),
    }
    assert to_jsonable(value) == {
        "at": "2024-05-06T07:08:09",
        "item": {"when": "2024-01-02", "tags": ["a"]},
        "pair": [1, 2],
        "3": 4,
    }
    json.dumps(to_jsonable(value))


def test_from_jsonable_leaves_plain_data_alone() -> None:
    value = {"a": [1, {"b": None}], "c": "text"}
    assert from_jsonable(value) == value


def test_empty_series_round_trip_keeps_its_dtype() -> None:
    series = pd.Series([], dtype="float64", name="e")
    pd.testing.assert_series_equal(through_json(series), series)
