"""A small, safe expression language for row-level measure expressions and calculated measures.

Expressions are written in a Python-like arithmetic syntax and parsed with :mod:`ast`, then checked
against a whitelist so that nothing but arithmetic, comparisons, conditionals and a few named
functions can appear. Examples::

    store_sales - store_cost
    store_sales if promotion_id != 0 else 0
    revenue / subscribers

>>> expr = parse_expression("a + 2 * b")
>>> sorted(expr.names())
['a', 'b']
>>> parse_expression("a <> 0").op
'!='
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from decimal import Decimal

FUNCTIONS = {
    "coalesce": (1, 16),
    "nullif": (2, 2),
    "abs": (1, 1),
    "round": (1, 2),
    "greatest": (1, 16),
    "least": (1, 16),
}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
MAX_EXPRESSION_LENGTH = 2000


class ExpressionSyntaxError(ValueError):
    """The text is not a valid expression of this language."""


@dataclass(frozen=True, slots=True)
class Expr:
    """Base of the expression tree."""

    def names(self) -> set[str]:
        found: set[str] = set()
        self._collect(found)
        return found

    def _collect(self, found: set[str]) -> None:
        for child in self.children():
            child._collect(found)

    def children(self) -> tuple[Expr, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: int | Decimal | str | bool | None


@dataclass(frozen=True, slots=True)
class Name(Expr):
    name: str

    def _collect(self, found: set[str]) -> None:
        found.add(self.name)


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-" or "not"
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # arithmetic, comparison, "and", "or"
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.condition, self.then, self.otherwise)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args


def parse_expression(text: str) -> Expr:
    """Parse ``text`` into an expression tree or raise :class:`ExpressionSyntaxError`."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    # SQL spells inequality "<>"; Cubes models use it, so accept it as a synonym.
    source = text.replace("<>", "!=").strip()
    if not source:
        raise ExpressionSyntaxError("empty expression")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise ExpressionSyntaxError(f"cannot parse expression {text!r}") from exc
    return _convert(tree.body)


def _convert(node: ast.AST) -> Expr:
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.Name):
        return Name(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        # table.column references in row expressions
        return Name(f"{node.value.id}.{node.attr}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        operand = _convert(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        return Unary("-" if isinstance(node.op, ast.USub) else "not", operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return Binary(_BINARY[type(node.op)], _convert(node.left), _convert(node.right))
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        result = _convert(node.values[0])
        for value in node.values[1:]:
            result = Binary(op, result, _convert(value))
        return result
    if isinstance(node, ast.Compare):
        return _compare(node)
    if isinstance(node, ast.IfExp):
        return Conditional(_convert(node.test), _convert(node.body), _convert(node.orelse))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _call(node.func.id.lower(), [_convert(arg) for arg in node.args])
    raise ExpressionSyntaxError(f"unsupported construct {type(node).__name__} in expression")


def _constant(value: object) -> Literal:
    if value is None or isinstance(value, (bool, int, str)):
        return Literal(value)
    if isinstance(value, float):
        # Keep the digits as written: a float literal would lose exactness in money arithmetic.
        return Literal(Decimal(repr(value)))
    raise ExpressionSyntaxError(f"unsupported literal {value!r}")


def _compare(node: ast.Compare) -> Expr:
    parts: list[Expr] = []
    left = _convert(node.left)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        if type(op) not in _COMPARE:
            raise ExpressionSyntaxError(f"unsupported comparison {type(op).__name__}")
        right = _convert(comparator)
        parts.append(Binary(_COMPARE[type(op)], left, right))
        left = right
    result = parts[0]
    for part in parts[1:]:
        result = Binary("and", result, part)
    return result


def _call(function: str, args: list[Expr]) -> Expr:
    if function not in FUNCTIONS:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise ExpressionSyntaxError(f"unknown function {function!r}; allowed: {allowed}")
    low, high = FUNCTIONS[function]
    if not low <= len(args) <= high:
        raise ExpressionSyntaxError(f"{function}() takes {low} to {high} arguments, got {len(args)}")
    return Call(function, tuple(args))
