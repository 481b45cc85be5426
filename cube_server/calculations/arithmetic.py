"""The arithmetic of calculations: exact decimals, NULL instead of errors, one rounding rule for ratios.

Differences and running totals of exact measures (decimals, integers) are exact, in the measure's own
scale. Ratios (shares, growth, moving averages) are computed exactly and rounded half-even to
``RATIO_SCALE`` (6) decimal places; a ratio of floating-point measures is a float. A NULL operand or a
zero denominator gives NULL, never an error; so does a ratio of 10^32 or more, which no 38-digit
decimal with 6 places holds.

>>> ratio(Decimal("1.00"), Decimal("3.00")), ratio(2, 3), ratio(Decimal("5"), 0), ratio(None, 2)
(Decimal('0.333333'), Decimal('0.666667'), None, None)
>>> ratio(Decimal("0.0000005"), 1), ratio(Decimal("0.0000015"), 1)  # half-even at the 6th place
(Decimal('0.000000'), Decimal('0.000002'))
>>> difference(Decimal("10.00"), Decimal("12.50")), difference(7, None)
(Decimal('-2.50'), None)
>>> merge([Decimal("1.10"), None, Decimal("2.00")], "sum"), merge([3, 1, None], "min"), merge([None], "max")
(Decimal('3.10'), 1, None)
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pyarrow as pa

RATIO_SCALE = 6
RATIO_TYPE = pa.decimal128(38, RATIO_SCALE)
_LARGEST_RATIO = 10 ** (38 - RATIO_SCALE)
# Wide enough that sums and differences of 38-digit decimals are never rounded.
_EXACT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)

Number = Decimal | int | float


def ratio(numerator: Number | None, denominator: Number | None) -> Number | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    if isinstance(numerator, float) or isinstance(denominator, float):
        return float(numerator) / float(denominator)
    # Fraction is exact, and round() of a Fraction rounds half to even.
    scaled = round(Fraction(numerator) / Fraction(denominator) * 10**RATIO_SCALE)
    if abs(scaled) >= _LARGEST_RATIO * 10**RATIO_SCALE:
        return None
    return Decimal(scaled).scaleb(-RATIO_SCALE)


def difference(value: Number | None, reference: Number | None) -> Number | None:
    if value is None or reference is None:
        return None
    if isinstance(value, float) or isinstance(reference, float):
        return float(value) - float(reference)
    if isinstance(value, Decimal) or isinstance(reference, Decimal):
        return _EXACT.subtract(Decimal(value), Decimal(reference))
    return value - reference


def add(left: Number, right: Number) -> Number:
    if isinstance(left, float) or isinstance(right, float):
        return float(left) + float(right)
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        return _EXACT.add(Decimal(left), Decimal(right))
    return left + right


def merge(values: Iterable[Any], how: str) -> Any:
    """Merge the values of several periods into one: ``sum``, ``min`` or ``max``, NULLs left out."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    if how == "min":
        return min(present)
    if how == "max":
        return max(present)
    result = present[0]
    for value in present[1:]:
        result = add(result, value)
    return result


def empty_value(function: Any, arrow_type: pa.DataType) -> Any:
    """A base measure's value on an empty cell, typed like its column: 0 for sums and counts, else NULL."""
    if function is None or function.empty_value is None:
        return None
    if pa.types.is_decimal(arrow_type):
        return Decimal(0).scaleb(-arrow_type.scale)
    if pa.types.is_floating(arrow_type):
        return 0.0
    return 0


# ---- output types --------------------------------------------------------------------------------
def ratio_type(measure_type: pa.DataType) -> pa.DataType:
    return pa.float64() if pa.types.is_floating(measure_type) else RATIO_TYPE


def same_kind_type(measure_type: pa.DataType) -> pa.DataType:
    """Differences and running totals keep the measure's kind, widened to the largest precision."""
    if pa.types.is_decimal(measure_type):
        return pa.decimal128(38, measure_type.scale)
    if pa.types.is_integer(measure_type):
        return pa.int64()
    return pa.float64()


def fit(value: Any, arrow_type: pa.DataType) -> Any:
    """A computed value in its column's Python type (a formula may give decimals for a float column)."""
    if value is None:
        return None
    if pa.types.is_floating(arrow_type):
        return float(value)
    if pa.types.is_decimal(arrow_type):
        return Decimal(value).quantize(Decimal(1).scaleb(-arrow_type.scale), context=_EXACT)
    return value
