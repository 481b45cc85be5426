"""The model as Cubes' Slicer serves it: ``/info``, ``/version``, ``/cubes`` and ``/cube/{cube}/model``.

Keys follow Cubes' order; null keys are left out, but ``info`` is always an object and ``locales``
always a list (CubesViewer reads ``"cv-datefilter" in dimension.info``). Physical details (mappings,
joins, fact table) are never sent.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from api.slicer.output import without_nulls
from api.slicer.params import record_limit
from api.slicer.refs import WireRefs
from cube_models import Attribute, Cube, Dimension, FactColumn, Hierarchy, Level, Measure, ModelCatalog
from cube_server.settings import Settings

API_VERSION = 2
CUBES_VERSION = "1.1"  # the Cubes release whose Slicer API this surface speaks
FEATURES = {
    "actions": ["aggregate", "fact", "members", "facts", "cell"],
    "aggregate_functions": ["sum", "count_nonempty", "count", "count_distinct", "min", "max", "avg"],
    "post_aggregate_functions": [],
}


def server_version() -> str:
    try:
        return metadata.version("cube-server")
    except metadata.PackageNotFoundError:
        return "unknown"


def version_body() -> dict[str, Any]:
    return {"version": CUBES_VERSION, "server_version": server_version(), "api_version": API_VERSION}


def info_body(catalog: ModelCatalog, settings: Settings) -> dict[str, Any]:
    return {
        "name": catalog.name,
        "label": catalog.label,
        "description": catalog.description,
        "copyright": None,
        "license": None,
        "maintainer": None,
        "contributors": None,
        "visualizers": None,
        "keywords": None,
        "related": None,
        "json_record_limit": record_limit(settings),
        "cubes_version": CUBES_VERSION,
        "timezone": settings.timezone,
        "first_weekday": settings.first_weekday,
        "api_version": API_VERSION,
        "authentication": {"type": "none"},
    }


def cubes_body(catalog: ModelCatalog) -> list[dict[str, Any]]:
    return [{"name": c.name, "label": c.label, "category": c.category, "info": c.info} for c in catalog.cubes]


def cube_body(cube: Cube, refs: WireRefs) -> dict[str, Any]:
    return without_nulls(
        {
            "name": cube.name,
            "info": cube.info,
            "label": cube.label,
            "description": cube.description,
            "category": cube.category,
            "aggregates": [_aggregate(measure) for measure in cube.measures],
            "measures": [_measure(column) for column in cube.fact_columns],
            "details": [_attribute(detail, detail.name) for detail in cube.details],
            "dimensions": [_dimension(dimension, refs) for dimension in cube.dimensions],
            "key": cube.key,
            "features": FEATURES,
        }
    )


def _aggregate(measure: Measure) -> dict[str, Any]:
    return without_nulls(
        {
            "name": measure.name,
            "info": measure.info,
            "label": measure.label,
            "description": measure.description,
            "format": measure.format,
            "ref": measure.ref,
            "function": measure.function.value if measure.function else None,
            "formula": measure.formula_text,
            "measure": measure.column,
        }
    )


def _measure(column: FactColumn) -> dict[str, Any]:
    return {"name": column.name, "info": {}, "label": column.label, "ref": column.name}


def _attribute(attribute: Attribute, ref: str) -> dict[str, Any]:
    return {"name": attribute.name, "info": {}, "label": attribute.label, "ref": ref, "locales": []}


def _level(level: Level, refs: WireRefs) -> dict[str, Any]:
    return without_nulls(
        {
            "name": level.name,
            "info": level.info,
            "label": level.label,
            "description": level.description,
            "role": level.role,
            "key": level.key,
            "label_attribute": level.label_attribute or level.key,
            "order_attribute": level.order_attribute,
            "order": level.order,
            "cardinality": level.cardinality,
            "attributes": [_attribute(attribute, refs.wire(attribute.ref)) for attribute in level.attributes],
        }
    )


def _hierarchy(hierarchy: Hierarchy) -> dict[str, Any]:
    return {"name": hierarchy.name, "info": {}, "label": hierarchy.label, "levels": list(hierarchy.levels)}


def _dimension(dimension: Dimension, refs: WireRefs) -> dict[str, Any]:
    return without_nulls(
        {
            "name": dimension.name,
            "info": dimension.info,
            "label": dimension.label,
            "description": dimension.description,
            "default_hierarchy_name": dimension.default_hierarchy_name,
            "role": dimension.role,
            "cardinality": dimension.cardinality,
            "category": dimension.category,
            "levels": [_level(level, refs) for level in dimension.levels],
            "hierarchies": [_hierarchy(hierarchy) for hierarchy in dimension.hierarchies],
            "is_flat": dimension.is_flat,
            "has_details": any(len(level.attributes) > 1 for level in dimension.levels),
        }
    )
