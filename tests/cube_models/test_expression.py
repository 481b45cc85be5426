"""The expression language: what parses, what is refused, and what names an expression uses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cube_models.expression import Binary, Call, Conditional, ExpressionSyntaxError, Literal, Name, parse_expression


def test_parse_arithmetic_keeps_precedence() -> None:
    expr = parse_expression("a + b * 2")
    assert expr == Binary("+", Name("a"), Binary("*", Name("b"), Literal(2)))


def test_parse_conditional_and_sql_inequality() -> None:
    expr = parse_expression("store_sales if promotion_id <> 0 else 0")
    assert isinstance(expr, Conditional)
    assert expr.condition == Binary("!=", Name("promotion_id"), Literal(0))
    assert expr.names() == {"store_sales", "promotion_id"}


def test_parse_decimal_literal_is_exact() -> None:
    assert parse_expression("0.1") == Literal(Decimal("0.1"))


def test_parse_table_column_reference_and_functions() -> None:
    expr = parse_expression("coalesce(sales.amount, 0)")
    assert expr == Call("coalesce", (Name("sales.amount"), Literal(0)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a +",
        "__import__('os')",
        "a.b.c()",
        "lambda: 1",
        "[1, 2]",
        "a[0]",
        "exec('x')",
        "a if b",
        "1 ** 2",
        "x" * 3000,
    ],
)
def test_parse_refuses_anything_but_the_whitelist(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        parse_expression(text)


def test_parse_checks_function_arity() -> None:
    with pytest.raises(ExpressionSyntaxError, match="nullif"):
        parse_expression("nullif(a)")
