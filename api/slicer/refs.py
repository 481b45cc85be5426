"""Cubes' wire names of attributes, and their translation to and from the engine's names.

Cubes keys result rows by attribute ``ref``: ``dimension.attribute``, except that Cubes 1.1 calls the
one attribute of a flat dimension by the dimension's bare name (``year``, not ``year.year``). The
engine always says ``dimension.attribute``, and names a drilled level's key ``dimension.level`` and its
label ``dimension.level.label``; :class:`WireRefs` translates both ways for one cube.
"""

from __future__ import annotations

from cube_models import Attribute, Cube, Dimension, Level

FACT_KEY = "__fact_key__"


def has_bare_ref(dimension: Dimension) -> bool:
    """A flat dimension without details: one level with one attribute."""
    return dimension.is_flat and len(dimension.levels[0].attributes) == 1


class WireRefs:
    def __init__(self, cube: Cube, bare_flat_refs: bool) -> None:
        self.cube = cube
        self._wire: dict[str, str] = {}
        self._internal: dict[str, str] = {}
        self._order: dict[str, str] = {}
        self._attributes: dict[str, Attribute] = {}
        for dimension in cube.dimensions:
            bare = bare_flat_refs and has_bare_ref(dimension)
            for level in dimension.levels:
                for attribute in level.attributes:
                    wire = dimension.name if bare else attribute.ref
                    self._wire[attribute.ref] = wire
                    self._internal[wire] = attribute.ref
                    self._attributes[wire] = attribute
                    label = level.label_attribute
                    is_label = label is not None and attribute.name == label and attribute.name != level.key
                    self._order[attribute.ref] = f"{level.ref}.label" if is_label else level.ref

    def wire(self, ref: str) -> str:
        """The wire ref of an engine attribute ref (other names, such as measures, are kept)."""
        return self._wire.get(ref, ref)

    def internal(self, ref: str) -> str:
        """The engine's name for a wire ref; engine refs and other names are kept."""
        return self._internal.get(ref, ref)

    def attribute(self, ref: str) -> Attribute | None:
        return self._attributes.get(ref) or self._attributes.get(self.wire(ref))

    def order_ref(self, ref: str) -> str:
        """What the engine orders cells by for a wire ref: a level, a level's label, or a measure name."""
        internal = self.internal(ref)
        return self._order.get(internal, internal)

    def level_columns(self, level: Level) -> list[tuple[str, str]]:
        """(engine column, wire ref) of a level in the engine's cells and members: its key, then its label."""
        columns = [(level.ref, self.wire(level.key_attribute.ref))]
        if level.label_attribute and level.label_attribute != level.key:
            columns.append((f"{level.ref}.label", self.wire(level.attribute(level.label_attribute).ref)))
        return columns

    def fact_field(self, name: str) -> str:
        """The wire name of an engine fact field: the key is ``__fact_key__``."""
        return FACT_KEY if name == self.cube.key else self.wire(name)

    def fact_field_internal(self, wire: str) -> str:
        return self.cube.key if wire == FACT_KEY and self.cube.key else self.internal(wire)
