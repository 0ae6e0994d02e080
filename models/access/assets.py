"""Assets: creation with the one-name-per-scope rule, and seed 004 section 5's query patterns."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from hopflow.models.enums import AssetRole, AssetScopeType, AssetStatus
from hopflow.models.orm.execution import Asset, Hop, Mission
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


class DuplicateAssetError(ValueError):
    """A second asset with the same name in one scope."""

    def __init__(self, scope_type: AssetScopeType, scope_id: str, name: str) -> None:
        super().__init__(
            f"asset {name!r} already exists in {scope_type.value} {scope_id}: "
            "mission_state and hop_state are keyed by name, one asset per name"
        )


def scope_assets_stmt(
    scope_type: AssetScopeType, scope_id: str, role: AssetRole | None = None
) -> sa.Select[tuple[Asset]]:
    """The statement behind every section 5 asset query; it is served by idx_assets_scope."""
    stmt = sa.select(Asset).where(Asset.scope_type == scope_type, Asset.scope_id == scope_id)
    if role is not None:
        stmt = stmt.where(Asset.role == role)
    return stmt.order_by(Asset.created_at, Asset.name)


def read_scope_assets(
    session: Session, scope_type: AssetScopeType, scope_id: str, role: AssetRole | None = None
) -> list[Asset]:
    return list(session.scalars(scope_assets_stmt(scope_type, scope_id, role)))


def read_mission_inputs(session: Session, mission_id: str) -> list[Asset]:
    return read_scope_assets(session, AssetScopeType.MISSION, mission_id, AssetRole.INPUT)


def read_mission_outputs(session: Session, mission_id: str) -> list[Asset]:
    return read_scope_assets(session, AssetScopeType.MISSION, mission_id, AssetRole.OUTPUT)


def read_mission_state(session: Session, mission_id: str) -> dict[str, Asset]:
    return {a.name: a for a in read_scope_assets(session, AssetScopeType.MISSION, mission_id)}


def read_hop_state(session: Session, hop_id: str) -> list[Asset]:
    return read_scope_assets(session, AssetScopeType.HOP, hop_id)


def read_hop_intermediates(session: Session, hop_id: str) -> list[Asset]:
    return read_scope_assets(session, AssetScopeType.HOP, hop_id, AssetRole.INTERMEDIATE)


def current_hop_stmt(mission_id: str) -> sa.Select[tuple[Hop]]:
    current = sa.select(Mission.current_hop_id).where(Mission.id == mission_id).scalar_subquery()
    return sa.select(Hop).where(Hop.id == current)


def read_current_hop(session: Session, mission_id: str) -> Hop | None:
    return session.scalars(current_hop_stmt(mission_id)).one_or_none()


def read_asset_by_name(
    session: Session, scope_type: AssetScopeType, scope_id: str, name: str
) -> Asset | None:
    return session.scalars(
        sa.select(Asset).where(Asset.scope_type == scope_type, Asset.scope_id == scope_id, Asset.name == name)
    ).one_or_none()


def create_asset(
    session: Session,
    *,
    user_id: int,
    scope_type: AssetScopeType,
    scope_id: str,
    name: str,
    type: str,
    role: AssetRole,
    status: AssetStatus = AssetStatus.PENDING,
    description: str | None = None,
    subtype: str | None = None,
    content: Any = None,
    content_summary: str | None = None,
    content_ref: str | None = None,
    size_bytes: int | None = None,
    asset_metadata: dict[str, Any] | None = None,
) -> Asset:
    """Add an asset; a duplicate name in the scope raises DuplicateAssetError and writes nothing."""
    if read_asset_by_name(session, scope_type, scope_id, name) is not None:
        raise DuplicateAssetError(scope_type, scope_id, name)
    asset = Asset(
        user_id=user_id,
        scope_type=scope_type,
        scope_id=scope_id,
        name=name,
        type=type,
        subtype=subtype,
        role=role,
        status=status,
        description=description,
        content=content,
        content_summary=content_summary,
        content_ref=content_ref,
        size_bytes=size_bytes,
        asset_metadata=asset_metadata or {},
    )
    # The unique constraint is the real guard (two writers can both pass the check above);
    # a savepoint keeps the caller's earlier work when it fires.
    try:
        with session.begin_nested():
            session.add(asset)
            session.flush()
    except IntegrityError as exc:
        if "uq_assets_scope_name" in str(exc.orig) or "assets.scope_type, assets.scope_id" in str(exc.orig):
            raise DuplicateAssetError(scope_type, scope_id, name) from exc
        raise
    return asset
