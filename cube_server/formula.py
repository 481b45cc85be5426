"""Evaluate calculated measures after lookup, in exact decimal arithmetic.

Calculated measures (such as ARPU = revenue / subscribers) are never stored: they are computed from
their parts for each cell, so they stay right at every grain. Division by zero or by NULL is NULL.

>>> from cube_models.expression import parse_expression
>>> evaluate(parse_expression("revenue / subscribers"), {"revenue": Decimal("10.00"), "subscribers": 3}, 2)
Decimal('3.33')
>>> evaluate(parse_expression("revenue / subscribers"), {"revenue": Decimal("10.00"), "subscribers": 0}, 2) is None
True
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from cube_models.expression import Binary, Call, Conditional, Expr, Literal, Name, Unary

_CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_EVEN)


class _Null(Exception):
    """Raised inside evaluation when a NULL makes the whole value NULL."""


def evaluate(expr: Expr, values: dict[str, Any], scale: int | None = None) -> Decimal | float | int | None:
    try:
        result = _eval(expr, values)
    except _Null:
        return None
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, Decimal):
        if scale is not None:
            return result.quantize(Decimal(1).scaleb(-scale), context=_CONTEXT)
        return result
    if isinstance(result, float) and scale is not None:
        return round(result, scale)
    return result  # type: ignore[no-any-return]


def _number(value: Any) -> Any:
    if value is None:
        raise _Null
    if isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return value
    return Decimal(value)


def _eval(expr: Expr, values: dict[str, Any]) -> Any:
    if isinstance(expr, Literal):
        if expr.value is None:
            raise _Null
        return expr.value if isinstance(expr.value, (str, bool)) else Decimal(expr.value)
    if isinstance(expr, Name):
        return _number(values.get(expr.name))
    if isinstance(expr, Unary):
        operand = _eval(expr.operand, values)
        return -operand if expr.op == "-" else not operand
    if isinstance(expr, Binary):
        return _binary(expr, values)
    if isinstance(expr, Conditional):
        return _eval(expr.then if _eval(expr.condition, values) else expr.otherwise, values)
    if isinstance(expr, Call):
        return _call(expr, values)
    raise AssertionError(expr)


def _binary(expr: Binary, values: dict[str, Any]) -> Any:
    if expr.op in ("and", "or"):
        left = _eval(expr.left, values)
        if expr.op == "and":
            return left and _eval(expr.right, values)
        return left or _eval(expr.right, values)
    left, right = _eval(expr.left, values), _eval(expr.right, values)
    if isinstance(left, float) or isinstance(right, float):
        left, right = float(left), float(right)
    if expr.op == "+":
        return _CONTEXT.add(left, right) if isinstance(left, Decimal) else left + right
    if expr.op == "-":
        return _CONTEXT.subtract(left, right) if isinstance(left, Decimal) else left - right
    if expr.op == "*":
        return _CONTEXT.multiply(left, right) if isinstance(left, Decimal) else left * right
    if expr.op in ("/", "%"):
        if right == 0:
            raise _Null
        if isinstance(left, Decimal):
            return _CONTEXT.divide(left, right) if expr.op == "/" else _CONTEXT.remainder(left, right)
        return left / right if expr.op == "/" else left % right
    comparisons = {"==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
    return getattr(left, comparisons[expr.op])(right)


def _call(expr: Call, values: dict[str, Any]) -> Any:
    if expr.function == "coalesce":
        for arg in expr.args:
            try:
                return _eval(arg, values)
            except _Null:
                continue
        raise _Null
    args = [_eval(arg, values) for arg in expr.args]
    if expr.function == "nullif":
        if args[0] == args[1]:
            raise _Null
        return args[0]
    if expr.function == "abs":
        return abs(args[0])
    if expr.function == "round":
        places = int(args[1]) if len(args) > 1 else 0
        return round(args[0], places)
    if expr.function == "greatest":
        return max(args)
    if expr.function == "least":
        return min(args)
    raise AssertionError(expr.function)
