"""The tool registry: `@tool` registers a plain function with pydantic input and output models under an
id; the mission spec validator checks asset types against it and the step runner runs tools from it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import difflib
import enum
import importlib
import importlib.metadata
import inspect
import logging
import re
import sys
import threading
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from hopflow.models.settings import Settings, get_settings
from hopflow.tasks.llm import LLMCallRecord, LLMProvider, get_provider
from hopflow.tasks.tools.allowlist import Allowlist
from pydantic import BaseModel

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hopflow.tools"
BUILTIN_TOOL_MODULES = (
    "hopflow.tasks.tools.files",
    "hopflow.tasks.tools.http",
    "hopflow.tasks.tools.text",
    "hopflow.tasks.tools.tables",
    "hopflow.tasks.tools.json_tools",
    "hopflow.tasks.tools.llm_tools",
    "hopflow.tasks.tools.noop",
    # Written alongside by the lead; loaded here so missions can name them like any built-in.
    "hopflow.tasks.tools.planners",
    "hopflow.tasks.tools.report",
    "hopflow.tasks.tools.containers",
)
ASSET_TYPES = ("text", "number", "boolean", "json", "table", "series", "bytes", "any")

_TOOL_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

F = TypeVar("F", bound=Callable[..., Any])


class UnknownToolError(KeyError):
    """No tool is registered under an id; the message suggests close matches."""

    def __init__(self, tool_id: str, known: list[str], failed_entry_points: Mapping[str, str]) -> None:
        self.tool_id = tool_id
        self.suggestions = difflib.get_close_matches(tool_id, known, n=3, cutoff=0.6)
        if self.suggestions:
            hint = "did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            hint = "known tools: " + (", ".join(sorted(known)) or "(none)")
        message = f"unknown tool {tool_id!r}; {hint}"
        if failed_entry_points:
            failed = "; ".join(f"{name}: {why}" for name, why in sorted(failed_entry_points.items()))
            message += f" (entry points in {ENTRY_POINT_GROUP!r} that failed to load: {failed})"
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError would repr() the message, quoting it; this one is written for people.
        return self.message


@dataclass
class ToolContext:
    """What a tool may use besides its inputs: where files live, whose step it is, and where LLM calls go.

    Tools append to `llm_calls`; the step runner persists them, which keeps tools free of the database.
    """

    uploads: Path
    data: Path
    mission_id: str | None = None
    tool_step_id: str | None = None
    flow_run_id: str | None = None
    # The agent whose run this step belongs to, and its allowlist (None outside an agent's run).
    allowlist: Allowlist | None = None

    # `<step id>:<attempt>`: the same for a retry of a request within one attempt, new for each
    # attempt. Tools that call out send it (http.* as an Idempotency-Key header) so a service can
    # drop a duplicate.
    idempotency_key: str | None = None
    llm_calls: list[LLMCallRecord] = field(default_factory=list)
    # repr=False: Settings holds the LLM API key, and contexts end up in logs and tracebacks.
    settings: Settings | None = field(default=None, repr=False)
    llm_provider: LLMProvider | None = field(default=None, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        mission_id: str | None = None,
        tool_step_id: str | None = None,
        flow_run_id: str | None = None,
        allowlist: Allowlist | None = None,

        idempotency_key: str | None = None,
    ) -> ToolContext:
        settings = settings or get_settings()
        return cls(
            uploads=settings.uploads,
            data=settings.data,
            mission_id=mission_id,
            tool_step_id=tool_step_id,
            flow_run_id=flow_run_id,
            allowlist=allowlist,

            idempotency_key=idempotency_key,
            settings=settings,
        )

    def provider(self) -> LLMProvider:
        """The LLM provider for this step: an injected one, else the one the settings choose."""
        if self.llm_provider is None:
            self.llm_provider = get_provider(self.resolved_settings())
        return self.llm_provider

    def resolved_settings(self) -> Settings:
        return self.settings or get_settings()


@dataclass(frozen=True)
class ToolSpec:
    id: str
    fn: Callable[..., Any]
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    retries: int = 0
    retry_delay_seconds: float = 0
    timeout_seconds: float | None = None
    description: str | None = None
    wants_ctx: bool = False

    def run(self, params: Mapping[str, Any], ctx: ToolContext) -> BaseModel:
        """Validate params, call the tool once and return its validated output.

        Retries and timeouts are the caller's job (the Prefect task wrapping this reads them off the spec).
        """
        inputs = self.input_model.model_validate(params)
        result = self.fn(inputs, ctx) if self.wants_ctx else self.fn(inputs)
        if isinstance(result, self.output_model):
            return result
        if isinstance(result, BaseModel):
            raise TypeError(
                f"tool {self.id!r} returned {type(result).__name__}, expected {self.output_model.__name__}"
            )
        return self.output_model.model_validate(result)

    def input_fields(self) -> dict[str, tuple[Any, bool]]:
        """Each input field's annotation and whether a mission must supply it."""
        return {name: (f.annotation, f.is_required()) for name, f in self.input_model.model_fields.items()}

    def output_fields(self) -> dict[str, Any]:
        return {name: f.annotation for name, f in self.output_model.model_fields.items()}


