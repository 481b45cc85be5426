"""A cube as a SQL table: one column per level attribute the engine answers, one per measure.

A level gives one column per attribute (its key first, then its label, then the others), each named
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
    is_label: bool = False
    attribute_ref: str = ""  # dimension.attribute

    @property
    def cell_key(self) -> str:
        """Where the engine's cells and members hold this column's value (cells hold keys and labels only: the
        other attributes are looked up in the level's members)."""
        if self.is_key:
            return self.level.ref
        return f"{self.level.ref}.label" if self.is_label else self.attribute_ref

    @property
    def in_cells(self) -> bool:
        return self.is_key or self.is_label


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
            key, label = level.key_attribute, level.label_attribute_object
            ordered = [key, *(a for a in (label,) if a is not None and a.name != key.name)]
            ordered += [a for a in level.attributes if a not in ordered]
            for attribute in ordered:
                role = "key" if attribute is key else "label" if attribute is label else "attribute"
                columns.append(
                    AttributeColumn(
                        f"{dimension.name}_{attribute.name}", dimension, level, attribute is key,
                        attribute_types.get(attribute.ref, "VARCHAR"),
                        f"{dimension.label} / {level.label} ({role} of level {level.ref})",
                        is_label=attribute is label and attribute is not key, attribute_ref=attribute.ref,
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
