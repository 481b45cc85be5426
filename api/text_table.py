"""Plain-text tables for the command line: a header, a rule, and left-aligned columns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def text_table(names: list[str], rows: list[list[Any]]) -> str:
    """Columns as wide as their widest value; decimals keep their digits, None is blank.

    >>> print(text_table(["rows", "cube"], [[Decimal("12.50"), "shop"], [None, "mart"]]))
    rows   cube
    -----  ----
    12.50  shop
           mart
    """

    def text(value: Any) -> str:
        if value is None:
            return ""
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    cells = [[text(v) for v in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(names)]
    lines = ["  ".join(name.ljust(w) for name, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(value.ljust(w) for value, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(lines)
