"""Memories on SQLite (FTS5) and PostgreSQL (tsvector + GIN): remember, upsert by key, ranked search, tags."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hopflow.models.access.memories import (
    MemoryInputError,
    MemoryNotFound,
    forget_memory,
    read_memory,
    remember,
    search_memories,
)
from hopflow.models.access.tags import TagError
from hopflow.models.orm import Event, MemoryContext, Tagging
from sqlalchemy.orm import Session


def _count(session: Session, model: type) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_search_ranks_the_denser_match_first_and_filters_by_target(session: Session) -> None:
    remember(session, target_type="agent", target_id="scout", content="the invoice was paid late")
    dense = remember(
        session, target_type="agent", target_id="scout", content="invoice invoice invoices: invoice totals"
    )
    remember(session, target_type="agent", target_id="other", content="an invoice for another agent")
    remember(session, target_type="agent", target_id="scout", content="nothing about billing here")
    session.flush()

    hits = search_memories(session, text="invoice", target="agent:scout")
    assert [h.memory.target_id for h in hits] == ["scout", "scout"]
    assert hits[0].memory.id == dense.id
    assert hits[0].rank is not None and hits[1].rank is not None and hits[0].rank > hits[1].rank
    # Stemming on both engines: "invoices" finds "invoice".
    assert len(search_memories(session, text="invoices")) == 3


def test_search_text_is_data_not_query_syntax(session: Session) -> None:
    remember(session, target_type="task", target_id="t1", content='quote " and NEAR(x y) OR * stay words')
    session.flush()
    hits = search_memories(session, text='NEAR(x y) OR "')
    assert len(hits) == 1
    with pytest.raises(MemoryInputError, match="no words"):
        search_memories(session, text='"*" ()')


def test_key_value_memory_is_upserted_by_target_and_key(session: Session) -> None:
    first = remember(session, target_type="entity", target_id="e1", key="mood", content="calm", tags=["a"])
    second = remember(session, target_type="entity", target_id="e1", key="mood", content="busy", tags=["b"])
    session.flush()
    assert first.id == second.id
    assert session.get(MemoryContext, first.id).content == "busy"
    hits = search_memories(session, text="busy", target=("entity", "e1"))
    assert [h.tags for h in hits] == [["b"]]
    assert search_memories(session, text="calm") == []


def test_tags_category_and_important_filter(session: Session) -> None:
    remember(session, target_type="plan", target_id="p", content="alpha one", tags=["x", "y"], important=True)
    remember(session, target_type="plan", target_id="p", content="alpha two", tags=["x"], category="notes")
    session.flush()
    assert [h.memory.content for h in search_memories(session, tags=["x", "y"])] == ["alpha one"]
    assert [h.memory.content for h in search_memories(session, text="alpha", category="notes")] == [
        "alpha two"
    ]
    assert [h.memory.content for h in search_memories(session, important=True)] == ["alpha one"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"target_type": "planet"}, "unknown target type 'planet'"),
        ({"content": "  "}, "content"),
        ({"tags": ["Bad Tag!"]}, "tag 'Bad Tag!'"),
        ({"target_id": ""}, "target id"),
    ],
)
def test_bad_memory_is_refused_and_nothing_is_written(session: Session, kwargs: dict, fragment: str) -> None:
    args = {"target_type": "agent", "target_id": "a", "content": "text", **kwargs}
    with pytest.raises((MemoryInputError, TagError), match=fragment):
        remember(session, **args)
    session.flush()
    assert _count(session, MemoryContext) == 0
    assert _count(session, Tagging) == 0
    assert _count(session, Event) == 0


def test_forget_removes_memory_tags_and_search_entry(session: Session) -> None:
    memory = remember(session, target_type="other", target_id="o", content="ephemeral words", tags=["t"])
    session.flush()
    assert read_memory(session, memory.id[:8]).id == memory.id
    forget_memory(session, memory.id)
    assert search_memories(session, text="ephemeral") == []
    assert _count(session, Tagging) == 0
    with pytest.raises(MemoryNotFound):
        read_memory(session, memory.id)


def test_memory_changes_are_audited_with_a_diff(session: Session) -> None:
    memory = remember(session, target_type="agent", target_id="a", key="k", content="v1")
    session.flush()
    remember(session, target_type="agent", target_id="a", key="k", content="v2")
    session.flush()
    forget_memory(session, memory.id)
    events = list(
        session.scalars(
            sa.select(Event).where(Event.subject_id == memory.id).order_by(Event.created_at, Event.action)
        )
    )
    actions = sorted(e.action for e in events)
    assert actions == ["create", "delete", "update"]
    update = next(e for e in events if e.action == "update")
    assert update.before == {"content": "v1"} and update.after == {"content": "v2"}


def test_target_filter_is_exact_for_ids_that_read_alike_as_words(session: Session) -> None:
    # SQLite narrows a targeted search by a token of the target in the FTS5 index (migration 0010);
    # ids that split into the same words, quotes and non-ASCII must still be told apart.
    ids = ["a b", "a-b", "A B", 'o"neil', "straße/1", "a b "]
    for ident in ids:
        remember(session, target_type="project", target_id=ident, content=f"shared word for {ident}")
    remember(session, target_type="agent", target_id="a b", content="shared word, another target type")
    session.flush()
    for ident in ids[:-1]:
        hits = search_memories(session, text="shared word", target=("project", ident))
        assert [(h.memory.target_type.value, h.memory.target_id) for h in hits] == [("project", ident)]
    assert len(search_memories(session, text="shared")) == len(ids) + 1
    # The words are looked for in content and category, never in the target's token.
    token_like = search_memories(session, text="x70726F6A6563743A612062")
    assert token_like == []


def test_targeted_ranking_matches_the_untargeted_order(session: Session) -> None:
    for n in range(1, 6):
        remember(
            session, target_type="agent", target_id="t", content=" ".join(["ore"] * n + ["rock"] * (6 - n))
        )
        remember(session, target_type="agent", target_id="u", content=" ".join(["ore"] * n + ["sand"] * 3))
    session.flush()
    targeted = [h.memory.content for h in search_memories(session, text="ore", target="agent:t")]
    everywhere = [h.memory.content for h in search_memories(session, text="ore") if h.memory.target_id == "t"]
    assert targeted == everywhere and targeted[0].count("ore") == 5 and len(targeted) == 5
