"""The Jinja sandbox that renders playbook templates and evaluates step conditions, bounded for hostile input.

Templates and conditions are written by operators but fed with trigger payloads, so they run in
Jinja's `SandboxedEnvironment` with more taken away: no statements (`{% for %}` ...), only a short
list of functions and filters, no method calls, no `*` on text, and bounded powers. Objects are data:
`a.b` and `a['b']` read keys of mappings (a missing key is null), never attributes of Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

MAX_EXPRESSION_CHARS = 1000
MAX_TEXT_CHARS = 1_000_000  # what one filter or join may produce
MAX_EXPONENT = 64


class SandboxError(ValueError):
    """A template or condition that is not allowed, or that failed on the values it got."""


def _text(value: Any) -> str:
    """How a bound value reads inside text: null is empty, objects are compact JSON, times ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, default=str, separators=(",", ":"))


def _needs_str(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(value: Any, *args: Any) -> Any:
        if not isinstance(value, str) or not all(isinstance(a, str) for a in args):
            raise SandboxError(f"{name}() takes strings, got {type(value).__name__}")
        return fn(value, *args)

    wrapped.__name__ = name
    return wrapped


def _join(value: Iterable[Any], separator: str = "") -> str:
    items = [_text(v) for v in value]
    if sum(map(len, items)) + len(separator) * len(items) > MAX_TEXT_CHARS:
        raise SandboxError(f"join would produce more than {MAX_TEXT_CHARS} characters")
    return separator.join(items)


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


# Functions a condition may call (seed 001's conditions use these names), and filters from Jinja's
# own set that cannot grow their input (center, indent, format, replace, wordwrap ... can).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float,
    "str": _text, "bool": bool, "any": any, "all": all,
    "lower": _needs_str("lower", str.lower), "upper": _needs_str("upper", str.upper),
    "startswith": _needs_str("startswith", str.startswith), "endswith": _needs_str("endswith", str.endswith),
}  # fmt: skip
FILTERS = (
    "abs", "capitalize", "count", "d", "default", "first", "float", "int", "last", "length", "list",
    "lower", "max", "min", "reverse", "round", "sort", "string", "sum", "title", "trim", "unique", "upper",
)  # fmt: skip
TESTS = (
    "boolean", "defined", "divisibleby", "eq", "even", "false", "float", "ge", "gt", "in", "integer",
    "le", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sequence", "string", "true",
    "undefined", "upper",
)  # fmt: skip


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
        if not numbers:
            # Repetition ("a" * 10**9) and %-formatting ("%0999999999d") are how text eats memory.
            raise SecurityError(f"{operator} works on numbers only")
        if operator == "**" and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"** exponent above {MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise SecurityError(f"{attribute!r} is not allowed")
        if isinstance(obj, Mapping):
            return obj.get(attribute)
        if isinstance(obj, Undefined):
            return obj  # the error names the unknown root
        return self.undefined(f"only keys of objects can be read, not .{attribute} of {type(obj).__name__}")

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument.startswith("_"):
            raise SecurityError(f"{argument!r} is not allowed")
        if isinstance(obj, Mapping):
            return obj.get(argument)
        if (
            isinstance(obj, list | tuple | str)
            and isinstance(argument, int)
            and not isinstance(argument, bool)
        ):
            return obj[argument] if -len(obj) <= argument < len(obj) else None
        if isinstance(argument, slice):
            return super().getitem(obj, argument)
        return self.undefined(f"cannot index {type(obj).__name__} with {argument!r}")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not any(__obj is fn for fn in FUNCTIONS.values()):
            raise SecurityError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")
        return __obj(*args, **kwargs)


@lru_cache(maxsize=1)
def environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, finalize=_text, autoescape=False, keep_trailing_newline=True)
    base_filters, base_tests = dict(env.filters), dict(env.tests)
    env.filters = {name: base_filters[name] for name in FILTERS}
    env.filters.update(join=_join, tojson=_tojson)
    env.tests = {name: base_tests[name] for name in TESTS}
    env.tests["None"] = base_tests["none"]  # seed-era conditions write `x is None`
    env.globals = dict(FUNCTIONS)
    return env


