"""Loading models: Cubes defaults, every issue reported with its JSON path, immutability."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cube_models import AggFunc, ModelError, load_model, model_from_dict, validate_model
from cube_models.json_schema import model_json_schema

ROOT = Path(__file__).resolve().parents[2]


def minimal(**cube: Any) -> dict[str, Any]:
    return {
        "dimensions": [{"name": "date", "levels": ["year", "month"]}, "flag"],
        "cubes": [
            {
                "name": "sales",
                "dimensions": ["date", "flag"],
                "mappings": {"date.year": "sales.year", "date.month": "sales.month"},
                **cube,
            }
        ],
    }


def issues_of(raw: Any) -> list[str]:
    with pytest.raises(ModelError) as caught:
        model_from_dict(raw)
    return [f"{issue.path}: {issue.message}" for issue in caught.value.issues]


def test_load_telecom_model_has_contract_names() -> None:
    catalog = load_model(ROOT / "examples" / "telecom" / "model.json")
    cube = catalog.cube("fixed_line_revenue")
    assert [d.name for d in cube.dimensions] == ["time", "geography", "organisation", "product", "customer", "channel"]
    assert cube.dimension("time").hierarchy().levels == ("year", "quarter", "month", "day", "hour", "minute", "second")
    assert cube.dimension("time").hierarchy("weekly").levels == ("isoyear", "isoweek", "day")
    assert cube.dimension("geography").hierarchy().levels == (
        "scope",
        "continent",
        "country",
        "region",
        "province",
        "city",
    )
    assert [m.name for m in cube.measures] == ["revenue", "call_minutes", "record_count", "subscribers", "arpu"]
    assert cube.measure("subscribers").function is AggFunc.COUNT_DISTINCT
    assert cube.measure("arpu").is_calculated and cube.measure("arpu").formula.names() == {"revenue", "subscribers"}


def test_load_applies_cubes_defaults() -> None:
    catalog = model_from_dict(minimal(aggregates=[{"name": "amount_sum", "function": "sum", "measure": "amount"}]))
    cube = catalog.cube("sales")
    date = cube.dimension("date")
    assert date.default_hierarchy_name == "default"
    assert date.hierarchy().levels == ("year", "month")
    assert date.level("year").key == "year" and date.level("year").label_attribute is None
    assert cube.dimension("flag").is_flat
    assert cube.label == "Sales"
    assert cube.measure("amount_sum").label == "Sum of amount"
    # Cubes' implicit mapping: a flat dimension without details is a fact column named after it.
    assert cube.physical("flag.flag").column == "flag" and cube.physical("flag.flag").table == "sales"


def test_load_cube_without_measures_gets_fact_count() -> None:
    cube = model_from_dict(minimal()).cube("sales")
    assert [(m.name, m.function) for m in cube.measures] == [("fact_count", AggFunc.COUNT)]


def test_load_implicit_aggregates_follow_cubes_naming() -> None:
    raw = minimal(measures=[{"name": "amount", "aggregates": ["sum", "max"]}], implicit_aggregates=True)
    cube = model_from_dict(raw).cube("sales")
    assert [m.name for m in cube.measures] == ["amount_sum", "amount_max"]


def test_validation_collects_every_issue_with_json_paths() -> None:
    raw = {
        "dimensions": [
            {"name": "date", "levels": ["year"], "hierarchies": [{"name": "h", "levels": ["nope"]}]},
            {"name": "date", "levels": ["a"]},
        ],
        "cubes": [
            {
                "name": "sales",
                "dimensions": ["date", "ghost"],
                "aggregates": [
                    {"name": "a", "function": "sump", "measure": "x"},
                    {"name": "b", "formula": "a +"},
                    {"name": "c", "formula": "d * 2"},
                    {"name": "d", "formula": "c + 1"},
                    {"name": "e", "function": "sum"},
                ],
                "mappings": {
                    "date.nothing": "t.c",
                    "date.year": {"column": "ts", "extract": "fortnight"},
                    "date.a": "sales.a",
                },
                "unexpected": 1,
            }
        ],
    }
    issues = "\n".join(issues_of(raw))
    expected = [
        "$.cubes[0]: unknown key",
        "$.cubes[0].aggregates[0].function: 'sump' is not one of",
        "$.dimensions[0].hierarchies[0].levels[0]: unknown level 'nope'",
        "$.dimensions[1].name: duplicate dimension name 'date'",
        "$.cubes[0].dimensions[1]: unknown dimension 'ghost'",
        "$.cubes[0].aggregates[1].formula: cannot parse expression",
        "$.cubes[0].aggregates[2].formula: formula refers to itself",
        "$.cubes[0].aggregates[4]: function 'sum' needs a measure or an expression",
        "$.cubes[0].mappings[\"date.year\"].extract: unknown extract unit 'fortnight'",
        "$.cubes[0].mappings[\"date.nothing\"]: 'date.nothing' is not an attribute",
    ]
    for fragment in expected:
        assert fragment in issues, f"{fragment!r} missing from:\n{issues}"


def test_validation_rejects_unknown_formula_names_and_bad_joins() -> None:
    raw = minimal(
        aggregates=[{"name": "r", "formula": "ghost / 2"}],
        joins=[
            {"master": "elsewhere.id", "detail": "dim_date.id"},
            {"master": "sales.k", "detail": "x.k", "unknown_member": "u"},
        ],
    )
    issues = "\n".join(issues_of(raw))
    assert "$.cubes[0].aggregates[0].formula: unknown aggregate 'ghost'" in issues
    assert "$.cubes[0].joins[0].master: table 'elsewhere' is not the fact table" in issues
    assert "$.cubes[0].joins[1].unknown_member: unknown_member needs method 'master'" in issues


def test_validation_reports_unreadable_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"cubes": [', encoding="utf-8")
    [issue] = validate_model(broken)
    assert "invalid JSON" in issue.message and issue.file == str(broken)
    assert validate_model(tmp_path / "missing.json")[0].message == "file not found"


def test_load_bundle_directory_merges_parts(tmp_path: Path) -> None:
    bundle = tmp_path / "shop.cubesmodel"
    bundle.mkdir()
    (bundle / "model.json").write_text(json.dumps({"name": "shop"}), encoding="utf-8")
    (bundle / "dim_date.json").write_text(json.dumps({"name": "date", "levels": ["year"]}), encoding="utf-8")
    (bundle / "cube_sales.json").write_text(json.dumps({"name": "sales", "dimensions": ["date"]}), encoding="utf-8")
    catalog = load_model(bundle)
    assert catalog.name == "shop" and catalog.cube("sales").dimension("date").levels[0].name == "year"


def test_model_objects_are_immutable() -> None:
    cube = model_from_dict(minimal()).cube("sales")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cube.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cube.dimensions.append(cube.dimensions[0])  # type: ignore[attr-defined]


def test_json_schema_is_valid_and_accepts_every_example() -> None:
    schema = model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    model = json.loads((ROOT / "examples" / "telecom" / "model.json").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(model)) == []
