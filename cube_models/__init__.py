"""JSON cube definitions (a superset of the Cubes model format) -> validated, immutable model objects."""

from cube_models.catalog import ModelCatalog
from cube_models.cube import ColumnRef, Cube, Join
from cube_models.dimension import Attribute, Dimension, Hierarchy, Level
from cube_models.errors import Issue, ModelError
from cube_models.load import load_model, model_from_dict, validate_model
from cube_models.measure import AggFunc, FactColumn, Measure

__all__ = [
    "AggFunc",
    "Attribute",
    "ColumnRef",
    "Cube",
    "Dimension",
    "FactColumn",
    "Hierarchy",
    "Issue",
    "Join",
    "Level",
    "Measure",
    "ModelCatalog",
    "ModelError",
    "load_model",
    "model_from_dict",
    "validate_model",
]
