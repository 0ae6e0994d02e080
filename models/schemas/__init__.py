"""Pydantic v2 schemas: the API of the package (specs users write, views it returns). The read models
of the execution tables end in `View`, so they never shadow the ORM classes of the same rows."""

from hopflow.models.schemas.execution import AssetContentView, AssetView, HopView, MissionView, ToolStepView

__all__ = ["AssetContentView", "AssetView", "HopView", "MissionView", "ToolStepView"]
