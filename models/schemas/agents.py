"""Agent blueprints (seed 001) as users write them, and the read views of definitions and configurations.

`extra="forbid"` everywhere, so a typo is an error with its path. Checks that need the tool
registry, cron parsing or the database live in tasks/agents.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from hopflow.models.access.tags import normalise_tags
from hopflow.models.enums import (
    AgentConfigurationStatus,
    AgentDefinitionStatus,
    InboxEventType,
    InputType,
    LastRunStatus,
    OutputType,
    TriggerKind,
)
from hopflow.models.schemas.specs import NAME_PATTERN, Parameter, ResultTarget, Spec
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

AGENT_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$"
# Configuration names become Prefect deployment names (`agent-run/<name>`) and URL path parts.
CONFIGURATION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
INPUT_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# semver with optional pre-release and build; seed 001 writes "0.1", so PATCH may be left out.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
ENV_NAME_TEMPLATE = r"^[A-Za-z_{][A-Za-z0-9_{}\s.]*$"
WEBHOOK_METHODS = ("POST", "PUT", "PATCH")


def semver_key(version: str) -> tuple[Any, ...]:
    """A sortable key; a release outranks its pre-releases (1.0.0-rc.1 < 1.0.0), build metadata is ignored."""
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0)")
    major, minor, patch, pre = match.groups()
    parts = [] if pre is None else pre.split(".")
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
    return (int(major), int(minor), int(patch or 0), 1 if pre is None else 0, pre_key)


# --- triggers ------------------------------------------------------------------------------------
class TriggerSpec(Spec):
    description: str | None = None
    # Which playbook a run started by this trigger follows; the default playbook when absent.
    playbook: str | None = None


class ScheduleTriggerSpec(TriggerSpec):
    type: Literal["schedule"]
    cron: str = Field(min_length=1)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in available_timezones() and value != "UTC":
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Lisbon)")
        return value


class EventTriggerSpec(TriggerSpec):
    """Runs on a Prefect event: `event` is its name (a trailing `*` matches a prefix)."""

    type: Literal["event"]
    event: str = Field(min_length=1)
    # Resource labels the event must carry, e.g. {"prefect.resource.id": "shop.*"}.
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    match_related: dict[str, str | list[str]] | None = None


class WebhookTriggerSpec(TriggerSpec):
    """A route of `hopflow webhooks`. `path` may hold {{configuration}}, {{instance_id}}, {{workspace_id}}.

    With `inbox` (a living agent's name, may hold the same placeholders) the route starts no agent run: the
    signed body is pushed into that agent's inbox as an event of `event_type` (default `service`), its id the
    delivery's `webhook-id`, so a redelivery is acknowledged and changes nothing."""

    type: Literal["webhook"]
    path: str = Field(min_length=2, max_length=512, pattern=r"^/[A-Za-z0-9_.~\-/{}\s]*$")
    method: str = "POST"
    # The environment variable holding the HMAC secret; may hold {{configuration}} too.
    secret_env: str = Field(min_length=1, max_length=255, pattern=ENV_NAME_TEMPLATE)
    inbox: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-{}\s]+$")
    event_type: InboxEventType | None = None

    @model_validator(mode="after")
    def _inbox_fields(self) -> WebhookTriggerSpec:
        if self.inbox is None and self.event_type is not None:
            raise ValueError("event_type needs inbox: it is the type of the inbox event a webhook pushes")
        if self.inbox is not None and self.playbook is not None:
            raise ValueError("a webhook with inbox starts no agent run, so it has no playbook")
        return self

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        method = value.upper()
        if method not in WEBHOOK_METHODS:
            raise ValueError(
                f"webhook method {value!r} is not supported: a webhook carries a signed JSON body, "
                f"use one of {', '.join(WEBHOOK_METHODS)}"
            )
        return method


class ApiTriggerSpec(TriggerSpec):
    """Runs only when asked: `hopflow trigger` or Prefect's create_flow_run (always possible anyway)."""

    type: Literal["api"]


TRIGGER_TAGS = {
    TriggerKind.SCHEDULE.value: "ScheduleTrigger",
    TriggerKind.EVENT.value: "EventTrigger",
    TriggerKind.WEBHOOK.value: "WebhookTrigger",
    TriggerKind.API.value: "ApiTrigger",
}


