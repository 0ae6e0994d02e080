"""Asset content: inline in the row when small, offloaded under HOPFLOW_DATA when large (DataFrames
as Parquet, anything else as JSON), always with its summary in the row; and the Prefect artifacts
that show assets in the UI."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hopflow.models.access.step_runs import OutputAsset
from hopflow.models.enums import AssetStatus
from hopflow.models.orm import Asset
from hopflow.models.settings import Settings
from hopflow.models.values import describe_type, from_jsonable, summarise, to_jsonable
from hopflow.tasks.artifact_views import clip


def encode_content(value: Any) -> tuple[Any, str, int]:
    """(jsonable content, its JSON text, its size in bytes)."""
    jsonable = to_jsonable(value)
    text = json.dumps(jsonable, ensure_ascii=False, separators=(",", ":"), default=str)
    return jsonable, text, len(text.encode("utf-8"))


@dataclass(frozen=True)
class StoredContent:
    """An asset's content columns once a value is stored: inline content or a file reference."""

    content_summary: str
    type: str
    content: Any
    content_ref: str | None
    size_bytes: int

    def columns(self) -> dict[str, Any]:
        return {
            "content_summary": self.content_summary,
            "type": self.type,
            "content": self.content,
            "content_ref": self.content_ref,
            "size_bytes": self.size_bytes,
        }


def store_value(asset: Asset, value: Any, settings: Settings) -> None:
    """Put `value` into `asset`: summary always; content inline or under settings.data."""
    stored = store_content(asset.id, asset.scope_id, asset.type, value, settings)
    for column, column_value in stored.columns().items():
        setattr(asset, column, column_value)


def store_content(
    asset_id: str, scope_id: str, asset_type: str | None, value: Any, settings: Settings
) -> StoredContent:
    """The content columns of the asset `asset_id` holding `value`; large content is written under
    settings.data first (a crash mid-write never leaves a half file under the real name)."""
    summary = summarise(value)
    kind = asset_type if asset_type and asset_type != "any" else describe_type(value)
    offload_dir = Path(settings.data) / "assets" / scope_id
    # pandas is imported only when a table is read (a served run starts ~0.4 s sooner without it): a
    # DataFrame can only exist here once pandas has been imported by someone.
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        # Parquet keeps dtypes; only small frames stay inline.
        jsonable, _, size = encode_content(value) if len(value) <= 200 else (None, "", -1)
        if 0 <= size <= settings.inline_limit_bytes:
            return StoredContent(summary, kind, jsonable, None, size)
        offload_dir.mkdir(parents=True, exist_ok=True)
        path = offload_dir / f"{asset_id}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        value.to_parquet(tmp, index=False)
        tmp.replace(path)
        return StoredContent(summary, kind, None, str(path.resolve()), path.stat().st_size)
    jsonable, text, size = encode_content(value)
    if size <= settings.inline_limit_bytes:
        return StoredContent(summary, kind, jsonable, None, size)
    offload_dir.mkdir(parents=True, exist_ok=True)
    path = offload_dir / f"{asset_id}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return StoredContent(summary, kind, None, str(path.resolve()), size)


def load_value(asset: Asset) -> Any:
    """The asset's value, read back from the row or from its offloaded file."""
    if asset.content_ref:
        path = Path(asset.content_ref)
        if not path.is_file():
            raise FileNotFoundError(f"asset {asset.name!r} ({asset.id}): offloaded content {path} is missing")
        if path.suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path)
        return from_jsonable(json.loads(path.read_text(encoding="utf-8")))
    return from_jsonable(asset.content)


def is_ready(asset: Asset | OutputAsset) -> bool:
    """Ready with its content present: what a resumed mission needs to skip the step that made it."""
    if asset.status != AssetStatus.READY:
        return False
    return not asset.content_ref or Path(asset.content_ref).is_file()


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    from hopflow.tasks.artifact_views import artifact_key as key

    return key(*parts)


def asset_table_rows(assets: list[Asset]) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "scope": a.scope_type.value,
            "role": a.role.value,
            "type": a.type,
            "status": a.status.value,
            "size_bytes": a.size_bytes,
            "summary": clip(a.content_summary or ""),
        }
        for a in assets
    ]
