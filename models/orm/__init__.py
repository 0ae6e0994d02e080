"""hopflow's relational model: every table, importable from here."""

from hopflow.models.orm.agents import (
    AgentConfiguration,
    AgentConfigurationVersion,
    AgentDefinition,
    ContainerInventory,
    Directive,
    Playbook,
    ToolAllowlist,
)
from hopflow.models.orm.audit import Event, Tag, Tagging
from hopflow.models.orm.base import Base, utcnow
from hopflow.models.orm.execution import Asset, Hop, Mission, ToolStep
from hopflow.models.orm.identity import Entity, User, Workspace
from hopflow.models.orm.knowledge import (
    Fault,
    MemoryContext,
    Plan,
    PlanTask,
    Project,
    Reflection,
    ThoughtLog,
    reflection_memories,
)
from hopflow.models.orm.living import AgentConsciousness, InboxEvent, LivingAgent, LivingAgentConfig
from hopflow.models.orm.runs import AgentRunLog, LLMCall, RunArtifact, SyncWatermark
from hopflow.models.orm.templates import MissionTemplate
from hopflow.models.orm.webhooks import WebhookDelivery

__all__ = [
    "AgentConfiguration",
    "AgentConfigurationVersion",
    "AgentConsciousness",
    "AgentDefinition",
    "AgentRunLog",
    "Asset",
    "Base",
    "ContainerInventory",
    "Directive",
    "Entity",
    "Event",
    "Fault",
    "Hop",
    "InboxEvent",
    "LLMCall",
    "LivingAgent",
    "LivingAgentConfig",
    "MemoryContext",
    "Mission",
    "MissionTemplate",
    "Plan",
    "PlanTask",
    "Playbook",
    "Project",
    "Reflection",
    "RunArtifact",
    "SyncWatermark",
    "Tag",
    "Tagging",
    "ThoughtLog",
    "ToolAllowlist",
    "ToolStep",
    "User",
    "WebhookDelivery",
    "Workspace",
    "reflection_memories",
    "utcnow",
]
