"""The committed JSON Schema for editors stays identical to the one validation uses."""

from __future__ import annotations

import json
from pathlib import Path

from cube_models.json_schema import model_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "model.schema.json"


def test_committed_schema_matches_code() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == model_json_schema(), "regenerate with: cube-server schema > schemas/model.schema.json"
