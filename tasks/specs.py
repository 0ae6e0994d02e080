"""Check a mission spec against the tool registry before anything is written.

Pure: no database, no Prefect. Every problem is reported at once, each with its path
(`hops[1].steps[0].parameter_mapping.path`) and, for a file, its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from hopflow.models.documents import MAX_DEPTH, DocumentError, compose_yaml, data_problem
from hopflow.models.enums import AssetScopeType
from hopflow.models.schemas.specs import UNION_TAGS, AssetRef, HopSpec, LiteralValue, MissionSpec, StepSpec
from hopflow.models.secrets import has_env_refs
from hopflow.tasks.tools import UnknownToolError, get_tool
from hopflow.tasks.tools.registry import accepts, asset_type_of
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

PathT = tuple[str | int, ...]


def render_path(path: PathT) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


@dataclass(frozen=True)
class SpecIssue:
    path: PathT
    message: str
    line: int | None = None

    def render(self) -> str:
        where = render_path(self.path)
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class SpecError(ValueError):
    """A mission spec with problems; lists every one with its path (and file and line)."""

    def __init__(self, issues: list[SpecIssue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}invalid mission spec ({len(issues)} problem{'s' if len(issues) != 1 else ''})"]
        lines += [f"  {i.render()}" for i in issues]
        super().__init__("\n".join(lines))


@dataclass
class AssetCatalog:
    """Assets a step may read at a point of the mission: name -> asset type, per scope."""

    mission: dict[str, str] = field(default_factory=dict)
    hop: dict[str, str] = field(default_factory=dict)

    def scope(self, scope: AssetScopeType) -> dict[str, str]:
        return self.mission if scope == AssetScopeType.MISSION else self.hop


# --- reading files -------------------------------------------------------------------------------
def _line_index(node: yaml.Node, path: PathT = (), out: dict[PathT, int] | None = None) -> dict[PathT, int]:
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _line_index(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)
    return out


def line_of(lines: dict[PathT, int], path: PathT) -> int | None:
    # A missing key has no line of its own: report its closest present parent.
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def read_spec_document(path: Path) -> tuple[Any, dict[PathT, int]]:
    """Parse a YAML or JSON file; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such mission spec file") from None
    try:
        node, data = compose_yaml(text, "the document")
    except DocumentError as exc:
        raise SpecError([SpecIssue((), f"refused: {exc}")], str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue((), f"not valid YAML/JSON:{where}: {problem}")], str(path)) from None
    if (problem := data_problem(data)) is not None:  # NUL (kept by SQLite, refused by PostgreSQL), NaN
        raise SpecError([SpecIssue((), f"refused: {problem}")], str(path))
    return data, (_line_index(node) if node is not None else {})


def issues_from_validation(exc: ValidationError, prefix: PathT = ()) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in UNION_TAGS)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the spec format)"
        issues.append(SpecIssue((*prefix, *loc), msg))
    return issues


def parse_mission_spec(data: Any) -> MissionSpec:
    try:
        return MissionSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc)) from None


def load_mission_spec(path: Path) -> MissionSpec:
    """Read, parse and check a spec file: a SpecError names the file, each path and line."""
    data, lines = read_spec_document(path)
    try:
        spec = MissionSpec.model_validate(data)
        issues = check_mission_spec(spec, base_dir=path.parent)
    except ValidationError as exc:
        issues = issues_from_validation(exc)
    if issues:
        located = [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues]
        raise SpecError(located, str(path))
    return spec


# --- checking ------------------------------------------------------------------------------------
def check_mission_spec(spec: MissionSpec, *, base_dir: Path | None = None) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    # NUL characters (PostgreSQL refuses them, SQLite would keep them), NaN, nesting: both backends alike.
    text_fields = spec.model_dump(exclude={"hops", "planner", "inputs"})
    if (problem := data_problem(text_fields, max_depth=MAX_DEPTH + 2)) is not None:
        issues.append(SpecIssue((), problem))
    catalog = AssetCatalog()
    for i, item in enumerate(spec.inputs):
        if item.name in catalog.mission:
            issues.append(SpecIssue(("inputs", i, "name"), f"duplicate input name {item.name!r}"))
        catalog.mission[item.name] = item.type
        if item.file is not None:
            file_path = Path(item.file) if base_dir is None else base_dir / item.file
            if not file_path.is_file():
                issues.append(SpecIssue(("inputs", i, "file"), f"no such file: {file_path}"))
    seen_hops: dict[str, int] = {}
    for h, hop in enumerate(spec.hops):
        if hop.name in seen_hops:
            issues.append(
                SpecIssue(
                    ("hops", h, "name"), f"duplicate hop name {hop.name!r} (also hops[{seen_hops[hop.name]}])"
                )
            )
        seen_hops.setdefault(hop.name, h)
        issues += check_hop(hop, ("hops", h), catalog)
        if hop.is_final and h != len(spec.hops) - 1:
            issues.append(SpecIssue(("hops", h, "is_final"), "only the last hop can be final"))
    if spec.planner is not None:
        issues += check_planner(spec)
    return issues


def check_hop(hop: HopSpec, path: PathT, catalog: AssetCatalog) -> list[SpecIssue]:
    """Check one hop's steps in order; adds what they produce to `catalog.mission`."""
    issues: list[SpecIssue] = []
    texts = hop.model_dump(include={"name", "description", "goal", "rationale", "success_criteria"})
    if (problem := data_problem(texts)) is not None:
        issues.append(SpecIssue(path, problem))
    catalog.hop = {}
    for s, step in enumerate(hop.steps):
        issues += check_step(step, (*path, "steps", s), catalog)
    catalog.hop = {}
    return issues


