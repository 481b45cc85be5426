"""The catalog: every cube and shared dimension of the loaded models, looked up by name."""

from __future__ import annotations

from dataclasses import dataclass

from cube_models.cube import Cube
from cube_models.dimension import Dimension
from cube_models.errors import CubeNotFoundError


@dataclass(frozen=True, slots=True)
class ModelCatalog:
    name: str
    label: str
    cubes: tuple[Cube, ...]
    dimensions: tuple[Dimension, ...]
    description: str | None = None

    def cube(self, name: str) -> Cube:
        for cube in self.cubes:
            if cube.name == name:
                return cube
        raise CubeNotFoundError(f"no cube named {name!r}", cube=name)

    @property
    def cube_names(self) -> tuple[str, ...]:
        return tuple(cube.name for cube in self.cubes)
