"""The model as JSON for ``GET /v1/cubes/{cube}``: what a client needs to build queries and labels."""

from __future__ import annotations

from typing import Any

from cube_models import Cube, Dimension, Level


def cube_summary(cube: Cube) -> dict[str, Any]:
    return {"name": cube.name, "label": cube.label, "category": cube.category, "description": cube.description}


def _level(level: Level, types: dict[str, str]) -> dict[str, Any]:
    return {
        "name": level.name,
        "ref": level.ref,
        "label": level.label,
        "key": level.key,
        "label_attribute": level.label_attribute,
        "order_attribute": level.order_attribute,
        "order": level.order,
        "cardinality": level.cardinality,
        "role": level.role,
        "attributes": [
            {"name": a.name, "ref": a.ref, "label": a.label, "type": types.get(a.ref)} for a in level.attributes
        ],
    }


def _dimension(dimension: Dimension, types: dict[str, str]) -> dict[str, Any]:
    return {
        "name": dimension.name,
        "label": dimension.label,
        "description": dimension.description,
        "role": dimension.role,
        "default_hierarchy_name": dimension.default_hierarchy_name,
        "levels": [_level(level, types) for level in dimension.levels],
        "hierarchies": [{"name": h.name, "label": h.label, "levels": list(h.levels)} for h in dimension.hierarchies],
    }


def cube_model(cube: Cube, types: dict[str, str]) -> dict[str, Any]:
    return {
        **cube_summary(cube),
        "key": cube.key,
        "dimensions": [_dimension(d, types) for d in cube.dimensions],
        "measures": [
            {
                "name": m.name,
                "label": m.label,
                "function": m.function.value if m.function else None,
                "formula": m.formula_text,
                "additive": m.is_additive,
                "format": m.format,
                "scale": m.scale,
            }
            for m in cube.measures
        ],
    }