def check_step(step: StepSpec, path: PathT, catalog: AssetCatalog) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    try:
        tool = get_tool(step.tool)
    except UnknownToolError as exc:
        return [SpecIssue((*path, "tool"), str(exc))]
    inputs = tool.input_fields()
    for param, source in step.parameter_mapping.items():
        where = (*path, "parameter_mapping", param)
        if param not in inputs:
            takes = ", ".join(inputs) or "nothing"
            issues.append(
                SpecIssue(where, f"tool {tool.id!r} takes no parameter {param!r} (it takes: {takes})")
            )
            continue
        annotation = constrained(tool.input_model.model_fields[param])
        if isinstance(source, AssetRef):
            issues += _check_asset_ref(source, annotation, where, catalog, tool.id, param)
        elif isinstance(source, LiteralValue):
            issues += _check_literal(source, annotation, where, tool.id, param)
    for param, (_, required) in inputs.items():
        if required and param not in step.parameter_mapping:
            issues.append(
                SpecIssue(
                    (*path, "parameter_mapping"), f"missing required parameter {param!r} of tool {tool.id!r}"
                )
            )
    outputs = tool.output_fields()
    for out_field, target in step.result_mapping.items():
        where = (*path, "result_mapping", out_field)
        if out_field not in outputs:
            issues.append(
                SpecIssue(
                    where, f"tool {tool.id!r} has no output {out_field!r} (it has: {', '.join(outputs)})"
                )
            )
            continue
        scope = catalog.scope(target.scope)
        if target.asset in scope:
            issues.append(
                SpecIssue(
                    (*where, "asset"),
                    f"duplicate asset name {target.asset!r} in {target.scope.value} scope: "
                    "an earlier input or step already produces it",
                )
            )
            continue
        scope[target.asset] = asset_type_of(outputs[out_field])
    return issues


def _check_asset_ref(
    ref: AssetRef, annotation: Any, where: PathT, catalog: AssetCatalog, tool_id: str, param: str
) -> list[SpecIssue]:
    available = catalog.scope(ref.scope)
    if ref.asset not in available:
        other = AssetScopeType.HOP if ref.scope == AssetScopeType.MISSION else AssetScopeType.MISSION
        hint = (
            f" (there is a {other.value}-scoped one: add scope: {other.value})"
            if ref.asset in catalog.scope(other)
            else ""
        )
        return [
            SpecIssue(
                (*where, "asset"),
                f"asset {ref.asset!r} ({ref.scope.value} scope) is used before any input or step "
                f"produces it{hint}",
            )
        ]
    asset_type = available[ref.asset]
    # "any" (e.g. noop.echo's output) is unknown until run time, where the tool's model checks it.
    if asset_type != "any" and not accepts(annotation, asset_type):
        return [
            SpecIssue(
                (*where, "asset"),
                f"type mismatch: asset {ref.asset!r} is {asset_type!r} but parameter {param!r} of tool "
                f"{tool_id!r} takes {asset_type_of(annotation)!r}",
            )
        ]
    return []


def constrained(field: FieldInfo) -> Any:
    """A tool input field's annotation with its constraints (`Field(ge=0)`, lengths, patterns), so a
    literal is checked against what the tool itself will enforce."""
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _check_literal(
    lit: LiteralValue, annotation: Any, where: PathT, tool_id: str, param: str
) -> list[SpecIssue]:
    if (problem := data_problem(lit.literal)) is not None:
        return [SpecIssue((*where, "literal"), f"parameter {param!r} of tool {tool_id!r}: {problem}")]
    if has_env_refs(lit.literal):
        return []  # resolved from the environment at run time; its type is checked then
    try:
        TypeAdapter(annotation, config={"arbitrary_types_allowed": True}).validate_python(lit.literal)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        return [
            SpecIssue(
                (*where, "literal"), f"type mismatch for parameter {param!r} of tool {tool_id!r}: {reason}"
            )
        ]
    except Exception as exc:  # annotations pydantic cannot adapt (e.g. a DataFrame)
        return [
            SpecIssue(
                (*where, "literal"), f"parameter {param!r} of tool {tool_id!r} cannot be a literal: {exc}"
            )
        ]
    return []


def check_planner(spec: MissionSpec) -> list[SpecIssue]:
    if spec.planner is None:
        return []
    path: PathT = ("planner",)
    try:
        tool = get_tool(spec.planner.tool)
    except UnknownToolError as exc:
        return [SpecIssue((*path, "tool"), str(exc))]
    issues: list[SpecIssue] = []
    inputs = tool.input_fields()
    if "hop" not in tool.output_fields() or "state" not in inputs:
        issues.append(
            SpecIssue(
                (*path, "tool"), f"tool {tool.id!r} is not a planner (it must take 'state' and return 'hop')"
            )
        )
        return issues
    for param, lit in spec.planner.parameter_mapping.items():
        where = (*path, "parameter_mapping", param)
        if param not in inputs or param == "state":
            issues.append(SpecIssue(where, f"planner {tool.id!r} takes no parameter {param!r}"))
            continue
        annotation = constrained(tool.input_model.model_fields[param])
        issues += _check_literal(lit, annotation, where, tool.id, param)
    return issues
