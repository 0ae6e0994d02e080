"""Pydantic v2 schemas: the API of the package (specs users write, views it returns)."""

from hopflow.models.schemas.execution import Asset, AssetWithContent, Hop, Mission, ToolStep

__all__ = ["Asset", "AssetWithContent", "Hop", "Mission", "ToolStep"]
