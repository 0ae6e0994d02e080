"""hopflow's tools: plain functions registered by id with pydantic input and output models.

The built-ins live in the sibling modules; other packages add tools through the "hopflow.tools" entry points.
"""

from hopflow.tasks.tools.registry import (
    ToolContext,
    ToolSpec,
    UnknownToolError,
    accepts,
    asset_type_of,
    get_tool,
    list_tools,
    load_builtin_tools,
    load_entry_point_tools,
    tool,
    unregister_tool,
)

__all__ = [
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
