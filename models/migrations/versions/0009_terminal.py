"""agent_configuration_versions: versioned values of agent configurations (`hopflow agents reconfigure`)

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hopflow.models.orm.base

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_configuration_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_configuration_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml_config", sa.Text(), nullable=False),
        sa.Column(
            "effective_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_configuration_id"],
            ["agent_configurations.id"],
            name=op.f("fk_agent_configuration_versions_agent_configuration_id_agent_configurations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_agent_configuration_versions_created_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_configuration_versions")),
        sa.UniqueConstraint(
            "agent_configuration_id",
            "version",
            name=op.f("uq_agent_configuration_versions_agent_configuration_id_version"),
        ),
    )
    with op.batch_alter_table("agent_configuration_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_configuration_versions_agent_configuration_id"),
            ["agent_configuration_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_configuration_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_configuration_versions_agent_configuration_id"))
    op.drop_table("agent_configuration_versions")
