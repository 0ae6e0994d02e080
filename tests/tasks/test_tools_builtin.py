"""The built-in tools, run through the registry with real files, frames and a real local HTTP server."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from hopflow.models.settings import Settings
from hopflow.tasks.llm import OfflineProvider, count_tokens
from hopflow.tasks.tools import ToolContext, get_tool
from hopflow.tasks.tools.tables import MissingColumnError
from pydantic import BaseModel, ValidationError


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    settings = Settings(uploads=tmp_path / "uploads", data=tmp_path / "data", llm_provider="offline")
    settings.uploads.mkdir()
    settings.data.mkdir()
    return ToolContext.from_settings(settings, mission_id="m-1", tool_step_id="step-1")


def run(tool_id: str, ctx: ToolContext, **params: Any) -> Any:
    return get_tool(tool_id).run(params, ctx)


# --- files ---------------------------------------------------------------------------------------


def test_files_write_then_read_round_trips_inside_uploads(ctx: ToolContext) -> None:
    written = run("files.write", ctx, path="notes/today.txt", content="héllo\nworld")
    assert written.path == "notes/today.txt"
    assert written.bytes_written == len("héllo\nworld".encode())
    assert (ctx.uploads / "notes" / "today.txt").read_text(encoding="utf-8") == "héllo\nworld"
    assert run("files.read", ctx, path="notes/today.txt").text == "héllo\nworld"


def test_files_write_refuses_to_overwrite_when_asked_not_to(ctx: ToolContext) -> None:
    run("files.write", ctx, path="a.txt", content="one")
    with pytest.raises(FileExistsError, match=r"a\.txt"):
        run("files.write", ctx, path="a.txt", content="two", overwrite=False)
    assert run("files.read", ctx, path="a.txt").text == "one"


@pytest.mark.parametrize("tool_id", ["files.read", "files.write"])
@pytest.mark.parametrize("path", ["../outside.txt", "sub/../../outside.txt", "sub/../.."])
def test_file_tools_refuse_paths_escaping_uploads(ctx: ToolContext, tool_id: str, path: str) -> None:
    (ctx.uploads.parent / "outside.txt").write_text("secret")
    params = {"path": path, "content": "x"} if tool_id == "files.write" else {"path": path}
    with pytest.raises(ValueError, match="resolves outside the uploads dir") as caught:
        get_tool(tool_id).run(params, ctx)
    assert repr(path) in str(caught.value)
    assert str(ctx.uploads.resolve()) in str(caught.value)
    assert (ctx.uploads.parent / "outside.txt").read_text() == "secret"


@pytest.mark.parametrize("tool_id", ["files.read", "files.write", "table.read"])
def test_path_tools_refuse_absolute_paths(ctx: ToolContext, tool_id: str) -> None:
    target = ctx.uploads / "a.csv"
    target.write_text("x\n1\n")
    params = {"path": str(target), "content": "x"} if tool_id == "files.write" else {"path": str(target)}
    with pytest.raises(ValueError, match=r"is absolute; give a path relative to the uploads dir"):
        get_tool(tool_id).run(params, ctx)


def test_file_tools_refuse_symlinks_leaving_uploads(ctx: ToolContext) -> None:
    (ctx.uploads.parent / "outside.txt").write_text("secret")
    (ctx.uploads / "link.txt").symlink_to(ctx.uploads.parent / "outside.txt")
    with pytest.raises(ValueError, match=r"'link\.txt' resolves outside the uploads dir"):
        run("files.read", ctx, path="link.txt")


# --- http ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self._send(404, b"no such page")
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/hello")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"path": self.path, "x_test": self.headers.get("X-Test")}).encode()
        self._send(200, body, {"Content-Type": "application/json", "X-Served-By": "test"})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_get_returns_status_text_and_headers(ctx: ToolContext, server_url: str) -> None:
    result = run("http.get", ctx, url=f"{server_url}/hello", headers={"X-Test": "yes"}, timeout=5)
    assert result.status_code == 200
    assert json.loads(result.text) == {"path": "/hello", "x_test": "yes"}
    assert result.headers["x-served-by"] == "test"


def test_http_get_follows_redirects(ctx: ToolContext, server_url: str) -> None:
    result = run("http.get", ctx, url=f"{server_url}/redirect")
    assert json.loads(result.text)["path"] == "/hello"


def test_http_get_raises_on_error_status_unless_told_not_to(ctx: ToolContext, server_url: str) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        run("http.get", ctx, url=f"{server_url}/missing")
    result = run("http.get", ctx, url=f"{server_url}/missing", raise_for_status=False)
    assert (result.status_code, result.text) == (404, "no such page")


def test_http_get_raises_on_network_errors_and_is_retried(ctx: ToolContext) -> None:
    # A port that was free a moment ago: nothing listens there, so the connection is refused.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()
    with pytest.raises(httpx.ConnectError):
        run("http.get", ctx, url=f"http://127.0.0.1:{port}/", timeout=2)
    assert get_tool("http.get").retries == 2


def test_http_get_refuses_non_http_urls(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="must be http:// or https://"):
        run("http.get", ctx, url="file:///etc/passwd")


# --- text ----------------------------------------------------------------------------------------


def test_text_extract_returns_matches_or_a_group(ctx: ToolContext) -> None:
    text = "order 12 shipped, order 7 pending, ORDER 99 lost"
    assert run("text.extract", ctx, text=text, pattern=r"\d+").matches == ["12", "7", "99"]
    assert run("text.extract", ctx, text=text, pattern=r"order (\d+)", group=1).matches == ["12", "7"]
    named = run("text.extract", ctx, text=text, pattern=r"order (?P<n>\d+)", group="n", ignore_case=True)
    assert named.matches == ["12", "7", "99"]


def test_text_extract_refuses_bad_patterns_and_groups(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        run("text.extract", ctx, text="x", pattern="(")
    with pytest.raises(ValueError, match="group 2 does not exist"):
        run("text.extract", ctx, text="x", pattern="(x)", group=2)
    with pytest.raises(ValueError, match="no group named 'nope'"):
        run("text.extract", ctx, text="x", pattern="(x)", group="nope")


def test_text_split_on_a_separator(ctx: ToolContext) -> None:
    assert run("text.split", ctx, text="a,b,,c", separator=",").parts == ["a", "b", "", "c"]
    assert run("text.split", ctx, text="a,b,,c", separator=",", drop_empty=True).parts == ["a", "b", "c"]


def test_text_split_into_chunks_keeps_words_whole_and_loses_nothing(ctx: ToolContext) -> None:
    text = "the quick brown fox jumps over the lazy dog " * 5 + "supercalifragilistic"
    parts = run("text.split", ctx, text=text, max_chars=12).parts
    assert "".join(parts) == text
    assert all(len(part) <= 12 for part in parts)
    assert parts[0] == "the quick "
    assert parts[-2:] == ["supercalifra", "gilistic"]  # a word longer than a chunk is cut hard


def test_text_split_needs_exactly_one_mode(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="exactly one of separator or max_chars"):
        run("text.split", ctx, text="abc")
    with pytest.raises(ValidationError, match="exactly one of separator or max_chars"):
        run("text.split", ctx, text="abc", separator=",", max_chars=2)


def test_text_count_counts_chars_words_and_lines(ctx: ToolContext) -> None:
    result = run("text.count", ctx, text="one two\nthree\n\nfour")
    assert (result.chars, result.words, result.lines) == (19, 4, 4)
    empty = run("text.count", ctx, text="")
    assert (empty.chars, empty.words, empty.lines) == (0, 0, 0)


# --- tables --------------------------------------------------------------------------------------


@pytest.fixture
def sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": ["EU", "US", "EU", "APAC", "US"],
            "product": ["a", "a", "b", "b", "b"],
            "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json", ".jsonl"])
def test_table_read_infers_the_format_from_the_suffix(
    ctx: ToolContext, sales: pd.DataFrame, suffix: str
) -> None:
    target = ctx.uploads / "data" / f"sales{suffix}"
    target.parent.mkdir()
    if suffix == ".csv":
        sales.to_csv(target, index=False)
    elif suffix == ".parquet":
        sales.to_parquet(target, index=False)
    else:
        sales.to_json(target, orient="records", lines=suffix == ".jsonl")
    table = run("table.read", ctx, path=f"data/sales{suffix}").table
    pd.testing.assert_frame_equal(table, sales, check_dtype=False)


def test_table_read_takes_an_explicit_format(ctx: ToolContext, sales: pd.DataFrame) -> None:
    sales.to_csv(ctx.uploads / "sales.txt", index=False)
    table = run("table.read", ctx, path="sales.txt", format="csv").table
    assert list(table.columns) == ["region", "product", "amount"]
    with pytest.raises(ValueError, match=r"cannot infer the table format of 'sales\.txt'"):
        run("table.read", ctx, path="sales.txt")


def test_table_read_refuses_paths_escaping_uploads(ctx: ToolContext) -> None:
    with pytest.raises(ValueError, match="resolves outside the uploads dir"):
        run("table.read", ctx, path="../x.csv")


def test_table_read_names_a_missing_file(ctx: ToolContext) -> None:
    with pytest.raises(FileNotFoundError, match=r"'nope\.csv' is not a file"):
        run("table.read", ctx, path="nope.csv")


def test_table_query_filters_rows_and_renumbers(ctx: ToolContext, sales: pd.DataFrame) -> None:
    table = run("table.query", ctx, table=sales, expr="amount > 15 and region == 'US'").table
    assert table["amount"].tolist() == [20.0, 50.0]
    assert table.index.tolist() == [0, 1]
    assert len(sales) == 5  # the input frame is untouched


def test_table_query_names_a_missing_column(ctx: ToolContext, sales: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError, match="column 'price' is not in the table") as caught:
        run("table.query", ctx, table=sales, expr="price > 1")
    assert isinstance(caught.value, KeyError)
    assert "region, product, amount" in str(caught.value)


@pytest.mark.parametrize("expr", ["amount > @limit", "region.__class__ == 1"])
def test_table_query_refuses_variables_and_dunders(ctx: ToolContext, sales: pd.DataFrame, expr: str) -> None:
    with pytest.raises(ValidationError, match="refer to columns only"):
        run("table.query", ctx, table=sales, expr=expr)


def test_table_query_cannot_reach_module_globals(ctx: ToolContext, sales: pd.DataFrame) -> None:
    # tables.py imports pandas as pd; an expression must not be able to reach it.
    with pytest.raises(MissingColumnError, match="column 'pd'"):
        run("table.query", ctx, table=sales, expr="pd.read_csv('x') == 1")


def test_table_aggregate_groups_and_resets_the_index(ctx: ToolContext, sales: pd.DataFrame) -> None:
    table = run(
        "table.aggregate",
        ctx,
        table=sales,
        by=["region"],
        aggregations={"amount": "sum", "product": "nunique"},
    ).table
    assert table.to_dict("records") == [
        {"region": "APAC", "amount": 40.0, "product": 1},
        {"region": "EU", "amount": 40.0, "product": 2},
        {"region": "US", "amount": 70.0, "product": 2},
    ]


def test_table_aggregate_without_groups_gives_one_row(ctx: ToolContext, sales: pd.DataFrame) -> None:
    table = run("table.aggregate", ctx, table=sales, aggregations={"amount": "mean", "region": "count"}).table
    assert table.to_dict("records") == [{"amount": 30.0, "region": 5}]


@pytest.mark.parametrize("func", ["eval", "apply", "lambda x: x", "__import__"])
def test_table_aggregate_refuses_functions_off_the_allow_list(
    ctx: ToolContext, sales: pd.DataFrame, func: str
) -> None:
    with pytest.raises(ValidationError, match=f"aggregation '{func}' for column 'amount' is not allowed"):
        run("table.aggregate", ctx, table=sales, aggregations={"amount": func})


def test_table_aggregate_names_a_missing_column(ctx: ToolContext, sales: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError, match="column 'country' is not in the table"):
        run("table.aggregate", ctx, table=sales, by=["country"], aggregations={"amount": "sum"})
    with pytest.raises(MissingColumnError, match="column 'price' is not in the table"):
        run("table.aggregate", ctx, table=sales, aggregations={"price": "sum"})


def test_table_join_merges_on_keys_with_the_chosen_how(ctx: ToolContext, sales: pd.DataFrame) -> None:
    regions = pd.DataFrame({"region": ["EU", "US", "LATAM"], "manager": ["Ana", "Bo", "Cy"]})
    inner = run("table.join", ctx, left=sales, right=regions, on="region").table
    assert sorted(inner["manager"].tolist()) == ["Ana", "Ana", "Bo", "Bo"]
    outer = run("table.join", ctx, left=sales, right=regions, on=["region"], how="outer").table
    assert set(outer["region"]) == {"EU", "US", "APAC", "LATAM"}
    assert len(outer) == 6


def test_table_join_suffixes_clashing_columns(ctx: ToolContext, sales: pd.DataFrame) -> None:
    other = pd.DataFrame({"region": ["EU"], "amount": [1.0]})
    joined = run("table.join", ctx, left=sales, right=other, on="region").table
    assert {"amount_left", "amount_right"} <= set(joined.columns)


def test_table_join_names_the_side_missing_a_key(ctx: ToolContext, sales: pd.DataFrame) -> None:
    other = pd.DataFrame({"area": ["EU"]})
    with pytest.raises(MissingColumnError, match="column 'region' is not in the right table"):
        run("table.join", ctx, left=sales, right=other, on="region")
    with pytest.raises(ValidationError):
        run("table.join", ctx, left=sales, right=other, on="region", how="cross")


def test_table_describe_puts_stat_names_in_a_column(ctx: ToolContext, sales: pd.DataFrame) -> None:
    table = run("table.describe", ctx, table=sales).table
    assert table["stat"].tolist() == ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    stats = dict(zip(table["stat"], table["amount"], strict=True))
    assert (stats["count"], stats["mean"], stats["max"]) == (5, 30.0, 50.0)


def test_table_head_returns_the_first_rows(ctx: ToolContext, sales: pd.DataFrame) -> None:
    assert run("table.head", ctx, table=sales, n=2).table["amount"].tolist() == [10.0, 20.0]


def test_table_tools_refuse_non_frames(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="DataFrame"):
        run("table.head", ctx, table=[{"a": 1}])


def test_table_outputs_are_annotated_as_dataframes() -> None:
    for tool_id in (
        "table.read",
        "table.query",
        "table.aggregate",
        "table.join",
        "table.describe",
        "table.head",
    ):
        assert get_tool(tool_id).output_fields() == {"table": pd.DataFrame}


# --- json ----------------------------------------------------------------------------------------

DOC = {"a": {"b": [{"c": 1}, {"c": 2, "d.e": "dotted"}]}, "list": [10, 20, 30]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b[0].c", 1),
        ("a.b[1].c", 2),
        ("a.b[-1].c", 2),
        ('a.b[1]["d.e"]', "dotted"),
        ("list[2]", 30),
        ("a", DOC["a"]),
        ("", DOC),
    ],
)
def test_json_select_follows_the_path(ctx: ToolContext, path: str, expected: Any) -> None:
    assert run("json.select", ctx, data=DOC, path=path).value == expected


def test_json_select_names_the_missing_key_and_where(ctx: ToolContext) -> None:
    with pytest.raises(KeyError, match=r"key 'x' not found at a\.b\[0\] \(keys: c\)"):
        run("json.select", ctx, data=DOC, path="a.b[0].x")
    with pytest.raises(KeyError, match=r"key 'nope' not found at \(root\)"):
        run("json.select", ctx, data=DOC, path="nope.c")


def test_json_select_names_bad_indexes_and_types(ctx: ToolContext) -> None:
    with pytest.raises(IndexError, match=r"index \[5\] is out of range at a\.b \(length 2\)"):
        run("json.select", ctx, data=DOC, path="a.b[5]")
    with pytest.raises(TypeError, match=r"\[0\] indexes a, which is dict"):
        run("json.select", ctx, data=DOC, path="a[0]")
    with pytest.raises(TypeError, match=r"key 'x' looked up in list\[0\], which is int"):
        run("json.select", ctx, data=DOC, path="list[0].x")


@pytest.mark.parametrize("path", ["a..b", "a[0]b", "a[", "a.", "a[x]"])
def test_json_select_refuses_malformed_paths(ctx: ToolContext, path: str) -> None:
    with pytest.raises(ValidationError, match="is malformed"):
        run("json.select", ctx, data=DOC, path=path)


# --- llm -----------------------------------------------------------------------------------------


def test_llm_complete_answers_offline_and_records_the_call(ctx: ToolContext) -> None:
    result = run(
        "llm.complete",
        ctx,
        prompt="Summarise the sales. Be brief.",
        system="You are terse.",
        prompt_slug="sum-v1",
    )
    expected = OfflineProvider(model=ctx.resolved_settings().llm_model).complete(
        "Summarise the sales. Be brief.", system="You are terse."
    )
    assert result.text == expected.text
    assert result.prompt_tokens == count_tokens("You are terse.") + count_tokens(
        "Summarise the sales. Be brief."
    )
    assert result.completion_tokens == count_tokens(result.text)
    [record] = ctx.llm_calls
    assert (record.provider, record.model) == ("offline", ctx.resolved_settings().llm_model)
    assert (record.prompt_slug, record.purpose, record.used_by) == ("sum-v1", "complete", "llm.complete")
    assert (record.prompt_tokens, record.completion_tokens) == (
        result.prompt_tokens,
        result.completion_tokens,
    )
    assert "You are terse." in record.prompt_text and "Summarise the sales." in record.prompt_text
    assert record.output_text == result.text
    assert "Summarise" not in repr(record)


def test_llm_complete_uses_an_injected_provider(tmp_path: Path) -> None:
    ctx = ToolContext(uploads=tmp_path, data=tmp_path, llm_provider=OfflineProvider(model="bench-1"))
    result = get_tool("llm.complete").run({"prompt": "hi", "model": "override-2", "purpose": "bench"}, ctx)
    assert isinstance(result, BaseModel)
    assert [(c.model, c.purpose) for c in ctx.llm_calls] == [("override-2", "bench")]


# --- noop ----------------------------------------------------------------------------------------


def test_noop_echo_returns_its_value(ctx: ToolContext) -> None:
    assert run("noop.echo", ctx, value={"a": [1, 2]}).value == {"a": [1, 2]}


def test_noop_fail_always_raises_its_message(ctx: ToolContext) -> None:
    with pytest.raises(RuntimeError, match=r"^boom$"):
        run("noop.fail", ctx, message="boom")


def test_noop_sleep_sleeps(ctx: ToolContext) -> None:
    assert run("noop.sleep", ctx, seconds=0.01).slept_seconds >= 0.01


def test_table_eval_adds_a_computed_column_and_names_a_missing_one() -> None:
    spec = get_tool("table.eval")
    frame = pd.DataFrame({"units": [2, 3], "unit_price": [1.5, 2.0]})
    out = spec.fn(spec.input_model(table=frame, expr="revenue = units * unit_price"))
    assert list(out.table["revenue"]) == [3.0, 6.0]
    assert list(frame.columns) == ["units", "unit_price"]  # the input is not modified
    with pytest.raises(KeyError, match="pricee"):
        spec.fn(spec.input_model(table=frame, expr="revenue = units * pricee"))
    with pytest.raises(ValueError, match="must assign a column"):
        spec.input_model(table=frame, expr="units * 2")
