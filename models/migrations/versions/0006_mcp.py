"""container allowlist keyed by container, inventory created time and ports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hopflow.models.orm.base

revision = '0006'
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (configuration, tool, container): seed 002 keys the allowlist by container id.
    with op.batch_alter_table('tool_allowlist', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tool_allowlist_agent_configuration_id_tool_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_tool_allowlist_agent_configuration_id_tool_id_container_id'),
            ['agent_configuration_id', 'tool_id', 'container_id'],
        )
    with op.batch_alter_table('container_inventory', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('container_created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                'ports',
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f('ix_container_inventory_snapshot_at'), ['snapshot_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('container_inventory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_container_inventory_snapshot_at'))
        batch_op.drop_column('ports')
        batch_op.drop_column('container_created_at')
    with op.batch_alter_table('tool_allowlist', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('uq_tool_allowlist_agent_configuration_id_tool_id_container_id'), type_='unique'
        )
        batch_op.create_unique_constraint(
            'uq_tool_allowlist_agent_configuration_id_tool_id', ['agent_configuration_id', 'tool_id']
        )
