"""mission templates: specs deployed as mission-run/<name>

Revision ID: 0007
Revises: 0006
"""

import hopflow.models.orm.base
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mission_templates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=1024), nullable=True),
        sa.Column("base_dir", sa.String(length=1024), nullable=True),
        sa.Column("cron", sa.String(length=255), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_mission_templates_created_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_mission_templates_name")),
    )


def downgrade() -> None:
    op.drop_table("mission_templates")
