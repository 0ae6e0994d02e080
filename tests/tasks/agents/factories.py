"""Blueprints and values for agent tests: one realistic agent with every trigger kind, as data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SECRET_ENV = "HOPFLOW_TEST_SHOP_TOKEN"
SECRET_VALUE = "tok-9f8e7d6c5b4a-very-secret"

BASE: dict[str, Any] = {
    "id": "agent_900",
    "name": "TestSentinel",
    "version": "1.0.0",
    "status": "active",
    "tagline": "Watches test orders.",
    "description": "An agent for tests: every trigger kind, a secret, a condition.",
    "category": "Sales",
    "concurrency_limit": 2,
    "triggers": [
        {"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Lisbon"},
        {
            "type": "event",
            "event": "test.order.created",
            "match": {"prefect.resource.id": "test.{{configuration}}"},
        },
        {
            "type": "webhook",
            "path": "/hooks/{{configuration}}/orders",
            "secret_env": "{{configuration}}_SECRET",
        },
        {"type": "api"},
    ],
    "inputs": [
        {"key": "shop", "type": "string", "required": True},
        {"key": "token", "type": "string", "required": True},
        {"key": "threshold", "type": "number", "default": 10},
        {"key": "loud", "type": "boolean", "default": False},
        {"key": "order", "type": "json", "from_trigger": True},
    ],
    "outputs": [{"key": "brief", "type": "md"}, {"key": "alert", "type": "md"}],
    "memory": {"type": "postgres", "namespace": "sentinel_{{workspace_id}}_{{instance_id}}"},
    "playbooks": [
        {
            "name": "order_brief",
            "is_default": True,
            "steps": [
                {
                    # uses the secret without echoing it: only counts leave the tool
                    "name": "auth",
                    "type": "text.count",
                    "parameter_mapping": {"text": {"literal": "Bearer {{inputs.token}}"}},
                    "result_mapping": {"chars": "auth_chars"},
                },
                {
                    "name": "order",
                    "type": "noop.echo",
                    "parameter_mapping": {"value": {"literal": "{{payload.order}}"}},
                    "result_mapping": {"value": "order"},
                },
                {
                    "name": "alert",
                    "type": "report.build",
                    "condition": "order and order.total >= inputs.threshold",
                    "parameter_mapping": {
                        "title": {"literal": "Big order {{payload.order.id}}"},
                        "body": {"literal": "total {{payload.order.total}}"},
                    },
                    "result_mapping": {"text": {"asset": "alert", "role": "output"}},
                },
                {
                    "name": "brief",
                    "type": "report.build",
                    "parameter_mapping": {
                        "title": {"literal": "Brief for {{inputs.shop}}"},
                        "summary": {"literal": "directive: {{directive}}"},
                        "body": {"literal": "via {{trigger_type}} from {{window_start}} to {{window_end}}"},
                    },
                    "result_mapping": {"text": {"asset": "brief", "role": "output"}},
                },
            ],
        }
    ],
}

VALUES: dict[str, Any] = {"shop": "Test Shop", "token": f"${{env.{SECRET_ENV}}}", "threshold": 100}


def blueprint(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