def _refuse_unsafe(tree: nodes.Node, *, statements: bool) -> None:
    """What the sandbox would refuse at run time, refused when the template is checked."""
    every = list(tree.find_all(nodes.Node))
    for node in every:  # names first: the error should say what was reached for, not how
        name = None
        if isinstance(node, nodes.Name):
            name = node.name
        elif isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else None
        if name is not None and name.startswith("_"):
            raise SandboxError(f"{name!r} is not allowed")
    for node in every:
        if not statements and isinstance(node, nodes.Stmt) and not isinstance(node, nodes.Output):
            kind = type(node).__name__.lower()
            raise SandboxError(f"{{% {kind} %}} blocks are not allowed; only {{{{ ... }}}} expressions")
        if isinstance(node, nodes.Filter) and node.name not in environment().filters:
            raise SandboxError(
                f"filter {node.name!r} is not allowed (allowed: {', '.join(sorted(environment().filters))})"
            )
        if isinstance(node, nodes.Test) and node.name not in environment().tests:
            raise SandboxError(
                f"test {node.name!r} is not allowed (allowed: {', '.join(sorted(environment().tests))})"
            )
        if isinstance(node, nodes.Call) and not (
            isinstance(node.node, nodes.Name) and node.node.name in FUNCTIONS
        ):
            raise SandboxError(f"only these functions may be called: {', '.join(sorted(FUNCTIONS))}")


@lru_cache(maxsize=512)
def parse_template(text: str) -> nodes.Template:
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as exc:
        raise SandboxError(f"invalid template: {exc.message} (line {exc.lineno})") from None
    _refuse_unsafe(tree, statements=False)
    return tree


@lru_cache(maxsize=512)
def parse_expression(expression: str) -> nodes.Expr:
    """One Jinja expression (what goes between `{{` and `}}`), checked."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise SandboxError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = environment().parse("{{ " + expression + " }}")
    except TemplateSyntaxError as exc:
        raise SandboxError(f"not a valid expression: {exc.message}") from None
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        raise SandboxError("not a single expression")
    _refuse_unsafe(tree, statements=False)
    return body[0].nodes[0]


def whole_expression(text: str) -> str | None:
    """The expression of a string that is one `{{ ... }}` and nothing else, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    try:
        tree = parse_template(stripped)
    except SandboxError:
        return None
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    return None if isinstance(body[0].nodes[0], nodes.TemplateData) else stripped[2:-2].strip()


def references(tree: nodes.Node) -> list[str]:
    """Dotted paths a template or expression reads, e.g. "inputs.shop_name", "payload.order", "directive"."""
    found: list[str] = [name.name for name in tree.find_all(nodes.Name) if name.ctx == "load"]
    for attr in tree.find_all(nodes.Getattr):
        inner: nodes.Node = attr.node
        parts = [attr.attr]
        while isinstance(inner, nodes.Getattr | nodes.Getitem):
            if isinstance(inner, nodes.Getattr):
                parts.append(inner.attr)
            elif isinstance(inner.arg, nodes.Const):
                parts.append(str(inner.arg.value))
            else:
                break
            inner = inner.node
        if isinstance(inner, nodes.Name):
            found.append(".".join([inner.name, *reversed(parts)]))
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and isinstance(item.arg, nodes.Const):
            found.append(f"{item.node.name}.{item.arg.value}")
    return found


def render(text: str, context: Mapping[str, Any]) -> str:
    parse_template(text)
    try:
        return environment().from_string(text).render(dict(context))
    except (SecurityError, UndefinedError) as exc:
        raise SandboxError(str(exc)) from None
    except TemplateError as exc:
        raise SandboxError(f"template failed: {exc}") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise SandboxError(f"template failed: {exc}") from None


@lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    parse_expression(expression)
    try:
        return environment().compile_expression(expression, undefined_to_none=False)
    except TemplateError as exc:
        raise SandboxError(f"not a valid expression: {exc}") from None


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    compiled = _compiled(expression)
    try:
        value = compiled(**context)
        if isinstance(value, StrictUndefined):
            str(value)  # raises UndefinedError with its message
        return value
    except (SecurityError, UndefinedError) as exc:
        raise SandboxError(str(exc)) from None
    except SandboxError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise SandboxError(f"{type(exc).__name__}: {exc}") from None
