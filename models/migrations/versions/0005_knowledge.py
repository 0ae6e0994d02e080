"""knowledge layer (seed 000): full-text search on memories, plan tasks that run as hops, fault fixes

Revision ID: 0005
Revises: 0004

- memory_contexts.target_type also takes 'entity' (the CHECK constraint is rebuilt).
- PostgreSQL: a GIN index over to_tsvector('english', content || category), the expression
  hopflow.models.access.memories searches with. SQLite: an FTS5 table keyed by the memory's
  rowid, kept in step by triggers. Neither is in the ORM: see migrations.include_object.
- plan_tasks.hop_spec (the steps a task runs) and plan_tasks.hop_id (the hop it follows).
- faults.resolution and faults.fixed_at.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hopflow.models.orm.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_TARGETS = ("agent", "task", "plan", "project", "mission", "other")
NEW_TARGETS = ("agent", "task", "plan", "project", "mission", "entity", "other")
CHECK = "ck_memory_contexts_memorytargettype"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")

# Must be the expression hopflow.models.access.memories.PG_DOCUMENT renders, or the index is not used.
PG_FTS_INDEX = (
    "CREATE INDEX ix_memory_contexts_fts ON memory_contexts USING gin "
    "(to_tsvector('english'::regconfig, coalesce(content, '') || ' ' || coalesce(category, '')))"
)
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE memory_contexts_fts USING fts5(content, category, tokenize='porter unicode61')",
    "CREATE TRIGGER memory_contexts_fts_ai AFTER INSERT ON memory_contexts BEGIN "
    "INSERT INTO memory_contexts_fts(rowid, content, category) VALUES (new.rowid, new.content, new.category); "
    "END",
    "CREATE TRIGGER memory_contexts_fts_ad AFTER DELETE ON memory_contexts BEGIN "
    "DELETE FROM memory_contexts_fts WHERE rowid = old.rowid; END",
    "CREATE TRIGGER memory_contexts_fts_au AFTER UPDATE OF content, category ON memory_contexts BEGIN "
    "UPDATE memory_contexts_fts SET content = new.content, category = new.category WHERE rowid = old.rowid; "
    "END",
    "INSERT INTO memory_contexts_fts(rowid, content, category) SELECT rowid, content, category FROM memory_contexts",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS memory_contexts_fts_ai",
    "DROP TRIGGER IF EXISTS memory_contexts_fts_ad",
    "DROP TRIGGER IF EXISTS memory_contexts_fts_au",
    "DROP TABLE IF EXISTS memory_contexts_fts",
]


def _check_sql(values: tuple[str, ...]) -> str:
    return "target_type IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_targets(values: tuple[str, ...], previous: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a CHECK: batch mode rebuilds the table with the new type's constraint.
        with op.batch_alter_table("memory_contexts", recreate="always") as batch_op:
            batch_op.alter_column(
                "target_type",
                existing_type=sa.Enum(*previous, name="memorytargettype", native_enum=False,
                                      create_constraint=True, length=15),
                type_=sa.Enum(*values, name="memorytargettype", native_enum=False,
                              create_constraint=True, length=15),
                existing_nullable=False,
            )
        return
    op.drop_constraint(op.f(CHECK), "memory_contexts", type_="check")
    op.create_check_constraint(op.f(CHECK), "memory_contexts", _check_sql(values))


def upgrade() -> None:
    with op.batch_alter_table("plan_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hop_spec", JSON, nullable=True))
        batch_op.add_column(sa.Column("hop_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_plan_tasks_hop_id_hops"), "hops", ["hop_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_plan_tasks_hop_id"), ["hop_id"], unique=False)
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("fixed_at", hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True)
        )
    # Rebuild first, index after: a batch rebuild of memory_contexts renumbers its rowids.
    _set_targets(NEW_TARGETS, OLD_TARGETS)
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(PG_FTS_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_DROP:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_memory_contexts_fts")
    op.execute("DELETE FROM memory_contexts WHERE target_type = 'entity'")
    _set_targets(OLD_TARGETS, NEW_TARGETS)
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.drop_column("fixed_at")
        batch_op.drop_column("resolution")
    with op.batch_alter_table("plan_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_tasks_hop_id"))
        batch_op.drop_constraint(batch_op.f("fk_plan_tasks_hop_id_hops"), type_="foreignkey")
        batch_op.drop_column("hop_id")
        batch_op.drop_column("hop_spec")
