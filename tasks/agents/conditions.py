"""Step conditions: a small, safe expression evaluator over a run's context."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any


class ConditionError(ValueError):
    """A condition that is not allowed, or that fails on the values it got."""


MAX_CONDITION_NODES = 256
CONSTANT_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None, "True": True,
                                  "False": False, "None": None}  # fmt: skip


def _str_arg(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(value: Any, *args: Any) -> Any:
        if not isinstance(value, str):
            raise ConditionError(f"{fn.__name__}() takes a string, got {type(value).__name__}")
        return fn(value, *args)

    wrapped.__name__ = fn.__name__
    return wrapped


def _lower(s: str) -> str:
    return s.lower()


def _upper(s: str) -> str:
    return s.upper()


def _startswith(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


def _endswith(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float,
    "str": str, "bool": bool, "any": any, "all": all,
    "lower": _str_arg(_lower), "upper": _str_arg(_upper),
    "startswith": _str_arg(_startswith), "endswith": _str_arg(_endswith),
}  # fmt: skip

BIN_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}  # fmt: skip
COMPARE_OPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
    ast.Compare, ast.IfExp, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Constant, ast.List,
    ast.Tuple, ast.Dict, ast.Call, *BIN_OPS, *COMPARE_OPS,
)  # fmt: skip


def parse_condition(expression: str) -> ast.Expression:
    """Parse and check a condition against the whitelist; ConditionError says what is not allowed."""
    if len(expression) > 1000:
        raise ConditionError("condition is longer than 1000 characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"not a valid expression: {exc.msg} (column {exc.offset})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_CONDITION_NODES:
        raise ConditionError(f"condition is too complex ({len(nodes)} nodes, at most {MAX_CONDITION_NODES})")
    for node in nodes:
        if not isinstance(node, ALLOWED_NODES):
            raise ConditionError(f"{type(node).__name__} is not allowed in a condition")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_FUNCTIONS:
                known = ", ".join(sorted(SAFE_FUNCTIONS))
                raise ConditionError(f"only these functions may be called: {known}")
            if node.keywords:
                raise ConditionError("keyword arguments are not allowed in a condition")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ConditionError(f"attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            raise ConditionError("slices are not allowed in a condition")
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes | complex):
            raise ConditionError(f"{type(node.value).__name__} constants are not allowed")
    return tree


class _Evaluator:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:  # parse_condition already refused it; belt and braces
            raise ConditionError(f"{type(node).__name__} is not allowed in a condition")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        name = node.id
        if name in self.context:
            return self.context[name]
        # seed 001 writes `cart_value > 50`: a bare name is a payload key, else an input.
        for scope in ("payload", "inputs"):
            values = self.context.get(scope)
            if isinstance(values, Mapping) and name in values:
                return values[name]
        if name in CONSTANT_NAMES:
            return CONSTANT_NAMES[name]
        if name in SAFE_FUNCTIONS:
            return SAFE_FUNCTIONS[name]
        raise ConditionError(f"unknown name {name!r} (not in {', '.join(self.context)}, payload or inputs)")

    def _Attribute(self, node: ast.Attribute) -> Any:
        value = self.eval(node.value)
        if isinstance(value, Mapping):
            return value.get(node.attr)  # a missing key is null, so `payload.x is None` works
        raise ConditionError(f".{node.attr}: only keys of objects can be read, not of {type(value).__name__}")

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        key = self.eval(node.slice)
        if isinstance(value, Mapping):
            return value.get(key)
        if isinstance(value, list | tuple | str) and isinstance(key, int) and not isinstance(key, bool):
            return value[key] if -len(value) <= key < len(value) else None
        raise ConditionError(f"cannot index {type(value).__name__} with {key!r}")

    def _List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _Dict(self, node: ast.Dict) -> Any:
        if any(k is None for k in node.keys):
            raise ConditionError("** is not allowed in a condition")
        return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        result: Any = None
        for value_node in node.values:
            result = self.eval(value_node)
            if is_and and not result:
                return result
            if not is_and and result:
                return result
        return result

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if not _is_number(value):
            raise ConditionError(f"unary {'-' if isinstance(node.op, ast.USub) else '+'} needs a number")
        return -value if isinstance(node.op, ast.USub) else +value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        op = BIN_OPS[type(node.op)]
        # Repetition ("a" * 10**9) is how an expression eats memory: only numbers multiply.
        if isinstance(node.op, ast.Mult) and not (_is_number(left) and _is_number(right)):
            raise ConditionError("* multiplies numbers only")
        try:
            return op(left, right)
        except (TypeError, ZeroDivisionError, OverflowError) as exc:
            raise ConditionError(f"{type(node.op).__name__} failed: {exc}") from None

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            try:
                ok = COMPARE_OPS[type(op_node)](left, right)
            except TypeError as exc:
                raise ConditionError(f"cannot compare {left!r} with {right!r}: {exc}") from None
            if not ok:
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        fn = SAFE_FUNCTIONS[node.func.id]
        args = [self.eval(a) for a in node.args]
        try:
            return fn(*args)
        except ConditionError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConditionError(f"{node.func.id}() failed: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a playbook condition safely: an AST whitelist walked by hand, never eval()."""
    return bool(_Evaluator(context).eval(parse_condition(expression)))


