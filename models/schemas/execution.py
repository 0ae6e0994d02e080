"""Read models of the execution core, exactly seed 004 section 3: built from ORM rows.

mission_state / hop_state are every asset of the scope keyed by name; inputs and outputs are
derived from Asset.role, never stored twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hopflow.models.enums import (
    AssetRole,
    AssetScopeType,
    AssetStatus,
    HopStatus,
    MissionStatus,
    ToolExecutionStatus,
)
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


def _by_name(value: Any) -> Any:
    # From an ORM row the scope's assets arrive as a list; the schema keys them by name.
    if isinstance(value, list | tuple):
        return {getattr(a, "name", None) or a["name"]: a for a in value}
    return value


class AssetView(BaseModel):
    """Asset with metadata and value representation (no full content)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: int
    name: str
    description: str | None = None
    type: str
    subtype: str | None = None
    scope_type: AssetScopeType
    scope_id: str
    status: AssetStatus = AssetStatus.PENDING
    role: AssetRole
    value_representation: str = Field(
        default="", validation_alias=AliasChoices("value_representation", "content_summary")
    )
    asset_metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime

    @field_validator("value_representation", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("asset_metadata", mode="before")
    @classmethod
    def _none_is_empty_dict(cls, value: Any) -> Any:
        return {} if value is None else value


class AssetContentView(AssetView):
    """Asset with full content for tool execution."""

    content: Any = None
    content_summary: str | None = None
    content_ref: str | None = None
    size_bytes: int | None = None


class ToolStepView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    hop_id: str
    user_id: int
    tool_id: str
    sequence_order: int
    name: str
    description: str | None = None
    status: ToolExecutionStatus = ToolExecutionStatus.PROPOSED
    parameter_mapping: dict[str, Any] = Field(default_factory=dict)
    result_mapping: dict[str, Any] = Field(default_factory=dict)
    resource_configs: dict[str, Any] = Field(default_factory=dict)
    validation_errors: list[str] = Field(default_factory=list)
    execution_result: dict[str, Any] | None = None
    error_message: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @field_validator("parameter_mapping", "result_mapping", "resource_configs", mode="before")
    @classmethod
    def _none_dict(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("validation_errors", mode="before")
    @classmethod
    def _none_list(cls, value: Any) -> Any:
        return [] if value is None else value


class HopView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    mission_id: str
    user_id: int
    sequence_order: int
    name: str
    description: str | None = None
    goal: str | None = None
    success_criteria: list[str] = Field(default_factory=list)
    rationale: str | None = None
    status: HopStatus = HopStatus.PROPOSED
    is_final: bool = False
    is_resolved: bool = False
    error_message: str | None = None
    hop_metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    tool_steps: list[ToolStepView] = Field(default_factory=list)
    hop_state: dict[str, AssetView] = Field(
        default_factory=dict, validation_alias=AliasChoices("hop_state", "assets")
    )

    @field_validator("hop_state", mode="before")
    @classmethod
    def _key_by_name(cls, value: Any) -> Any:
        return _by_name(value)

    @field_validator("success_criteria", mode="before")
    @classmethod
    def _none_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("hop_metadata", mode="before")
    @classmethod
    def _none_dict(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def inputs(self) -> list[AssetView]:
        return [a for a in self.hop_state.values() if a.role == AssetRole.INPUT]

    @property
    def outputs(self) -> list[AssetView]:
        return [a for a in self.hop_state.values() if a.role == AssetRole.OUTPUT]

    @property
    def intermediates(self) -> list[AssetView]:
        return [a for a in self.hop_state.values() if a.role == AssetRole.INTERMEDIATE]


class MissionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: int
    name: str
    description: str | None = None
    goal: str | None = None
    success_criteria: list[str] = Field(default_factory=list)
    status: MissionStatus = MissionStatus.PROPOSED
    current_hop_id: str | None = None
    mission_metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    current_hop: HopView | None = None
    hops: list[HopView] = Field(default_factory=list)
    mission_state: dict[str, AssetView] = Field(
        default_factory=dict, validation_alias=AliasChoices("mission_state", "assets")
    )

    @field_validator("mission_state", mode="before")
    @classmethod
    def _key_by_name(cls, value: Any) -> Any:
        return _by_name(value)

    @field_validator("success_criteria", mode="before")
    @classmethod
    def _none_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("mission_metadata", mode="before")
    @classmethod
    def _none_dict(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def inputs(self) -> list[AssetView]:
        return [a for a in self.mission_state.values() if a.role == AssetRole.INPUT]

    @property
    def outputs(self) -> list[AssetView]:
        return [a for a in self.mission_state.values() if a.role == AssetRole.OUTPUT]


MissionView.model_rebuild()
