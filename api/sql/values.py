"""Values on the wire: results written as PostgreSQL's text format, parameters read from text or binary."""

from __future__ import annotations

import struct
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from api.sql.catalog import PG_TYPES
from cube_server.errors import SqlUnsupportedError, SqlValueError

POSTGRES_EPOCH = date(2000, 1, 1)
TYPE_NAME_BY_OID = {oid: name for name, (oid, *_rest) in PG_TYPES.items()}


def text_of(value: Any) -> bytes | None:
    """PostgreSQL's text output of a value (None is NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, Decimal):
        return format(value, "f").encode()
    if isinstance(value, float):
        return (repr(value) if value == value and value not in (float("inf"), float("-inf")) else
                {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]).encode()  # fmt: skip
    if isinstance(value, datetime):
        return value.isoformat(sep=" ").encode()
    if isinstance(value, date | time):
        return value.isoformat().encode()
    if isinstance(value, list | tuple):
        return ("{" + ",".join(_array_element(v) for v in value) + "}").encode()
    if isinstance(value, bytes):
        return b"\\x" + value.hex().encode()
    return str(value).encode()


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    text = (text_of(value) or b"").decode()
    if text == "" or any(c in text for c in ' ,{}"\\') or text.upper() == "NULL":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def parameter_value(raw: bytes | None, type_oid: int, binary: bool) -> Any:
    """A bound parameter as a Python value, from its type (0: unspecified, read as text) and format."""
    if raw is None:
        return None
    name = TYPE_NAME_BY_OID.get(type_oid, "text")
    if binary:
        return _binary_value(raw, name)
    text = raw.decode("utf-8")
    try:
        if name in ("int2", "int4", "int8", "oid"):
            return int(text)
        if name in ("float4", "float8"):
            return float(text)
        if name == "numeric":
            return Decimal(text)
        if name == "bool":
            return text.lower() in ("t", "true", "1", "yes", "on")
    except ValueError as exc:
        raise SqlValueError(f"invalid input syntax for type {name}: {text!r}") from exc
    return text


def _binary_value(raw: bytes, name: str) -> Any:
    if name == "int2":
        return struct.unpack("!h", raw)[0]
    if name in ("int4", "oid"):
        return struct.unpack("!i" if name == "int4" else "!I", raw)[0]
    if name == "int8":
        return struct.unpack("!q", raw)[0]
    if name == "float4":
        return struct.unpack("!f", raw)[0]
    if name == "float8":
        return struct.unpack("!d", raw)[0]
    if name == "bool":
        return raw != b"\x00"
    if name == "numeric":
        return _binary_numeric(raw)
    if name == "date":
        return POSTGRES_EPOCH + timedelta(days=struct.unpack("!i", raw)[0])
    if name in ("timestamp", "timestamptz"):
        return datetime(2000, 1, 1) + timedelta(microseconds=struct.unpack("!q", raw)[0])
    if name in ("text", "varchar", "name", "unknown"):
        return raw.decode("utf-8")
    raise SqlUnsupportedError(f"binary parameters of type {name} are not supported; send them as text")


def _binary_numeric(raw: bytes) -> Decimal:
    count, weight, sign, scale = struct.unpack("!hhHH", raw[:8])
    if sign == 0xC000:
        return Decimal("NaN")
    digits = struct.unpack(f"!{count}H", raw[8 : 8 + 2 * count])
    value = Decimal(0)
    for index, digit in enumerate(digits):
        value += Decimal(digit) * (Decimal(10_000) ** (weight - index))
    value = value.quantize(Decimal(1).scaleb(-scale)) if scale else value
    return -value if sign == 0x4000 else value
