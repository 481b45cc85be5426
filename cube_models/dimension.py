"""Dimensions, hierarchies, levels and attributes: the logical axes of a cube (immutable once loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cube_models.errors import AttributeNotFoundError, HierarchyNotFoundError, LevelNotFoundError


@dataclass(frozen=True, slots=True)
class Attribute:
    """A column-like property of a level (its key, its label, or any other detail)."""

    name: str
    label: str
    dimension: str

    @property
    def ref(self) -> str:
        """The wire name of the attribute: ``dimension.attribute``."""
        return f"{self.dimension}.{self.name}"


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    label: str
    dimension: str
    attributes: tuple[Attribute, ...]
    key: str
    label_attribute: str | None
    order_attribute: str
    order: str = "asc"
    cardinality: str | None = None
    role: str | None = None
    description: str | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ref(self) -> str:
        return f"{self.dimension}.{self.name}"

    @property
    def key_attribute(self) -> Attribute:
        return self.attribute(self.key)

    @property
    def label_attribute_object(self) -> Attribute | None:
        return self.attribute(self.label_attribute) if self.label_attribute else None

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise AttributeNotFoundError(f"level {self.ref!r} has no attribute {name!r}", attribute=name)


@dataclass(frozen=True, slots=True)
class Hierarchy:
    name: str
    label: str
    levels: tuple[str, ...]

    def depth_of(self, level: str) -> int:
        """1-based depth of ``level`` in this hierarchy."""
        return self.levels.index(level) + 1


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    label: str
    levels: tuple[Level, ...]
    hierarchies: tuple[Hierarchy, ...]
    default_hierarchy_name: str
    role: str | None = None
    description: str | None = None
    cardinality: str | None = None
    category: str | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_flat(self) -> bool:
        return len(self.levels) == 1

    def level(self, name: str) -> Level:
        for level in self.levels:
            if level.name == name:
                return level
        raise LevelNotFoundError(f"dimension {self.name!r} has no level {name!r}", dimension=self.name, level=name)

    def hierarchy(self, name: str | None = None) -> Hierarchy:
        wanted = name or self.default_hierarchy_name
        for hierarchy in self.hierarchies:
            if hierarchy.name == wanted:
                return hierarchy
        raise HierarchyNotFoundError(
            f"dimension {self.name!r} has no hierarchy {wanted!r}", dimension=self.name, hierarchy=wanted
        )

    def levels_of(self, hierarchy: Hierarchy) -> tuple[Level, ...]:
        return tuple(self.level(name) for name in hierarchy.levels)

    def attribute(self, name: str) -> tuple[Level, Attribute]:
        for level in self.levels:
            for attribute in level.attributes:
                if attribute.name == name:
                    return level, attribute
        raise AttributeNotFoundError(
            f"dimension {self.name!r} has no attribute {name!r}", dimension=self.name, attribute=name
        )
