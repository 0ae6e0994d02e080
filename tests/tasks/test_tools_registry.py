"""The tool registry: registration rules, lookup, entry points and asset type compatibility."""

import contextlib
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pandas as pd
import pytest
from hopflow.models.settings import Settings
from hopflow.tasks.llm import LLMCallRecord
from hopflow.tasks.tools import (
    ToolContext,
    UnknownToolError,
    accepts,
    asset_type_of,
    get_tool,
    list_tools,
    load_entry_point_tools,
    tool,
    unregister_tool,
)
from hopflow.tasks.tools.registry import ASSET_TYPES
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class AddInput(BaseModel):
    a: int
    b: int = 0


class AddOutput(BaseModel):
    total: int


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Opaque:
    """A type no asset type describes."""


class OpaqueInput(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    thing: Opaque


@pytest.fixture
def register() -> Iterator[Any]:
    """@tool that forgets every tool it registered once the test is over."""
    ids: list[str] = []

    def _register(tool_id: str, **options: Any) -> Any:
        ids.append(tool_id)
        return tool(tool_id, **options)

    yield _register
    for tool_id in ids:
        with contextlib.suppress(UnknownToolError):
            unregister_tool(tool_id)


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(uploads=tmp_path / "uploads", data=tmp_path / "data")


def test_tool_registers_the_function_and_returns_it_unchanged(register: Any) -> None:
    def add(params: AddInput) -> AddOutput:
        """Add two numbers.

        More detail that stays out of the description.
        """
        return AddOutput(total=params.a + params.b)

    assert register("test.add", retries=3, retry_delay_seconds=0.5, timeout_seconds=9)(add) is add
    spec = get_tool("test.add")
    assert (spec.id, spec.fn, spec.input_model, spec.output_model) == ("test.add", add, AddInput, AddOutput)
    assert (spec.retries, spec.retry_delay_seconds, spec.timeout_seconds) == (3, 0.5, 9)
    assert spec.description == "Add two numbers."
    assert spec.wants_ctx is False
    assert spec in list_tools()


def test_explicit_description_wins_over_the_docstring(register: Any) -> None:
    @register("test.described", description="Adds.")
    def add(params: AddInput) -> AddOutput:
        """Ignored."""
        return AddOutput(total=params.a)

    assert get_tool("test.described").description == "Adds."


def test_run_validates_params_and_returns_the_output_model(register: Any, ctx: ToolContext) -> None:
    @register("test.add")
    def add(params: AddInput) -> AddOutput:
        return AddOutput(total=params.a + params.b)

    result = get_tool("test.add").run({"a": 2, "b": "3"}, ctx)
    assert result == AddOutput(total=5)
    with pytest.raises(ValidationError, match="a"):
        get_tool("test.add").run({"b": 1}, ctx)


def test_run_validates_a_plain_dict_returned_by_the_tool(register: Any, ctx: ToolContext) -> None:
    @register("test.dict_result")
    def add(params: AddInput) -> AddOutput:
        return {"total": str(params.a)}  # type: ignore[return-value]

    assert get_tool("test.dict_result").run({"a": 7}, ctx) == AddOutput(total=7)


def test_run_refuses_an_output_of_another_model(register: Any, ctx: ToolContext) -> None:
    @register("test.wrong_model")
    def add(params: AddInput) -> AddOutput:
        return params  # type: ignore[return-value]

    with pytest.raises(TypeError, match="returned AddInput, expected AddOutput"):
        get_tool("test.wrong_model").run({"a": 1}, ctx)


def test_ctx_is_passed_when_declared(register: Any, ctx: ToolContext) -> None:
    seen: list[ToolContext] = []

    @register("test.with_ctx")
    def add(params: AddInput, ctx: ToolContext) -> AddOutput:
        seen.append(ctx)
        return AddOutput(total=params.a)

    assert get_tool("test.with_ctx").wants_ctx is True
    get_tool("test.with_ctx").run({"a": 1}, ctx)
    assert seen == [ctx]


def test_registration_refuses_a_first_parameter_that_is_not_a_model(register: Any) -> None:
    def bad_input(params: dict) -> AddOutput:  # type: ignore[type-arg]
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"test\.bad.*bad_input.*first parameter 'params'.*BaseModel"):
        register("test.bad")(bad_input)


def test_registration_refuses_a_function_without_parameters(register: Any) -> None:
    def no_params() -> AddOutput:
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"no_params\) must take its input model"):
        register("test.bad")(no_params)


def test_registration_refuses_a_return_annotation_that_is_not_a_model(register: Any) -> None:
    def bad_output(params: AddInput) -> int:
        return 0

    with pytest.raises(TypeError, match=r"bad_output.*return annotation"):
        register("test.bad")(bad_output)


