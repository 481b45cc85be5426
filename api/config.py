"""Build the one ``Settings`` object from the environment (``CUBE_*``) and command-line overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from cube_server.settings import Settings

ENV_PREFIX = "CUBE_"


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """``CUBE_QUERY_TIMEOUT_MS=5000`` sets ``query_timeout_ms``; explicit overrides win."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = environ.get(ENV_PREFIX + field.name.upper())
        if raw is None:
            continue
        values[field.name] = _parse(field.name, field.default, raw)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return Settings(**values)


def _parse(name: str, default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    return raw