def _trigger_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return TRIGGER_TAGS.get(str(value.get("type", "")).lower())
    if isinstance(value, TriggerSpec):
        return TRIGGER_TAGS.get(getattr(value, "type", ""))
    return None


Trigger = Annotated[
    Annotated[ScheduleTriggerSpec, Tag("ScheduleTrigger")]
    | Annotated[EventTriggerSpec, Tag("EventTrigger")]
    | Annotated[WebhookTriggerSpec, Tag("WebhookTrigger")]
    | Annotated[ApiTriggerSpec, Tag("ApiTrigger")],
    Discriminator(
        _trigger_kind,
        custom_error_type="trigger_type",
        custom_error_message="unknown trigger type: a trigger's type is one of schedule, event, webhook, api",
    ),
]
# Union tags pydantic puts in error locations; dropped when errors are shown.
TRIGGER_UNION_TAGS = frozenset(TRIGGER_TAGS.values())


# --- inputs, outputs, stack, memory --------------------------------------------------------------
class InputSpec(Spec):
    key: str = Field(pattern=INPUT_KEY_PATTERN, max_length=128)
    type: InputType = InputType.STRING
    required: bool = False
    description: str | None = None
    # Used when a configuration gives no value (part of the effective configuration).
    default: Any = None
    # Whether a trigger's payload may set it (never when the configuration gave a value): whoever can
    # trigger the agent must not be able to redirect its URLs or tokens.
    from_trigger: bool = False


class OutputSpec(Spec):
    key: str = Field(pattern=INPUT_KEY_PATTERN, max_length=128)
    type: OutputType = OutputType.STRING
    description: str | None = None


class StackSpec(Spec):
    language: str | None = None
    runtime: str | None = None
    models_used: list[str] = Field(default_factory=list)
    database_dependencies: list[str] = Field(default_factory=list)
    queue_dependencies: list[str] = Field(default_factory=list)
    other_integrations: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _seed_names(cls, value: Any) -> Any:
        # The seed's blueprint YAML writes `models:`; the data model calls it models_used.
        if isinstance(value, dict) and "models" in value and "models_used" not in value:
            value = {**value, "models_used": value["models"]}
            del value["models"]
        return value


class MemorySpec(Spec):
    type: str | None = None
    # e.g. "shopwatch_{{workspace_id}}_{{instance_id}}"; resolved per configuration.
    namespace_template: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _seed_names(cls, value: Any) -> Any:
        if isinstance(value, dict) and "namespace" in value and "namespace_template" not in value:
            value = {**value, "namespace_template": value["namespace"]}
            del value["namespace"]
        return value


