"""Synthetic fixed-line telecom revenue data for a Chinese operator, written as Parquet.

See :func:`generate_telecom` for the output contract (``facts/part-NNNNN.parquet``, one Parquet
file per dimension, ``manifest.json`` written last).
"""

from __future__ import annotations

from cube_server.telecom.generator import (
    GenerationSummary,
    cents_to_decimal,
    customer_count,
    generate_telecom,
)

__all__ = ["GenerationSummary", "cents_to_decimal", "customer_count", "generate_telecom"]
