"""The JSON Schema of model files, for editors and for the structural half of validation.

It accepts the Cubes model format (bare-string shorthands included) plus this server's extensions:
``formula`` and ``scale`` on aggregates, ``unknown_member`` on joins, ``type`` hints on attributes.
Export it with ``cube-server schema`` (or :func:`model_json_schema`) and point an editor at it.
"""

from __future__ import annotations

import copy
from typing import Any

NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 128}
TEXT = {"type": "string", "maxLength": 10_000}
INFO = {"type": "object"}
ORDER = {"type": "string", "pattern": "^(asc|desc)"}
CARDINALITY = {"enum": ["tiny", "low", "medium", "high"]}
NONADDITIVE = {"enum": [None, "none", "all", "any", "time"]}
COMMON = {"name": NAME, "label": TEXT, "description": TEXT, "info": INFO}

ATTRIBUTE = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                **COMMON,
                "format": TEXT,
                "order": ORDER,
                "missing_value": {},
                "locales": {"type": "array", "items": {"type": "string"}},
                "expression": TEXT,
                "type": {"enum": ["string", "integer", "decimal", "float", "boolean", "date", "timestamp"]},
            },
        },
    ]
}

LEVEL = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                **COMMON,
                "attributes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/attribute"}},
                "key": NAME,
                "label_attribute": NAME,
                "order_attribute": NAME,
                "order": ORDER,
                "cardinality": CARDINALITY,
                "role": NAME,
                "nonadditive": NONADDITIVE,
            },
        },
    ]
}

HIERARCHY = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {**COMMON, "levels": {"type": "array", "minItems": 1, "items": NAME}},
        },
    ]
}

DIMENSION = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                **COMMON,
                "role": NAME,
                "category": TEXT,
                "cardinality": CARDINALITY,
                "nonadditive": NONADDITIVE,
                "levels": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/level"}},
                "attributes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/attribute"}},
                "key": NAME,
                "label_attribute": NAME,
                "order_attribute": NAME,
                "order": ORDER,
                "hierarchies": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/hierarchy"}},
                "hierarchy": {"type": "array", "minItems": 1, "items": NAME},
                "default_hierarchy_name": NAME,
                "template": NAME,
            },
        },
    ]
}

DIMENSION_LINK = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": NAME,
                "hierarchies": {"type": "array", "items": NAME},
                "exclude_hierarchies": {"type": "array", "items": NAME},
                "default_hierarchy_name": NAME,
                "cardinality": CARDINALITY,
                "nonadditive": NONADDITIVE,
                "alias": NAME,
            },
        },
    ]
}

MEASURE = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                **COMMON,
                "format": TEXT,
                "order": ORDER,
                "missing_value": {},
                "expression": TEXT,
                "aggregates": {"type": "array", "items": NAME},
                "nonadditive": NONADDITIVE,
                "window_size": {"type": "integer"},
                "formula": TEXT,
            },
        },
    ]
}

AGGREGATE = {
    "oneOf": [
        NAME,
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                **COMMON,
                "format": TEXT,
                "order": ORDER,
                "missing_value": {},
                "function": {"enum": ["sum", "count", "count_nonempty", "count_distinct", "min", "max", "avg"]},
                "measure": NAME,
                "expression": TEXT,
                "formula": TEXT,
                "scale": {"type": "integer", "minimum": 0, "maximum": 18},
                "determined_dimensions": {
                    "type": "array",
                    "items": NAME,
                    "description": "count_distinct only: dimensions whose levels the counted key determines "
                    "(each account has one segment), so cuboids may roll them up",
                },
                "nonadditive": NONADDITIVE,
                "window_size": {"type": "integer"},
            },
        },
    ]
}

PHYSICAL_COLUMN = {
    "oneOf": [
        {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$"},
        {
            "type": "object",
            "required": ["column"],
            "additionalProperties": False,
            "properties": {"schema": NAME, "table": NAME, "column": NAME, "extract": NAME},
        },
    ]
}

JOIN = {
    "type": "object",
    "required": ["master", "detail"],
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "master": {"$ref": "#/$defs/physical_column"},
        "detail": {"$ref": "#/$defs/physical_column"},
        "alias": NAME,
        "method": {"enum": ["match", "master", "detail"]},
        "unknown_member": {"type": "string", "maxLength": 128},
    },
}

CUBOID = {
    "type": "object",
    "required": ["name", "levels"],
    "additionalProperties": False,
    "description": "a precomputed rollup: one level per listed dimension (dimension[@hierarchy]:level); "
    "unlisted dimensions are rolled up to all",
    "properties": {
        "name": NAME,
        "levels": {
            "type": "array",
            "maxItems": 64,
            "items": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]*(@[A-Za-z_][A-Za-z0-9_]*)?:[A-Za-z_][A-Za-z0-9_]*$",
            },
        },
        "description": TEXT,
    },
}

CUBE = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        **COMMON,
        "category": TEXT,
        "dimensions": {"type": "array", "items": {"$ref": "#/$defs/dimension_link"}},
        "measures": {"type": "array", "items": {"$ref": "#/$defs/measure"}},
        "aggregates": {"type": "array", "items": {"$ref": "#/$defs/aggregate"}},
        "details": {"type": "array", "items": {"$ref": "#/$defs/attribute"}},
        "key": NAME,
        "fact": NAME,
        "mappings": {"type": "object", "additionalProperties": {"$ref": "#/$defs/physical_column"}},
        "joins": {"type": "array", "items": {"$ref": "#/$defs/join"}},
        "cuboids": {"type": "array", "maxItems": 10_000, "items": {"$ref": "#/$defs/cuboid"}},
        "browser_options": {"type": "object"},
        "options": {"type": "object"},
        "store": NAME,
        "implicit_aggregates": {"type": "boolean"},
        "nonadditive": NONADDITIVE,
        "hierarchies": {"type": "object"},
        "locale": {"type": "string"},
    },
}

MODEL = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cube-server model (a superset of the Cubes model format)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **COMMON,
        "$schema": {"type": "string", "description": "the schema an editor should use, e.g. model.schema.json"},
        "locale": {"type": "string"},
        "cubes": {"type": "array", "items": {"$ref": "#/$defs/cube"}},
        "dimensions": {"type": "array", "items": {"$ref": "#/$defs/dimension"}},
        "store": NAME,
        "provider": NAME,
        "mappings": {"type": "object", "additionalProperties": {"$ref": "#/$defs/physical_column"}},
        "joins": {"type": "array", "items": {"$ref": "#/$defs/join"}},
        "browser_options": {"type": "object"},
        "options": {"type": "object"},
        "schema": NAME,
        "public_dimensions": {"type": "array", "items": NAME},
    },
    "$defs": {
        "attribute": ATTRIBUTE,
        "level": LEVEL,
        "hierarchy": HIERARCHY,
        "dimension": DIMENSION,
        "dimension_link": DIMENSION_LINK,
        "measure": MEASURE,
        "aggregate": AGGREGATE,
        "physical_column": PHYSICAL_COLUMN,
        "join": JOIN,
        "cube": CUBE,
        "cuboid": CUBOID,
    },
}


def model_json_schema() -> dict[str, Any]:
    """A fresh copy of the model schema (callers may mutate it)."""
    return copy.deepcopy(MODEL)
