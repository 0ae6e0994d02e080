"""Bounded parsing of documents from outside (specs, blueprints, values, payloads, webhook bodies):
YAML through a safe loader with size, depth, alias and expansion limits; JSON with size and nesting
limits and without NaN/Infinity. A document over a limit is refused fast, with a one-line reason."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import yaml

# Limits, documented in the README ("Security model").
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64  # nesting of objects/lists (mappings/sequences in YAML)
MAX_ALIASES = 1000  # YAML `*alias` uses in one document
MAX_EXPANDED_NODES = 1_000_000  # YAML nodes once every alias is expanded (an alias bomb's size)


class DocumentError(ValueError):
    """A document refused before (or while) parsing: too big, too deep, an alias bomb, not JSON."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader (no Python objects) that counts nesting depth and aliases while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise DocumentError(f"line {line}: more than {MAX_ALIASES} YAML aliases")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise DocumentError(f"line {line}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded, counted without expanding (memoised per
    node); a node that contains itself (a recursive alias) is refused."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
            open_nodes.discard(key)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1
            raise DocumentError(f"line {line}: a YAML alias refers to a node that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                line = child.start_mark.line + 1
                raise DocumentError(f"line {line}: a YAML alias refers to a node that contains it")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(text: str | bytes, what: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes")


def compose_yaml(text: str, what: str = "document") -> tuple[yaml.Node | None, Any]:
    """(the composed node, for line numbers; the data) of a YAML or JSON text, within the limits."""
    _check_size(text, what)
    loader = _BoundedLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise DocumentError(f"{what}: nested deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None, None
        if _expanded_size(node) > MAX_EXPANDED_NODES:
            raise DocumentError(
                f"{what} expands to more than {MAX_EXPANDED_NODES} nodes through YAML aliases"
            )
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(text: str, what: str = "document") -> Any:
    return compose_yaml(text, what)[1]


def _refuse_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a JSON number (NaN and Infinity are refused)")


def load_json(text: str | bytes, what: str = "JSON") -> Any:
    """JSON within the size and nesting limits; NaN/Infinity refused; integers kept exact."""
    _check_size(text, what)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise DocumentError(f"{what}: nested deeper than {MAX_DEPTH} levels") from None
    except DocumentError as exc:
        raise DocumentError(f"{what}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{what} is not JSON: {exc}") from None
    if (problem := data_problem(value)) is not None:
        raise DocumentError(f"{what}: {problem}")
    return value


def data_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why an already-parsed value is not plain bounded JSON data (too deep, NaN/Infinity, a NUL
    character), with where; None when it is. Iterative, so depth cannot blow Python's stack."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        at = f" (at {where if len(where) <= 80 else where[:80] + '...'})" if where else ""
        if isinstance(item, Mapping | list | tuple):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels{at}"
            if isinstance(item, Mapping):
                for k, v in item.items():
                    if isinstance(k, str) and "\x00" in k:
                        return f"a key holds a NUL character{at}"
                    stack.append((v, depth + 1, _join(where, f".{k}" if where else str(k))))
            else:
                stack.extend((v, depth + 1, _join(where, f"[{i}]")) for i, v in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a JSON number (NaN and Infinity are refused){at}"
        elif isinstance(item, str) and "\x00" in item:
            return f"a string holds a NUL character{at}"
    return None


def _join(where: str, part: str) -> str:
    # Paths are for messages: past a point, more of one says nothing and costs memory on deep input.
    return where + part if len(where) <= 80 else where
