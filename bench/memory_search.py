"""Ranked memory search at scale: N memories (default 1,000,000) on PostgreSQL and on SQLite, then the
p50 / p95 of hopflow.models.access.memories.search_memories with a text and a target filter, and the
query plan, which must show the full-text index (GIN on PostgreSQL, FTS5 on SQLite).

    python bench/memory_search.py [--rows 1000000] [--queries 300] [--backend both|sqlite|postgresql]

Bulk loads through COPY (PostgreSQL, index built after the load) and one executemany transaction
(SQLite, the FTS5 table filled by migration 0005's triggers). Content: 8-20 words per memory drawn
Zipf-like from a 20,000-word vocabulary; 10,000 targets (~100 memories each). Query words are drawn
uniformly from the vocabulary below its 100 most frequent words; a second row measures those 100.
Target (issue 14): p95 under 50 ms on both.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from hopflow.models import migrations
from hopflow.models.access.memories import search_memories, search_query
from hopflow.models.db import get_engine, get_session_factory

PG_URL = os.environ.get("HOPFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VOCABULARY = 20_000
TARGETS = 10_000
COLUMNS = "id, target_type, target_id, content, important, created_at, updated_at"
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    # sorted() first: a set's order follows the per-process string hash, and every process must agree.
    return sorted(sorted(words), key=lambda w: rng.random())


def generate(rows: int, seed: int = 14):
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(VOCABULARY)]
    cumulative = list(__import__("itertools").accumulate(weights))
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    for i in range(rows):
        n = rng.randint(8, 20)
        content = " ".join(rng.choices(words, cum_weights=cumulative, k=n))
        yield (str(uuid.UUID(int=rng.getrandbits(128))), "agent", f"a{i % TARGETS}", content, now)
    return words


def load_postgres(url: str, rows: int) -> float:
    engine = get_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_memory_contexts_fts"))
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY memory_contexts ({COLUMNS}) FROM STDIN") as copy,
        ):
            for ident, kind, target, content, now in generate(rows):
                copy.write_row((ident, kind, target, content, False, now + "+00", now + "+00"))
        conn.execute(sa.text(migrations_pg_index()))
        conn.execute(sa.text("ANALYZE memory_contexts"))
    return time.perf_counter() - started


def migrations_pg_index() -> str:
    """The migration's own CREATE INDEX, so the bench rebuilds exactly the index hopflow ships."""
    return str(migration("0005_knowledge").PG_FTS_INDEX)


def migration(name: str) -> Any:
    import importlib.util

    path = Path(migrations.MIGRATIONS_DIR) / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"hopflow_migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_sqlite(url: str, rows: int) -> float:
    """One transaction; the FTS5 triggers are set aside during the load and the index filled in one
    INSERT ... SELECT afterwards (what a bulk import would do), then the migration's triggers return.
    The FTS5 table and triggers are those of the newest migration that makes them (0010)."""
    module = migration("0010_memory_fts_target")
    engine = get_engine(url)
    started = time.perf_counter()
    batch: list[tuple[str, ...]] = []
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        cur.execute("PRAGMA cache_size=-200000")
        for statement in module.SQLITE_FTS_DROP[:3]:  # the triggers only; the FTS table stays
            cur.execute(statement)
        sql = f"INSERT INTO memory_contexts ({COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?)"
        for ident, kind, target, content, now in generate(rows):
            batch.append((ident, kind, target, content, now, now))
            if len(batch) >= 50_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
        cur.execute(module.SQLITE_FTS[-1])  # INSERT INTO memory_contexts_fts ... SELECT ... FROM ...
        for statement in module.SQLITE_FTS[1:-1]:
            cur.execute(statement)
        cur.execute("ANALYZE")
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(url: str, words: list[str], queries: int, frequent: bool) -> tuple[float, float, float]:
    rng = random.Random(7 if frequent else 8)
    factory = get_session_factory(url)
    times: list[float] = []
    hits = 0
    with factory() as session:
        pool = words[:100] if frequent else words[100:]
        for _ in range(5):  # warm the caches and the connection
            search_memories(session, text=rng.choice(pool), target=("agent", f"a{rng.randrange(TARGETS)}"))
        for _ in range(queries):
            word, target = rng.choice(pool), f"a{rng.randrange(TARGETS)}"
            started = time.perf_counter()
            found = search_memories(session, text=word, target=("agent", target), limit=20)
            times.append((time.perf_counter() - started) * 1000)
            hits += len(found)
    return percentile(times, 50), percentile(times, 95), hits / queries


def plan(url: str, word: str) -> str:
    """EXPLAIN of the very statement search_memories runs (literal values bound in)."""
    engine = get_engine(url)
    dialect = engine.dialect.name
    statements = {
        "text + target": search_query(dialect, text=word, target=("agent", "a42"), limit=20),
        "text only": search_query(dialect, text=word, limit=20),
    }
    prefix = "EXPLAIN" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
    lines = []
    with engine.connect() as conn:
        for label, stmt in statements.items():
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            lines.append(f"-- {label}")
            for row in conn.execute(sa.text(f"{prefix} {sql}")):
                lines.append(str(row[0]) if dialect == "postgresql" else " | ".join(str(c) for c in row))
    return "\n".join(lines)


def pg_url_fresh() -> tuple[str, str]:
    schema = f"bench_mem_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_pg(schema: str) -> None:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    parser.add_argument("--keep", action="store_true", help="Keep the databases (prints where).")
    args = parser.parse_args()
    words = vocabulary(random.Random(14))
    results = []
    plans = {}
    tmp = Path(tempfile.mkdtemp(prefix="hopflow-bench-mem-"))
    for backend in ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]:
        schema = None
        if backend == "postgresql":
            url, schema = pg_url_fresh()
        else:
            url = f"sqlite:///{tmp / 'memories.db'}"
        migrations.upgrade(url)
        load = load_postgres(url, args.rows) if backend == "postgresql" else load_sqlite(url, args.rows)
        rare = measure(url, words, args.queries, frequent=False)
        common = measure(url, words, args.queries, frequent=True)
        plans[backend] = plan(url, words[500])
        results.append((backend, load, rare, common))
        print(f"{backend}: load {load:.0f} s, rare {rare}, common {common}\n{plans[backend]}", flush=True)
        if not args.keep:
            get_engine(url).dispose()
            if schema:
                drop_pg(schema)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{args.rows:,} memories, {TARGETS:,} targets, {args.queries} queries per row, limit 20\n")
    print("| backend | load s | words | p50 ms | p95 ms | hits/query |")
    print("|---|---:|---|---:|---:|---:|")
    for backend, load, rare, common in results:
        print(f"| {backend} | {load:.0f} | ranks 100+ | {rare[0]:.2f} | {rare[1]:.2f} | {rare[2]:.1f} |")
        print(f"| {backend} |  | top 100 | {common[0]:.2f} | {common[1]:.2f} | {common[2]:.1f} |")
    for backend, text in plans.items():
        print(f"\nquery plan, {backend}:\n{text}")


if __name__ == "__main__":
    main()