def test_registration_refuses_a_second_parameter_not_named_ctx(register: Any) -> None:
    def bad_ctx_name(params: AddInput, context: ToolContext) -> AddOutput:
        return AddOutput(total=0)

    with pytest.raises(
        TypeError, match=r"bad_ctx_name.*only parameter allowed after the input model is `ctx`"
    ):
        register("test.bad")(bad_ctx_name)


def test_registration_refuses_ctx_of_another_type(register: Any) -> None:
    def bad_ctx_type(params: AddInput, ctx: dict) -> AddOutput:  # type: ignore[type-arg]
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"bad_ctx_type.*`ctx` must be annotated ToolContext"):
        register("test.bad")(bad_ctx_type)


def test_registration_refuses_extra_parameters(register: Any) -> None:
    def too_many(params: AddInput, ctx: ToolContext, extra: int = 0) -> AddOutput:
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"too_many\) takes extra parameters \(extra\)"):
        register("test.bad")(too_many)


def test_registration_refuses_async_functions(register: Any) -> None:
    async def later(params: AddInput) -> AddOutput:
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"later\) is async"):
        register("test.bad")(later)


def test_registration_refuses_fields_without_an_asset_type(register: Any) -> None:
    def opaque(params: OpaqueInput) -> AddOutput:
        return AddOutput(total=0)

    with pytest.raises(TypeError, match=r"opaque.*OpaqueInput\.thing.*cannot map"):
        register("test.bad")(opaque)


@pytest.mark.parametrize("bad_id", ["", "has space", ".starts-with-dot", "slash/id"])
def test_registration_refuses_malformed_ids(bad_id: str) -> None:
    with pytest.raises(ValueError, match="tool id"):
        tool(bad_id)


def test_registration_refuses_negative_retries_and_zero_timeouts() -> None:
    with pytest.raises(ValueError, match="retries"):
        tool("test.x", retries=-1)
    with pytest.raises(ValueError, match="timeout_seconds"):
        tool("test.x", timeout_seconds=0)


def test_duplicate_id_names_both_functions(register: Any) -> None:
    @register("test.dup")
    def first(params: AddInput) -> AddOutput:
        return AddOutput(total=1)

    def second(params: AddInput) -> AddOutput:
        return AddOutput(total=2)

    with pytest.raises(ValueError, match=r"'test\.dup'.*registered by .*first.*register .*second"):
        tool("test.dup")(second)
    assert get_tool("test.dup").fn is first


def test_unknown_tool_suggests_close_matches() -> None:
    with pytest.raises(UnknownToolError) as caught:
        get_tool("table.reed")
    assert isinstance(caught.value, KeyError)
    assert caught.value.suggestions[0] == "table.read"
    assert str(caught.value).startswith("unknown tool 'table.reed'; did you mean 'table.read'")


def test_unknown_tool_without_close_matches_lists_the_known_tools() -> None:
    with pytest.raises(UnknownToolError, match=r"known tools: .*noop\.echo"):
        get_tool("zzzzzz")


def test_list_tools_has_the_builtins_sorted_by_id() -> None:
    ids = [spec.id for spec in list_tools()]
    assert ids == sorted(ids)
    expected = {
        "files.read",
        "files.write",
        "http.get",
        "text.extract",
        "text.split",
        "text.count",
        "table.read",
        "table.query",
        "table.aggregate",
        "table.join",
        "table.describe",
        "table.head",
        "json.select",
        "llm.complete",
        "noop.echo",
        "noop.fail",
    }
    assert expected <= set(ids)


def test_tool_context_from_settings_takes_paths_and_ids(tmp_path: Path) -> None:
    settings = Settings(uploads=tmp_path / "up", data=tmp_path / "data", llm_api_key="sk-secret-123")
    ctx = ToolContext.from_settings(settings, mission_id="m1", tool_step_id="s1", flow_run_id="f1")
    assert (ctx.uploads, ctx.data) == (tmp_path / "up", tmp_path / "data")
    assert (ctx.mission_id, ctx.tool_step_id, ctx.flow_run_id) == ("m1", "s1", "f1")
    assert ctx.llm_calls == []
    assert ctx.settings is settings
    assert "sk-secret-123" not in repr(ctx)


def test_tool_contexts_do_not_share_llm_call_lists(tmp_path: Path) -> None:
    one = ToolContext(uploads=tmp_path, data=tmp_path)
    two = ToolContext(uploads=tmp_path, data=tmp_path)
    one.llm_calls.append(LLMCallRecord(provider="offline", model="m"))
    assert two.llm_calls == []


def test_input_and_output_fields_give_annotations_and_required_flags() -> None:
    spec = get_tool("text.split")
    fields = spec.input_fields()
    assert fields["text"] == (str, True)
    assert fields["max_chars"] == (int | None, False)
    assert spec.output_fields() == {"parts": list[str]}
    assert get_tool("table.query").output_fields() == {"table": pd.DataFrame}


