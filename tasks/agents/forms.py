"""An agent deployment's Run form: the parameter schema Prefect's UI draws, built from the blueprint's
inputs (type, default, required, description), so a run started there is the agent's own form.

What the form sends is still only a payload: agent runs check it like any other (inputs.check_payload).
"""

from __future__ import annotations

from typing import Any

from hopflow.models.enums import InputType, TriggerType
from hopflow.models.schemas.agents import AgentView, InputSpec
from hopflow.models.secrets import SECRET_KEY_HINTS, has_env_refs
from hopflow.tasks.agents.inputs import input_schema

JSON_SCHEMA_TYPES = {
    InputType.STRING: "string",
    InputType.NUMBER: "number",
    InputType.BOOLEAN: "boolean",
    InputType.JSON: "object",
}


def _is_secret(spec: InputSpec, configured: Any) -> bool:
    return has_env_refs(configured) or any(h in spec.key.lower() for h in SECRET_KEY_HINTS)


def _shown_default(spec: InputSpec, value: Any) -> Any:
    """A default the form may show: never an `${env.X}` reference or a secret-named input's value."""
    if value is None or _is_secret(spec, value):
        return None
    return value


def input_property(spec: InputSpec, configured: Any = None) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": spec.key, "type": JSON_SCHEMA_TYPES[spec.type]}
    if spec.type == InputType.JSON and isinstance(
        configured if configured is not None else spec.default, list
    ):
        prop["type"] = "array"
    default = _shown_default(spec, configured if configured is not None else spec.default)
    if default is not None:
        prop["default"] = default
    text = spec.description or ""
    if spec.required:
        text = f"{text} (required; the configuration's value unless given)".strip()
    if text:
        prop["description"] = text
    return prop


def payload_schema(view: AgentView) -> dict[str, Any]:
    """The `payload` parameter: one property per blueprint input, defaults from the configuration."""
    configured = view.configuration.effective_config_cache or {}
    specs = input_schema(view.definition.inputs_schema)
    # Secrets stay the configuration's: not offered in the form (an empty field would replace them).
    properties = {
        s.key: input_property(s, configured.get(s.key))
        for s in specs
        if not _is_secret(s, configured.get(s.key))
    }
    return {
        "type": "object",
        "title": "payload",
        "description": f"Inputs of {view.definition.name} for this run; left out, the configuration's apply.",
        "properties": properties,
        "default": {k: p["default"] for k, p in properties.items() if "default" in p},
    }


def agent_parameter_schema(view: AgentView) -> dict[str, Any]:
    """agent_run_flow's parameters for one configuration: fixed configuration, enum trigger, typed payload."""
    playbooks = [p.name for p in view.definition.playbooks]
    properties: dict[str, Any] = {
        "configuration_id": {
            "type": "string",
            "title": "configuration_id",
            "description": f"The configuration {view.configuration.name} (fixed for this deployment).",
            "enum": [view.configuration.id],
            "default": view.configuration.id,
            "readOnly": True,
            "position": 0,
        },
        "trigger_type": {
            "type": "string",
            "title": "trigger_type",
            "description": "What started this run.",
            "enum": [t.value for t in TriggerType],
            "default": TriggerType.MANUAL.value,
            "position": 1,
        },
        "payload": {**payload_schema(view), "position": 2},
    }
    if playbooks:
        properties["playbook"] = {
            "anyOf": [{"type": "string", "enum": playbooks}, {"type": "null"}],
            "title": "playbook",
            "description": "Run this playbook instead of the default one.",
            "default": None,
            "position": 3,
        }
    return {
        "title": "Parameters",
        "type": "object",
        "properties": properties,
        "required": ["configuration_id"],
        "definitions": {},
    }
