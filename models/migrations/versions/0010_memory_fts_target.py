"""memory search on SQLite: the memory's target in the FTS5 index, so a search for a common word within
one target is one FTS5 query (its bm25 statistics counted once), not one FTS5 lookup per memory

Revision ID: 0010
Revises: 0009

memory_contexts_fts gains a column `target` holding one token per memory: 'x' || hex(target_type || ':'
|| target_id), which hopflow.models.access.memories.fts_target_token computes the same way. The words
of a search are matched in content and category only and the target column weighs 0 in bm25. The
token only narrows the FTS5 query: the exact target filter on memory_contexts stays. PostgreSQL: no
change (its planner already starts from the target index when a word is common).
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TARGET_TOKEN = "'x' || hex({row}.target_type || ':' || {row}.target_id)"

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE memory_contexts_fts USING fts5(content, category, target, "
    "tokenize='porter unicode61')",
    "CREATE TRIGGER memory_contexts_fts_ai AFTER INSERT ON memory_contexts BEGIN "
    "INSERT INTO memory_contexts_fts(rowid, content, category, target) "
    f"VALUES (new.rowid, new.content, new.category, {TARGET_TOKEN.format(row='new')}); END",
    "CREATE TRIGGER memory_contexts_fts_ad AFTER DELETE ON memory_contexts BEGIN "
    "DELETE FROM memory_contexts_fts WHERE rowid = old.rowid; END",
    "CREATE TRIGGER memory_contexts_fts_au AFTER UPDATE OF content, category, target_type, target_id "
    "ON memory_contexts BEGIN "
    "UPDATE memory_contexts_fts SET content = new.content, category = new.category, "
    f"target = {TARGET_TOKEN.format(row='new')} WHERE rowid = old.rowid; END",
    "INSERT INTO memory_contexts_fts(rowid, content, category, target) "
    f"SELECT rowid, content, category, {TARGET_TOKEN.format(row='memory_contexts')} FROM memory_contexts",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS memory_contexts_fts_ai",
    "DROP TRIGGER IF EXISTS memory_contexts_fts_ad",
    "DROP TRIGGER IF EXISTS memory_contexts_fts_au",
    "DROP TABLE IF EXISTS memory_contexts_fts",
]
# Revision 0005's table and triggers, for the downgrade.
SQLITE_FTS_0005 = [
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in SQLITE_FTS_DROP + SQLITE_FTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in SQLITE_FTS_DROP + SQLITE_FTS_0005:
        op.execute(statement)