_tools: dict[str, ToolSpec] = {}
_register_lock = threading.Lock()
# A separate lock for loading: imports run under it and register under _register_lock, so a thread
# importing a tool module directly can never deadlock against one loading the built-ins.
_load_lock = threading.RLock()
_builtins_loaded = False
_entry_points_scanned = False
_loaded_entry_points: set[str] = set()
_failed_entry_points: dict[str, str] = {}


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _model_class(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _check_fields(tool_id: str, name: str, model: type[BaseModel]) -> None:
    for field_name, info in model.model_fields.items():
        try:
            asset_type_of(info.annotation)
        except TypeError as exc:
            raise TypeError(
                f"tool {tool_id!r} ({name}): field {model.__name__}.{field_name}: {exc}"
            ) from None


def _inspect_tool(tool_id: str, fn: Callable[..., Any]) -> tuple[type[BaseModel], type[BaseModel], bool]:
    """Check fn's shape: (input: Model[, ctx: ToolContext]) -> Model. Returns the models and wants_ctx."""
    name = _qualname(fn)
    if not callable(fn):
        raise TypeError(f"tool {tool_id!r}: {fn!r} is not callable")
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"tool {tool_id!r} ({name}) is async; tools are plain functions")
    try:
        hints = get_type_hints(fn)
    except Exception as exc:
        raise TypeError(f"tool {tool_id!r} ({name}): cannot resolve its annotations: {exc}") from exc
    params = list(inspect.signature(fn).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise TypeError(f"tool {tool_id!r} ({name}) must take its input model as the first parameter")
    input_model = _model_class(hints.get(params[0].name))
    if input_model is None:
        raise TypeError(
            f"tool {tool_id!r} ({name}): first parameter {params[0].name!r} must be annotated with a "
            f"pydantic BaseModel subclass, not {hints.get(params[0].name, 'nothing')!r}"
        )
    wants_ctx = False
    if len(params) > 1:
        ctx = params[1]
        if ctx.name != "ctx" or ctx.kind not in (*positional, inspect.Parameter.KEYWORD_ONLY):
            raise TypeError(
                f"tool {tool_id!r} ({name}): the only parameter allowed after the input model is `ctx`, "
                f"got {ctx.name!r}"
            )
        if hints.get("ctx") is not ToolContext:
            raise TypeError(
                f"tool {tool_id!r} ({name}): parameter `ctx` must be annotated ToolContext, "
                f"not {hints.get('ctx', 'nothing')!r}"
            )
        wants_ctx = True
    if len(params) > 2:
        extra = ", ".join(p.name for p in params[2:])
        raise TypeError(f"tool {tool_id!r} ({name}) takes extra parameters ({extra}); only input and ctx")
    output_model = _model_class(hints.get("return"))
    if output_model is None:
        raise TypeError(
            f"tool {tool_id!r} ({name}): return annotation must be a pydantic BaseModel subclass, "
            f"not {hints.get('return', 'nothing')!r}"
        )
    _check_fields(tool_id, name, input_model)
    _check_fields(tool_id, name, output_model)
    return input_model, output_model, wants_ctx


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    return " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split()) or None


def tool(
    tool_id: str,
    *,
    retries: int = 0,
    retry_delay_seconds: float = 0,
    timeout_seconds: float | None = None,
    description: str | None = None,
) -> Callable[[F], F]:
    """Register the decorated function as tool `tool_id`; the function itself is returned unchanged."""
    if not isinstance(tool_id, str) or not _TOOL_ID_RE.match(tool_id):
        raise ValueError(f"tool id {tool_id!r} must be letters, digits, '_', '.', '-' (e.g. 'table.read')")
    if retries < 0 or retry_delay_seconds < 0:
        raise ValueError(f"tool {tool_id!r}: retries and retry_delay_seconds must be >= 0")
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise ValueError(f"tool {tool_id!r}: timeout_seconds must be > 0 or None")

    def register(fn: F) -> F:
        input_model, output_model, wants_ctx = _inspect_tool(tool_id, fn)
        spec = ToolSpec(
            id=tool_id,
            fn=fn,
            input_model=input_model,
            output_model=output_model,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            timeout_seconds=timeout_seconds,
            description=description or _first_paragraph(fn.__doc__),
            wants_ctx=wants_ctx,
        )
        with _register_lock:
            existing = _tools.get(tool_id)
            # The same function again is a module re-imported (importlib.reload, a test runner), not a clash.
            if existing is not None and _qualname(existing.fn) != _qualname(fn):
                raise ValueError(
                    f"tool id {tool_id!r} is already registered by {_qualname(existing.fn)}; "
                    f"cannot register {_qualname(fn)} under it too"
                )
            _tools[tool_id] = spec
        return fn

    return register


def unregister_tool(tool_id: str) -> ToolSpec:
    """Remove a tool (tests, plugins replacing one); raises UnknownToolError if it is not there."""
    with _register_lock:
        spec = _tools.pop(tool_id, None)
    if spec is None:
        raise UnknownToolError(tool_id, list(_tools), _failed_entry_points)
    return spec


def load_builtin_tools() -> None:
    """Import hopflow's own tool modules; their @tool decorators register them."""
    global _builtins_loaded
    with _load_lock:
        if _builtins_loaded:
            return
        for module in BUILTIN_TOOL_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True


def load_entry_point_tools() -> list[str]:
    """Import every entry point in group "hopflow.tools" not imported yet; returns the names imported now.

    An entry point names a module (or an object in one) whose import registers tools with @tool. One
    that fails to import is logged and named in UnknownToolError messages instead of breaking every
    other tool; the next explicit call tries it again.
    """
    global _entry_points_scanned
    loaded_now: list[str] = []
    failed: dict[str, str] = {}
    with _load_lock:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            key = f"{ep.name} = {ep.value}"
            if key in _loaded_entry_points:
                continue
            try:
                ep.load()
            except Exception as exc:
                failed[key] = f"{type(exc).__name__}: {exc}"
                logger.warning("cannot load tool entry point %s", key, exc_info=True)
                continue
            _loaded_entry_points.add(key)
            loaded_now.append(ep.name)
        _failed_entry_points.clear()
        _failed_entry_points.update(failed)
        _entry_points_scanned = True
    return loaded_now


def _ensure_loaded() -> None:
    if not _builtins_loaded:
        load_builtin_tools()
    if not _entry_points_scanned:
        load_entry_point_tools()


def get_tool(tool_id: str) -> ToolSpec:
    _ensure_loaded()
    spec = _tools.get(tool_id)
    if spec is None:
        raise UnknownToolError(tool_id, list(_tools), _failed_entry_points)
    return spec


def list_tools() -> list[ToolSpec]:
    """Every registered tool, sorted by id."""
    _ensure_loaded()
    return sorted(_tools.values(), key=lambda spec: spec.id)


# --- asset types: what the mission spec validator compares ------------------------------------------

_TEXT_CLASSES: tuple[type, ...] = (str, PurePath, dt.date, dt.time, dt.timedelta, uuid.UUID)
_JSON_CONTAINERS: tuple[type, ...] = (list, tuple, set, frozenset, dict, Mapping)
_JSON_COMPATIBLE = frozenset({"text", "number", "boolean", "json"})


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any] | None:
    """The non-None members of a Union / X | Y, or None when the annotation is not a union."""
    annotation = _strip(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return None
    return [a for a in get_args(annotation) if a is not type(None)]


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | decimal.Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    return "json"


def asset_type_of(annotation: Any) -> str:
    """The asset type a field annotation holds: one of ASSET_TYPES.

    Optional[X] is X's type; a union of JSON-able types is "json"; anything unmappable is a TypeError,
    which @tool turns into a registration error so the validator never meets one.
    """
    annotation = _strip(annotation)
    if annotation is Any or annotation is object:
        return "any"
    members = _union_members(annotation)
    if members is not None:
        kinds = {asset_type_of(m) for m in members}
        if len(kinds) == 1:
            return kinds.pop()
        if "any" in kinds:
            return "any"
        if kinds <= _JSON_COMPATIBLE:
            return "json"
        raise TypeError(f"union {annotation!r} mixes asset types {sorted(kinds)}")
    origin = get_origin(annotation)
    if origin is Literal:
        kinds = {_value_type(v) for v in get_args(annotation)}
        return kinds.pop() if len(kinds) == 1 else "json"
    if origin is not None:
        if isinstance(origin, type) and issubclass(origin, _JSON_CONTAINERS):
            return "json"
        raise TypeError(f"cannot map annotation {annotation!r} to an asset type")
    if not isinstance(annotation, type):
        raise TypeError(f"cannot map annotation {annotation!r} to an asset type")
    if issubclass(annotation, enum.Enum):
        kinds = {_value_type(member.value) for member in annotation}
        return kinds.pop() if len(kinds) == 1 else "json"
    if issubclass(annotation, bool):
        return "boolean"
    if issubclass(annotation, int | float | decimal.Decimal):
        return "number"
    if issubclass(annotation, _TEXT_CLASSES):
        return "text"
    if issubclass(annotation, bytes | bytearray):
        return "bytes"
    pd = sys.modules.get("pandas")  # an annotation can only be a pandas class once pandas is imported
    if pd is not None and issubclass(annotation, pd.DataFrame):
        return "table"
    if pd is not None and issubclass(annotation, pd.Series):
        return "series"
    if issubclass(annotation, BaseModel) or issubclass(annotation, _JSON_CONTAINERS):
        return "json"
    if dataclasses.is_dataclass(annotation):
        return "json"
    raise TypeError(f"cannot map annotation {annotation!r} to an asset type")


def accepts(annotation: Any, asset_type: str) -> bool:
    """Whether a parameter annotated `annotation` may be fed an asset of `asset_type`.

    Strict on purpose: only an Any parameter takes every type, and a union takes what any member takes;
    otherwise the types must match ("number" covers int and float, "json" lists, dicts and models).
    """
    if asset_type not in ASSET_TYPES:
        raise ValueError(f"unknown asset type {asset_type!r}; expected one of {', '.join(ASSET_TYPES)}")
    members = _union_members(annotation)
    for member in members if members is not None else [annotation]:
        kind = asset_type_of(member)
        if kind == "any" or kind == asset_type:
            return True
    return False


__all__ = [
    "ASSET_TYPES",
    "BUILTIN_TOOL_MODULES",
    "ENTRY_POINT_GROUP",
    "ToolContext",
    "ToolSpec",
    "UnknownToolError",
    "accepts",
    "asset_type_of",
    "get_tool",
    "list_tools",
    "load_builtin_tools",
    "load_entry_point_tools",
    "tool",
    "unregister_tool",
]
