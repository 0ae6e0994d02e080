"""`hopflow memory`: remember, search (ranked full text), show and forget memories."""

from __future__ import annotations

from typing import Annotated

import typer
from hopflow.deployments.commands.common import clear_errors, console, settings
from hopflow.models.access.memories import (
    forget_memory,
    parse_target,
    read_memory,
    remember,
    search_memories,
)
from hopflow.models.access.tags import read_tags
from hopflow.models.db import session_scope

memory_app = typer.Typer(
    help="Memories about agents, tasks, plans, projects, missions, entities.", no_args_is_help=True
)

TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat for more).")]


def out(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@memory_app.command("add")
def add(
    target: Annotated[str, typer.Option(help="What the memory is about, TYPE:ID (e.g. agent:scout).")],
    content: Annotated[str, typer.Option(help="The memory's text.")],
    key: Annotated[
        str | None, typer.Option(help="A key: the memory becomes a key-value entry (upserted).")
    ] = None,
    tag: TagOpt = None,
    important: Annotated[bool, typer.Option("--important", help="Mark it important.")] = False,
    category: Annotated[str | None, typer.Option(help="A category label.")] = None,
) -> None:
    """Remember something about a target."""
    settings()
    with clear_errors(), session_scope() as session:
        kind, ident = parse_target(target)
        memory = remember(
            session,
            target_type=kind,
            target_id=ident,
            content=content,
            key=key,
            tags=tag,
            important=important,
            category=category,
        )
        memory_id = memory.id
    out(f"remembered {memory_id}")


@memory_app.command("search")
def search(
    text: Annotated[str | None, typer.Argument(help="Words to look for (all must occur).")] = None,
    target: Annotated[str | None, typer.Option(help="Only memories about TYPE:ID.")] = None,
    tag: TagOpt = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    important: Annotated[bool | None, typer.Option("--important/--any", help="Only important ones.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
) -> None:
    """Search memories: ranked best first with TEXT, newest first without."""
    settings()
    with clear_errors(), session_scope() as session:
        hits = search_memories(
            session,
            text=text,
            target=target,
            tags=tag,
            category=category,
            important=important or None,
            limit=limit,
        )
        rows = [
            (
                h.memory.id[:8],
                h.rank,
                h.memory.target_type.value,
                h.memory.target_id,
                h.memory.content,
                h.tags,
            )
            for h in hits
        ]
    if not rows:
        out("no memory matches")
        return
    for ident, rank, kind, target_id, content, tags in rows:
        score = f"{rank:8.4f}" if rank is not None else "       -"
        tag_text = f"  [{', '.join(tags)}]" if tags else ""
        out(f"{ident}  {score}  {kind}:{target_id}  {content[:120]}{tag_text}")


@memory_app.command("show")
def show(memory: Annotated[str, typer.Argument(help="Memory id or id prefix.")]) -> None:
    """One memory in full."""
    settings()
    with clear_errors(), session_scope() as session:
        m = read_memory(session, memory)
        tags = read_tags(session, "memory_contexts", m.id)
        lines = [
            f"id         {m.id}",
            f"target     {m.target_type.value}:{m.target_id}",
            f"key        {m.key or '-'}",
            f"important  {m.important}",
            f"category   {m.category or '-'}",
            f"tags       {', '.join(tags) or '-'}",
            f"created    {m.created_at.isoformat()}",
            f"updated    {m.updated_at.isoformat()}",
            "",
            m.content,
        ]
    out("\n".join(lines))


@memory_app.command("forget")
def forget(memory: Annotated[str, typer.Argument(help="Memory id or id prefix.")]) -> None:
    """Delete a memory (the audit trail keeps that it existed)."""
    settings()
    with clear_errors(), session_scope() as session:
        memory_id = forget_memory(session, memory)
    out(f"forgot {memory_id}")