# --- playbooks -----------------------------------------------------------------------------------
class PlaybookStepSpec(Spec):
    """One step of a seed 001 playbook: `type` is a tool id; it becomes one hop with one tool step."""

    type: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    # A safe expression over inputs, payload, window_start, window_end, directive, trigger_type.
    condition: str | None = Field(default=None, max_length=1000)
    # Waited (as a visible noop.sleep step) before the tool runs; at most an hour.
    delay_minutes: float = Field(default=0, ge=0, le=60)
    parameter_mapping: dict[str, Parameter] = Field(default_factory=dict)
    result_mapping: dict[str, ResultTarget] = Field(default_factory=dict)

    @field_validator("result_mapping", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `text: report` is short for `text: {asset: report}`, as in mission specs.
        if isinstance(value, dict):
            return {k: {"asset": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class PlaybookSpec(Spec):
    """Seed 001's Playbook: a mission template whose steps become hops when a run starts."""

    name: str = Field(pattern=NAME_PATTERN, max_length=255)
    description: str | None = None
    trigger_event_type: str | None = None
    is_default: bool = False
    is_active: bool = True
    steps: list[PlaybookStepSpec] = Field(min_length=1)


# --- the blueprint -------------------------------------------------------------------------------
class BlueprintSpec(Spec):
    """Every AgentDefinition field of seed 001, plus playbooks and the deployment's concurrency limit."""

    id: str = Field(pattern=AGENT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=255)
    version: str
    status: AgentDefinitionStatus = AgentDefinitionStatus.DRAFT
    epithet: str | None = None
    tagline: str | None = None
    introduction_text: str | None = None
    archetype: str | None = None
    dna_phrase: str | None = None
    core_capabilities: list[str] = Field(default_factory=list)
    essence_punch: str | None = None
    essence_interpretation: str | None = None
    description: str | None = None
    category: str | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    stack: StackSpec | None = None
    memory: MemorySpec | None = None
    default_file_structure_template: str | None = None
    key_files_and_paths: dict[str, Any] | None = None
    scheduling_and_triggers_summary: str | None = None
    kpis_definition: str | None = None
    failure_fallback_strategy: str | None = None
    example_integration_flow: str | None = None
    dynamic_expansion_notes: str | None = None
    escape_the_obvious_feature: str | None = None
    underlying_services_required: list[str] = Field(default_factory=list)
    # Runs of one configuration at once; extra runs wait in Prefect's queue.
    concurrency_limit: int = Field(default=1, ge=1, le=1000)
    playbooks: list[PlaybookSpec] = Field(default_factory=list)
    # Stored through the one tags/taggings scheme (models/access/tags.py), replaced on each registration.
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalise_tags(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        # YAML reads `version: 0.1` as a float; the seed means the string.
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            semver_key(value.strip())
            major, minor, *rest = value.strip().split(".", 2)
            return value.strip() if rest else f"{major}.{minor}.0"
        return value

    def default_playbook(self) -> PlaybookSpec | None:
        first = self.playbooks[0] if self.playbooks else None
        return next((p for p in self.playbooks if p.is_default), first)


def trigger_config(trigger: TriggerSpec) -> dict[str, Any]:
    """Seed 001's stored shape of a trigger: {"type": ..., "config": {...}}."""
    data = trigger.model_dump(mode="json", exclude_none=True)
    kind = data.pop("type")
    return {"type": kind, "config": data}


AnyTrigger = ScheduleTriggerSpec | EventTriggerSpec | WebhookTriggerSpec | ApiTriggerSpec
_TRIGGER_ADAPTER: TypeAdapter[AnyTrigger] = TypeAdapter(Trigger)


def trigger_from_config(stored: dict[str, Any]) -> AnyTrigger:
    """The spec back from triggers_config (seed shape {"type", "config"}, or flat)."""
    flat = {"type": stored["type"], **stored.get("config", {})} if "config" in stored else stored
    return _TRIGGER_ADAPTER.validate_python(flat)


# --- read views ----------------------------------------------------------------------------------
class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PlaybookRead(Read):
    id: str
    name: str
    description: str | None = None
    trigger_event_type: str | None = None
    steps: list[dict[str, Any]]
    is_active: bool
    is_default: bool


class DefinitionRead(Read):
    id: str
    name: str
    version: str
    status: AgentDefinitionStatus
    tagline: str | None = None
    description: str | None = None
    category: str | None = None
    triggers_config: list[dict[str, Any]]
    inputs_schema: list[dict[str, Any]]
    outputs_config: list[dict[str, Any]]
    memory_config: dict[str, Any] | None = None
    concurrency_limit: int
    playbooks: list[PlaybookRead] = Field(default_factory=list)
    # From the tags/taggings scheme, filled by the reader (not a column).
    tags: list[str] = Field(default_factory=list)


class ConfigurationRead(Read):
    id: str
    name: str
    agent_definition_id: str
    workspace_id: str | None = None
    entity_id: str | None = None
    description: str | None = None
    yaml_config: str
    effective_config_cache: dict[str, Any] | None = None
    external_memory_namespace: str | None = None
    status: AgentConfigurationStatus
    last_run_status: LastRunStatus | None = None
    last_run_at: datetime | None = None
    last_run_id: str | None = None
    last_run_output_preview: str | None = None
    last_run_full_output_ref: str | None = None
    created_at: datetime


class AgentView(BaseModel):
    """A configuration with its definition: everything a deployment or a webhook route is built from."""

    configuration: ConfigurationRead
    definition: DefinitionRead
