"""Seed 003's living-agent config (version 3.0) as pydantic models: camelCase as in the seed, no extras.

Only the shape is checked here (models never import prefect or tasks); tasks/living/config.py adds file
and line numbers to every problem. `${env.X}` references stay as written: they are resolved per call.
"""

from __future__ import annotations

from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# OpenAI's rule for function names; MCP tool names are sent under the same rule.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_SCHEMA_DEPTH = 32


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class AgentIdentity(_Config):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)
    system: str = Field(default="", max_length=100_000)


class ReasoningConfig(_Config):
    enabled: bool = False
    effort: Literal["low", "medium", "high"] = "medium"
    summary: Literal["auto", "concise", "detailed"] | None = None


class ModelConfig(_Config):
    # "openai": any OpenAI-compatible endpoint (HOPFLOW_LLM_BASE_URL); HOPFLOW_LLM_PROVIDER=offline overrides.
    provider: Literal["openai", "offline"]
    name: str = Field(min_length=1, max_length=128)
    # Recorded as written; hopflow speaks chat completions (tools / tool_calls) to every provider.
    api: Literal["responses", "chat"] = "chat"
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, gt=0)
    reasoning: ReasoningConfig | None = None


class ConsciousnessConfig(_Config):
    max_tokens: int = Field(default=100_000, gt=0)
    min_recent_cycles: int = Field(default=10, ge=0)
    compaction_strategy: Literal["summarize", "truncate"] = "summarize"


class AdaptiveModelConfig(_Config):
    cheap: str = Field(min_length=1, max_length=128)
    standard: str = Field(min_length=1, max_length=128)
    reasoning: str = Field(min_length=1, max_length=128)


class LoopConfig(_Config):
    max_steps: int = Field(default=20, ge=1, le=1000)
    max_tokens_per_cycle: int = Field(default=50_000, gt=0)
    tool_choice: Literal["auto", "none", "required"] = "auto"


class GatewayExecution(_Config):
    url: str = Field(min_length=1, max_length=2048)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: int = Field(default=30_000, gt=0, le=600_000, description="milliseconds")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "${env.")):
            raise ValueError("must be an http:// or https:// URL (or a ${env.NAME} reference)")
        return value


class ToolDisplay(_Config):
    custom_ui: str | None = Field(default=None, alias="customUI", max_length=128)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_SCHEMA_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


class ToolConfig(_Config):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(default="", max_length=4000)
    execution_type: Literal["gateway", "space"]
    visible: bool = True
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    execution: GatewayExecution | None = None
    display: ToolDisplay | None = None

    @field_validator("input_schema")
    @classmethod
    def _json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _depth(value) > MAX_SCHEMA_DEPTH:
            raise ValueError(f"nested deeper than {MAX_SCHEMA_DEPTH} levels")
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
            raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _execution_for_gateway(self) -> ToolConfig:
        if self.execution_type == "gateway" and self.execution is None:
            raise ValueError("a gateway tool needs `execution` (url, method, headers, timeout)")
        return self


class MCPServerConfig(_Config):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    url: str = Field(min_length=1, max_length=2048)
    transport: Literal["http", "streamable-http"] = "http"
    headers: dict[str, str] = Field(default_factory=dict)
    allowed_tools: list[str] = Field(default_factory=list)


class MCPConfig(_Config):
    servers: list[MCPServerConfig] = Field(default_factory=list)


class LivingAgentConfigSpec(_Config):
    """A living agent's config JSON, seed 003 version 3.0."""

    version: Literal["3.0"]
    agent: AgentIdentity
    model: ModelConfig
    consciousness: ConsciousnessConfig = Field(default_factory=ConsciousnessConfig)
    adaptive_model: AdaptiveModelConfig | None = None
    loop: LoopConfig = Field(default_factory=LoopConfig)
    middleware: list[Literal["rag", "guardrails", "logging"]] = Field(default_factory=list)
    tools: list[ToolConfig] = Field(default_factory=list)
    mcp: MCPConfig | None = None

    @model_validator(mode="after")
    def _unique_tool_names(self) -> LivingAgentConfigSpec:
        seen: set[str] = set()
        for tool in self.tools:
            if tool.name in seen:
                raise ValueError(f"tool name {tool.name!r} is declared twice")
            seen.add(tool.name)
        return self

    def as_stored(self) -> dict[str, Any]:
        """The config as it is stored: camelCase, `${env.X}` references as written, defaults filled in."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class LivingAgentView(BaseModel):
    """A living agent as the CLI and the flows see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    entity_id: str
    status: str
    workspace: str | None = None
    cron: str | None = None
    config_version: int
    config: LivingAgentConfigSpec
    cycle_count: int = 0
    token_estimate: int = 0
    message_count: int = 0
    unprocessed_events: int = 0
