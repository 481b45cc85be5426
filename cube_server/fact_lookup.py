"""One fact by its key: every field of the fact row whose key column equals the given text."""

from __future__ import annotations

import re
import time
from typing import Any

import sqlalchemy as sa

from cube_server.engine import CubeEngine
from cube_server.errors import FactNotFoundError
from cube_server.query import Cut
from cube_server.render import INTEGER_TYPES, CutRenderer, cut_refs
from cube_server.resolve import bind_cuts
from cube_server.rows import fact_fields, field_expression
from cube_server.star import STRING_TYPES

_INTEGER = re.compile(r"-?\d{1,18}")


def get_fact(engine: CubeEngine, cube_name: str, key: str, cuts: tuple[Cut, ...] = ()) -> dict[str, Any]:
    """The fact whose key is ``key`` (compared as a number when the key column holds integers) within ``cuts``.

    Raises :class:`FactNotFoundError` when there is no such fact in the cuts (a fact outside them is answered
    exactly as a missing one), or the cube declares no key.
    """
    star = engine.star(cube_name)
    cube = star.cube
    if cube.key is None:
        raise FactNotFoundError(f"cube {cube.name!r} has no fact key, so its facts have no ids", cube=cube.name)
    key_column = field_expression(star, cube.key)
    key_type = engine.backend.describe(sa.select(key_column.label("k")).select_from(star.from_clause))["k"].upper()
    condition: sa.ColumnElement[bool]
    if key_type in INTEGER_TYPES:
        if not _INTEGER.fullmatch(key):
            raise _not_found(cube.name, key)
        condition = key_column == int(key)
    elif key_type in STRING_TYPES:
        condition = key_column == key
    else:
        condition = sa.cast(key_column, sa.String) == key
    fields = fact_fields(star)
    labels = {name: f"f{index}" for index, name in enumerate(fields)}
    bound = bind_cuts(cube, cuts)
    renderer = CutRenderer(star, engine.attribute_types(cube.name))
    statement = (
        sa.select(*(field_expression(star, name).label(labels[name]) for name in fields))
        .select_from(star.from_clause_for(set(fields) | cut_refs(bound)))
        .where(condition, *(renderer.condition(cut) for cut in bound))
        .limit(1)
    )
    deadline = time.monotonic() + engine.settings.query_timeout_ms / 1000
    rows = engine.backend.execute(engine.backend.compile(statement), deadline).to_pylist()
    if not rows:
        raise _not_found(cube.name, key)
    return {name: rows[0][labels[name]] for name in fields}


def _not_found(cube: str, key: str) -> FactNotFoundError:
    return FactNotFoundError(f"no fact with id {key!r} in cube {cube!r}", cube=cube, fact=key)
