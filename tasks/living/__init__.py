"""Seed 003's living agents: config, inbox, consciousness (compaction, adaptive model), tools, cycles."""

from hopflow.tasks.living.agents import (
    LivingAgentError,
    configure_living_agent,
    create_living_agent,
    list_living_agents,
    read_living_agent,
    set_living_agent_status,
)
from hopflow.tasks.living.config import load_living_config, parse_living_config
from hopflow.tasks.living.inbox import InboxError, PushResult, push_event

__all__ = [
    "InboxError",
    "LivingAgentError",
    "PushResult",
    "configure_living_agent",
    "create_living_agent",
    "list_living_agents",
    "load_living_config",
    "parse_living_config",
    "push_event",
    "read_living_agent",
    "set_living_agent_status",
]
