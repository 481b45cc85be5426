"""A cube as a SQL table: one column per level attribute the engine answers, one per measure.

A level gives two columns, its key and its label attribute (when it has one), each named
``<dimension>_<attribute>``: ``geography_province``, ``geography_province_name_en``, ``time_year``.
Underscores rather than quoted ``"geography.province"`` names, because BI tools and ORMs write
unquoted identifiers. Measures keep their names (``revenue``, ``subscribers``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cube_models import Cube, Dimension, Level, Measure
from cube_models.measure import AggFunc
from cube_server.errors import SqlUnknownColumnError

COUNT_FUNCTIONS = (AggFunc.COUNT, AggFunc.COUNT_NONEMPTY, AggFunc.COUNT_DISTINCT)


@dataclass(frozen=True, slots=True)
class AttributeColumn:
    name: str
    dimension: Dimension
    level: Level
    is_key: bool
    sql_type: str
    description: str

    @property
    def cell_key(self) -> str:
        """Where the engine's cells and members hold this column's value."""
        return self.level.ref if self.is_key else f"{self.level.ref}.label"


@dataclass(frozen=True, slots=True)
class MeasureColumn:
    name: str
    measure: Measure
    sql_type: str
    description: str


TableColumn = AttributeColumn | MeasureColumn


@dataclass(frozen=True, slots=True)
class CubeTable:
    cube: Cube
    columns: tuple[TableColumn, ...]

    @property
    def name(self) -> str:
        return self.cube.name

    def column(self, name: str) -> TableColumn:
        """The column ``name`` (exact, else case-insensitive, as unquoted SQL identifiers fold case)."""
        for column in self.columns:
            if column.name == name:
                return column
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        raise SqlUnknownColumnError(
            f'column "{name}" does not exist in cube table {self.name!r}', column=name, table=self.name
        )

    @property
    def attributes(self) -> tuple[AttributeColumn, ...]:
        return tuple(c for c in self.columns if isinstance(c, AttributeColumn))

    @property
    def measures(self) -> tuple[MeasureColumn, ...]:
        return tuple(c for c in self.columns if isinstance(c, MeasureColumn))


def cube_table(cube: Cube, attribute_types: dict[str, str], measure_types: dict[str, str]) -> CubeTable:
    columns: list[TableColumn] = []
    for dimension in cube.dimensions:
        for level in dimension.levels:
            key = level.key_attribute
            columns.append(
                AttributeColumn(
                    f"{dimension.name}_{key.name}", dimension, level, True, attribute_types.get(key.ref, "VARCHAR"),
                    f"{dimension.label} / {level.label} (key of level {level.ref})",
                )
            )  # fmt: skip
            label = level.label_attribute_object
            if label is not None and label.name != key.name:
                columns.append(
                    AttributeColumn(
                        f"{dimension.name}_{label.name}", dimension, level, False,
                        attribute_types.get(label.ref, "VARCHAR"), f"{dimension.label} / {level.label} (label)",
                    )
                )  # fmt: skip
    for measure in cube.measures:
        description = measure.label + (f" = {measure.formula_text}" if measure.formula_text else "")
        columns.append(MeasureColumn(measure.name, measure, _measure_type(measure, measure_types), description))
    names = [column.name for column in columns]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        # dimension "a_b" with attribute "c" and dimension "a" with attribute "b_c": say so rather than guess
        raise SqlUnknownColumnError(f"cube {cube.name!r} has ambiguous SQL column names: {', '.join(clashes)}")
    return CubeTable(cube, tuple(columns))


def _measure_type(measure: Measure, input_types: dict[str, str]) -> str:
    """The SQL type of a measure's values (its input's type decides sums, minima and maxima)."""
    if measure.formula is not None:
        return f"DECIMAL(38,{measure.scale})" if measure.scale is not None else "DOUBLE"
    function = measure.function
    if function in COUNT_FUNCTIONS:
        return "BIGINT"
    if function is AggFunc.AVG:
        return "DOUBLE"
    source = input_types.get(measure.name, "DOUBLE").upper()
    if function is AggFunc.SUM:
        if source.startswith("DECIMAL"):
            scale = source.partition(",")[2].rstrip(")").strip() or "0"
            return f"DECIMAL(38,{scale})"
        return "HUGEINT" if source in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") else "DOUBLE"
    return source