def _write_plugin(root: Path, module: str, body: str, entry_points: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    dist = root / "acme_hopflow-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-hopflow\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_entry_point_tools_are_imported_once_and_broken_ones_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_plugin(
        tmp_path,
        "acme_hopflow_tools",
        """
        from pydantic import BaseModel
        from hopflow.tasks.tools import tool

        IMPORTS = globals().get("IMPORTS", 0) + 1

        class ShoutInput(BaseModel):
            text: str

        class ShoutOutput(BaseModel):
            text: str

        @tool("acme.shout")
        def shout(params: ShoutInput) -> ShoutOutput:
            return ShoutOutput(text=params.text.upper())
        """,
        """
        [hopflow.tools]
        acme = acme_hopflow_tools
        broken = acme_hopflow_missing_module
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_entry_point_tools() == ["acme"]
        assert load_entry_point_tools() == []
        assert sys.modules["acme_hopflow_tools"].IMPORTS == 1
        spec = get_tool("acme.shout")
        assert spec.run({"text": "hi"}, ToolContext(uploads=tmp_path, data=tmp_path)).text == "HI"  # type: ignore[attr-defined]
        with pytest.raises(
            UnknownToolError, match="broken = acme_hopflow_missing_module: ModuleNotFoundError"
        ):
            get_tool("acme.whisper")
    finally:
        unregister_tool("acme.shout")
        sys.modules.pop("acme_hopflow_tools", None)
        monkeypatch.undo()
        # Rescan without the plugin on sys.path so its broken entry stops showing in later messages.
        load_entry_point_tools()
    with pytest.raises(UnknownToolError) as caught:
        get_tool("acme.whisper")
    assert "failed to load" not in str(caught.value)


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, "text"),
        (Colour, "text"),
        (Path, "text"),
        (Literal["a", "b"], "text"),
        (int, "number"),
        (float, "number"),
        (Decimal, "number"),
        (bool, "boolean"),
        (bytes, "bytes"),
        (pd.DataFrame, "table"),
        (pd.Series, "series"),
        (Any, "any"),
        (object, "any"),
        (list[str], "json"),
        (dict[str, Any], "json"),
        (list, "json"),
        (AddInput, "json"),
        (Optional[str], "text"),  # noqa: UP045 -- the typing spelling is what is under test
        (int | None, "number"),
        (int | float, "number"),
        (str | int, "json"),
        (Any | None, "any"),
        (Annotated[str, Field(min_length=1)], "text"),
        (Annotated[pd.DataFrame | None, "note"], "table"),
    ],
)
def test_asset_type_of_maps_annotations(annotation: Any, expected: str) -> None:
    assert asset_type_of(annotation) == expected


@pytest.mark.parametrize("annotation", [Opaque, complex, str | pd.DataFrame, set[Opaque] | Opaque])
def test_asset_type_of_refuses_unmappable_annotations(annotation: Any) -> None:
    with pytest.raises(TypeError):
        asset_type_of(annotation)


@pytest.mark.parametrize(
    ("annotation", "asset_type", "expected"),
    [
        (Any, "table", True),
        (Any, "text", True),
        (object, "bytes", True),
        (int, "number", True),
        (float, "number", True),
        (int | None, "number", True),
        (str, "text", True),
        (str, "number", False),
        (str, "json", False),
        (str, "any", False),
        (int, "text", False),
        (int, "boolean", False),
        (bool, "number", False),
        (list[str], "json", True),
        (dict[str, Any], "json", True),
        (list[str], "text", False),
        (pd.DataFrame, "table", True),
        (pd.DataFrame, "json", False),
        (pd.DataFrame | None, "table", True),
        (pd.Series, "series", True),
        (pd.Series, "table", False),
        (str | list[str], "text", True),
        (str | list[str], "json", True),
        (str | list[str], "number", False),
        (bytes, "bytes", True),
    ],
)
def test_accepts_is_strict_except_for_any(annotation: Any, asset_type: str, expected: bool) -> None:
    assert accepts(annotation, asset_type) is expected


def test_accepts_refuses_an_unknown_asset_type() -> None:
    with pytest.raises(ValueError, match="unknown asset type 'tabel'"):
        accepts(str, "tabel")
    assert "table" in ASSET_TYPES


def test_builtin_tool_fields_all_have_asset_types() -> None:
    for spec in list_tools():
        for annotation, _required in spec.input_fields().values():
            assert asset_type_of(annotation) in ASSET_TYPES
        for annotation in spec.output_fields().values():
            assert asset_type_of(annotation) in ASSET_TYPES
