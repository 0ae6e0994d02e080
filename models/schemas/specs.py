"""Mission specs: what a user writes (YAML or JSON) to describe a mission. `extra="forbid"` everywhere,
so a typo is an error with its path, not silence. Cross-checks against tools live in tasks/specs.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from hopflow.models.access.tags import normalise_tags
from hopflow.models.enums import AssetRole, AssetScopeType
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
# A spec past these is refused, not stored (README, "Security model"); a planner proposes hops one at a
# time, up to its max_hops.
MAX_HOPS = 1000
MAX_STEPS_PER_HOP = 100


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class InputAssetSpec(Spec):
    """A mission input: inline content, or a file (relative paths resolve against the spec's folder)."""

    name: str = Field(pattern=NAME_PATTERN, max_length=255)
    type: Literal["text", "number", "boolean", "json", "table", "bytes"] = "text"
    description: str | None = None
    content: Any = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> InputAssetSpec:
        if self.file is not None and self.content is not None:
            raise ValueError("give either content or file, not both")
        if self.file is None and self.content is None:
            raise ValueError("give content or file")
        return self


class AssetRef(Spec):
    """A step parameter read from an asset."""

    asset: str = Field(pattern=NAME_PATTERN)
    scope: AssetScopeType = AssetScopeType.MISSION


class LiteralValue(Spec):
    """A step parameter given literally."""

    literal: Any


def _parameter_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "asset" in value:
            return "AssetRef"
        if "literal" in value:
            return "LiteralValue"
    if isinstance(value, AssetRef | LiteralValue):
        return type(value).__name__
    return None


Parameter = Annotated[
    Annotated[AssetRef, Tag("AssetRef")] | Annotated[LiteralValue, Tag("LiteralValue")],
    Discriminator(
        _parameter_kind,
        custom_error_type="parameter_kind",
        custom_error_message="a parameter is {asset: NAME[, scope: mission|hop]} or {literal: VALUE}",
    ),
]
# Tags pydantic puts in error locations; dropped when errors are shown to users.
UNION_TAGS = frozenset({"AssetRef", "LiteralValue"})


class ResultTarget(Spec):
    """Where a tool output goes: an asset of this name, scope and role."""

    asset: str = Field(pattern=NAME_PATTERN, max_length=255)
    scope: AssetScopeType = AssetScopeType.MISSION
    role: AssetRole = AssetRole.INTERMEDIATE
    description: str | None = None

    @model_validator(mode="after")
    def _roles_fit_scopes(self) -> ResultTarget:
        if self.role == AssetRole.INPUT:
            raise ValueError("a step produces outputs or intermediates, not inputs")
        return self


class StepSpec(Spec):
    tool: str
    name: str | None = None
    description: str | None = None
    parameter_mapping: dict[str, Parameter] = Field(default_factory=dict)
    result_mapping: dict[str, ResultTarget] = Field(default_factory=dict)

    @field_validator("result_mapping", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `table: sales` is short for `table: {asset: sales}`.
        if isinstance(value, dict):
            return {k: {"asset": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class HopSpec(Spec):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    goal: str | None = None
    rationale: str | None = None
    success_criteria: list[str] = Field(default_factory=list)
    is_final: bool = False
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS_PER_HOP)


class PlannerSpec(Spec):
    """A tool that returns the next hop from the mission's state (dynamic missions)."""

    tool: str
    parameter_mapping: dict[str, LiteralValue] = Field(default_factory=dict)
    max_hops: int = Field(default=10, ge=1, le=MAX_HOPS)


class MissionSpec(Spec):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    goal: str | None = None
    success_criteria: list[str] = Field(default_factory=list)
    inputs: list[InputAssetSpec] = Field(default_factory=list)
    hops: list[HopSpec] = Field(default_factory=list, max_length=MAX_HOPS)
    planner: PlannerSpec | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Stored through the one tags/taggings scheme (models/access/tags.py); `missions list --tag` filters.
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalise_tags(value)

    @model_validator(mode="after")
    def _hops_or_planner(self) -> MissionSpec:
        if not self.hops and self.planner is None:
            raise ValueError("a mission needs hops, or a planner that proposes them")
        return self
