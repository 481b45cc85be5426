"""The semantic pass of model loading: apply the Cubes defaults, resolve names, collect every issue.

Each ``_build_*`` function reads one raw JSON object, appends problems to ``self.issues`` with the
object's JSON path, and returns an immutable model object (or ``None`` when nothing usable is left).
"""

from __future__ import annotations

from typing import Any

from cube_models.catalog import ModelCatalog
from cube_models.cube import EXTRACT_UNITS, ColumnRef, Cube, CuboidDeclaration, Join
from cube_models.dimension import Attribute, Dimension, Hierarchy, Level
from cube_models.errors import Issue
from cube_models.expression import Expr, ExpressionSyntaxError, parse_expression
from cube_models.measure import AggFunc, FactColumn, Measure

TIME_ROLES = {
    "year",
    "quarter",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "week",
    "weeknum",
    "dow",
    "isoyear",
    "isoweek",
    "isoweekday",
}
DEFAULT_LABELS = {
    AggFunc.SUM: "Sum of {}",
    AggFunc.COUNT: "Record Count",
    AggFunc.COUNT_NONEMPTY: "Non-empty count of {}",
    AggFunc.MIN: "{} Minimum",
    AggFunc.MAX: "{} Maximum",
    AggFunc.AVG: "Average of {}",
    AggFunc.COUNT_DISTINCT: "Distinct count of {}",
}


def derive_label(name: str) -> str:
    """Cubes' derived label: underscores become spaces, first letter capitalised.

    >>> derive_label("irbd_balance")
    'Irbd balance'
    """
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


def build_catalog(raw: dict[str, Any], *, file: str | None = None) -> tuple[ModelCatalog, list[Issue]]:
    builder = _Builder(file)
    catalog = builder.catalog(raw)
    return catalog, builder.issues


class _Builder:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def issue(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, self.file))

    # ---- model -------------------------------------------------------------------------------
    def catalog(self, raw: dict[str, Any]) -> ModelCatalog:
        dimensions: dict[str, Dimension] = {}
        for index, item in enumerate(_list(raw.get("dimensions"))):
            path = f"$.dimensions[{index}]"
            dimension = self.dimension(item, path)
            if dimension is None:
                continue
            if dimension.name in dimensions:
                self.issue(f"{path}.name", f"duplicate dimension name {dimension.name!r}")
            dimensions[dimension.name] = dimension
        model_mappings = raw.get("mappings") if isinstance(raw.get("mappings"), dict) else {}
        model_joins = [j for j in _list(raw.get("joins")) if isinstance(j, dict)]
        cubes: list[Cube] = []
        for index, item in enumerate(_list(raw.get("cubes"))):
            path = f"$.cubes[{index}]"
            cube = self.cube(item, path, dimensions, model_mappings, model_joins)
            if cube is None:
                continue
            if any(existing.name == cube.name for existing in cubes):
                self.issue(f"{path}.name", f"duplicate cube name {cube.name!r}")
            cubes.append(cube)
        name = raw.get("name") if isinstance(raw.get("name"), str) else "model"
        return ModelCatalog(
            name=name,
            label=_text(raw.get("label")) or derive_label(name),
            description=_text(raw.get("description")),
            cubes=tuple(cubes),
            dimensions=tuple(dimensions.values()),
        )

    # ---- dimensions --------------------------------------------------------------------------
    def dimension(self, raw: Any, path: str) -> Dimension | None:
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        name = raw["name"]
        role = raw.get("role") if isinstance(raw.get("role"), str) else None
        if "levels" in raw and "attributes" in raw:
            self.issue(path, "a dimension has either levels or attributes, not both")
        if "hierarchy" in raw and "hierarchies" in raw:
            self.issue(path, "a dimension has either hierarchy or hierarchies, not both")
        raw_levels = _list(raw.get("levels"))
        if not raw_levels:
            flat = {"name": name, "attributes": raw.get("attributes") or [name]}
            for key in ("key", "label_attribute", "order_attribute", "order", "cardinality"):
                if key in raw:
                    flat[key] = raw[key]
            raw_levels = [flat]
        levels: list[Level] = []
        for index, item in enumerate(raw_levels):
            level = self.level(item, f"{path}.levels[{index}]", name, role, raw.get("cardinality"))
            if level is None:
                continue
            if any(existing.name == level.name for existing in levels):
                self.issue(f"{path}.levels[{index}].name", f"duplicate level name {level.name!r}")
            levels.append(level)
        self._check_unique_attributes(levels, path)
        hierarchies = self.hierarchies(raw, path, [level.name for level in levels])
        default = raw.get("default_hierarchy_name")
        names = [h.name for h in hierarchies]
        if isinstance(default, str) and default not in names:
            self.issue(f"{path}.default_hierarchy_name", f"no hierarchy named {default!r}")
            default = None
        if not isinstance(default, str):
            default = "default" if "default" in names else (names[0] if names else "default")
        used = {level for h in hierarchies for level in h.levels}
        return Dimension(
            name=name,
            label=_text(raw.get("label")) or derive_label(name),
            description=_text(raw.get("description")),
            role=role,
            category=_text(raw.get("category")),
            cardinality=raw.get("cardinality") if isinstance(raw.get("cardinality"), str) else None,
            levels=tuple(level for level in levels if level.name in used),
            hierarchies=tuple(hierarchies),
            default_hierarchy_name=default,
            info=raw.get("info") if isinstance(raw.get("info"), dict) else {},
        )

    def level(self, raw: Any, path: str, dimension: str, role: str | None, cardinality: Any) -> Level | None:
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        name = raw["name"]
        label = _text(raw.get("label")) or derive_label(name)
        attributes: list[Attribute] = []
        for index, item in enumerate(_list(raw.get("attributes")) or [name]):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            attr_name = item["name"]
            # A level's only attribute inherits the level's label, as in Cubes.
            default_label = label if attr_name == name else derive_label(attr_name)
            attributes.append(Attribute(attr_name, _text(item.get("label")) or default_label, dimension))
            if item.get("expression") is not None:
                self.issue(f"{path}.attributes[{index}].expression", "attribute expressions are not supported")
        names = [a.name for a in attributes]
        if not names:
            return None
        key = raw.get("key") if isinstance(raw.get("key"), str) else names[0]
        label_attribute = raw.get("label_attribute")
        if not isinstance(label_attribute, str):
            label_attribute = names[1] if len(names) > 1 else None
        order_attribute = raw.get("order_attribute") if isinstance(raw.get("order_attribute"), str) else key
        for field_name, value in (
            ("key", key),
            ("label_attribute", label_attribute),
            ("order_attribute", order_attribute),
        ):
            if value is not None and value not in names:
                self.issue(f"{path}.{field_name}", f"level {name!r} has no attribute {value!r}")
        level_role = raw.get("role") if isinstance(raw.get("role"), str) else None
        if level_role is None and role == "time" and name in TIME_ROLES:
            level_role = name
        order = raw.get("order") if isinstance(raw.get("order"), str) else "asc"
        level_cardinality = raw.get("cardinality", cardinality)
        return Level(
            name=name,
            label=label,
            dimension=dimension,
            attributes=tuple(attributes),
            key=key if key in names else names[0],
            label_attribute=label_attribute if label_attribute in names else None,
            order_attribute=order_attribute if order_attribute in names else names[0],
            order="desc" if order.startswith("desc") else "asc",
            cardinality=level_cardinality if isinstance(level_cardinality, str) else None,
            role=level_role,
            description=_text(raw.get("description")),
            info=raw.get("info") if isinstance(raw.get("info"), dict) else {},
        )

    def hierarchies(self, raw: dict[str, Any], path: str, level_names: list[str]) -> list[Hierarchy]:
        if isinstance(raw.get("hierarchy"), list):
            raw_hierarchies: list[Any] = [{"name": "default", "levels": raw["hierarchy"]}]
        else:
            raw_hierarchies = _list(raw.get("hierarchies")) or [{"name": "default", "levels": level_names}]
        result: list[Hierarchy] = []
        for index, item in enumerate(raw_hierarchies):
            hpath = f"{path}.hierarchies[{index}]"
            if isinstance(item, str):
                self.issue(hpath, "a hierarchy must be an object with name and levels")
                continue
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            levels = [lv for lv in _list(item.get("levels")) or level_names if isinstance(lv, str)]
            for lindex, level in enumerate(levels):
                if level not in level_names:
                    self.issue(f"{hpath}.levels[{lindex}]", f"unknown level {level!r}")
            if len(set(levels)) != len(levels):
                self.issue(f"{hpath}.levels", "a level appears twice in the hierarchy")
            if any(h.name == item["name"] for h in result):
                self.issue(f"{hpath}.name", f"duplicate hierarchy name {item['name']!r}")
            label = _text(item.get("label")) or derive_label(item["name"])
            result.append(Hierarchy(item["name"], label, tuple(lv for lv in levels if lv in level_names)))
        return result

    def _check_unique_attributes(self, levels: list[Level], path: str) -> None:
        seen: dict[str, str] = {}
        for level in levels:
            for attribute in level.attributes:
                if attribute.name in seen and seen[attribute.name] != level.name:
                    self.issue(
                        path,
                        f"attribute {attribute.name!r} appears in levels {seen[attribute.name]!r} and {level.name!r}",
                    )
                seen.setdefault(attribute.name, level.name)

    # ---- cubes -------------------------------------------------------------------------------
    def cube(
        self,
        raw: Any,
        path: str,
        dimensions: dict[str, Dimension],
        model_mappings: dict[str, Any],
        model_joins: list[dict[str, Any]],
    ) -> Cube | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        name = raw["name"]
        fact = raw.get("fact") if isinstance(raw.get("fact"), str) else name
        linked = self.linked_dimensions(raw, path, dimensions)
        columns = self.fact_columns(raw, path)
        measures = self.measures(raw, path, columns)
        details = tuple(
            Attribute(item if isinstance(item, str) else item["name"], derive_label(str(item)), "")
            for item in _list(raw.get("details"))
            if isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("name"), str))
        )
        mappings = self.mappings({**model_mappings, **(raw.get("mappings") or {})}, path, fact)
        joins = self.joins(raw, path, fact, model_joins)
        cube = Cube(
            name=name,
            label=_text(raw.get("label")) or derive_label(name),
            description=_text(raw.get("description")),
            category=_text(raw.get("category")) or _text((raw.get("info") or {}).get("category")),
            fact=fact,
            key=raw.get("key") if isinstance(raw.get("key"), str) else None,
            dimensions=tuple(linked),
            measures=tuple(measures),
            fact_columns=tuple(columns),
            details=details,
            mappings=mappings,
            joins=tuple(joins),
            cuboids=tuple(self.cuboids(raw, path, linked)),
            info=raw.get("info") if isinstance(raw.get("info"), dict) else {},
        )
        self.check_mapping_targets(cube, path)
        self.check_determined_dimensions(cube, raw, path)
        return cube

    def cuboids(self, raw: dict[str, Any], path: str, dimensions: list[Dimension]) -> list[CuboidDeclaration]:
        by_name = {d.name: d for d in dimensions}
        result: list[CuboidDeclaration] = []
        for index, item in enumerate(_list(raw.get("cuboids"))):
            cpath = f"{path}.cuboids[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            levels: list[tuple[str, str, str]] = []
            for lindex, text in enumerate(_list(item.get("levels"))):
                if not isinstance(text, str) or ":" not in text:
                    continue
                spec, level = text.split(":", 1)
                dimension_name, _, hierarchy_name = spec.partition("@")
                dimension = by_name.get(dimension_name)
                lpath = f"{cpath}.levels[{lindex}]"
                if dimension is None:
                    self.issue(lpath, f"unknown dimension {dimension_name!r}")
                    continue
                hierarchy = next(
                    (
                        h
                        for h in dimension.hierarchies
                        if h.name == (hierarchy_name or dimension.default_hierarchy_name)
                    ),
                    None,
                )
                if hierarchy is None:
                    self.issue(lpath, f"dimension {dimension_name!r} has no hierarchy {hierarchy_name!r}")
                elif level not in hierarchy.levels:
                    self.issue(lpath, f"level {level!r} is not in hierarchy {hierarchy.name!r} of {dimension_name!r}")
                elif any(existing[0] == dimension_name for existing in levels):
                    self.issue(lpath, f"dimension {dimension_name!r} appears twice in the cuboid")
                else:
                    levels.append((dimension_name, hierarchy.name, level))
            if any(c.name == item["name"] for c in result):
                self.issue(f"{cpath}.name", f"duplicate cuboid name {item['name']!r}")
            result.append(CuboidDeclaration(item["name"], tuple(levels)))
        return result

    def check_determined_dimensions(self, cube: Cube, raw: dict[str, Any], path: str) -> None:
        names = {d.name for d in cube.dimensions}
        for index, item in enumerate(_list(raw.get("aggregates"))):
            if not isinstance(item, dict):
                continue
            determined = _list(item.get("determined_dimensions"))
            if determined and item.get("function") != "count_distinct":
                self.issue(
                    f"{path}.aggregates[{index}].determined_dimensions",
                    "only a count_distinct takes determined_dimensions",
                )
            for dindex, name in enumerate(determined):
                if isinstance(name, str) and name not in names:
                    self.issue(
                        f"{path}.aggregates[{index}].determined_dimensions[{dindex}]", f"unknown dimension {name!r}"
                    )

    def linked_dimensions(self, raw: dict[str, Any], path: str, dimensions: dict[str, Dimension]) -> list[Dimension]:
        result: list[Dimension] = []
        for index, link in enumerate(_list(raw.get("dimensions"))):
            lpath = f"{path}.dimensions[{index}]"
            link = {"name": link} if isinstance(link, str) else link
            if not isinstance(link, dict) or not isinstance(link.get("name"), str):
                continue
            dimension = dimensions.get(link["name"])
            if dimension is None:
                self.issue(lpath, f"unknown dimension {link['name']!r}")
                continue
            if "alias" in link:
                self.issue(f"{lpath}.alias", "dimension aliases are not supported")
            dimension = self._restrict_hierarchies(dimension, link, lpath)
            if any(existing.name == dimension.name for existing in result):
                self.issue(lpath, f"dimension {dimension.name!r} linked twice")
                continue
            result.append(dimension)
        return result

    def _restrict_hierarchies(self, dimension: Dimension, link: dict[str, Any], path: str) -> Dimension:
        known = [h.name for h in dimension.hierarchies]
        keep = [h for h in _list(link.get("hierarchies")) if isinstance(h, str)] or known
        drop = {h for h in _list(link.get("exclude_hierarchies")) if isinstance(h, str)}
        for name in [*keep, *drop]:
            if name not in known:
                self.issue(path, f"dimension {dimension.name!r} has no hierarchy {name!r}")
        hierarchies = tuple(h for h in dimension.hierarchies if h.name in keep and h.name not in drop)
        if not hierarchies:
            self.issue(path, "the link leaves the dimension without any hierarchy")
            return dimension
        default = link.get("default_hierarchy_name") or dimension.default_hierarchy_name
        names = [h.name for h in hierarchies]
        if default not in names:
            default = names[0]
        used = {level for h in hierarchies for level in h.levels}
        levels = tuple(level for level in dimension.levels if level.name in used)
        cardinality = link.get("cardinality") if isinstance(link.get("cardinality"), str) else dimension.cardinality
        return Dimension(
            name=dimension.name,
            label=dimension.label,
            levels=levels,
            hierarchies=hierarchies,
            default_hierarchy_name=default,
            role=dimension.role,
            description=dimension.description,
            cardinality=cardinality,
            category=dimension.category,
            info=dimension.info,
        )

    def fact_columns(self, raw: dict[str, Any], path: str) -> list[FactColumn]:
        columns: list[FactColumn] = []
        for index, item in enumerate(_list(raw.get("measures"))):
            item = {"name": item} if isinstance(item, str) else item
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            expression = self._expression(item.get("expression"), f"{path}.measures[{index}].expression")
            if any(c.name == item["name"] for c in columns):
                self.issue(f"{path}.measures[{index}].name", f"duplicate measure name {item['name']!r}")
            columns.append(FactColumn(item["name"], _text(item.get("label")) or derive_label(item["name"]), expression))
        return columns

    def measures(self, raw: dict[str, Any], path: str, columns: list[FactColumn]) -> list[Measure]:
        items: list[tuple[str, Any]] = [
            (f"{path}.aggregates[{i}]", a) for i, a in enumerate(_list(raw.get("aggregates")))
        ]
        if raw.get("implicit_aggregates"):
            items += self._implicit(raw, path, {name for _, a in items for name in [_name_of(a)] if name})
        if not items and not columns:
            items = [(path, {"name": "fact_count", "label": "Count", "function": "count"})]
        column_names = {c.name: c for c in columns}
        measures: list[Measure] = []
        for apath, item in items:
            measure = self.measure(item, apath, column_names)
            if measure is None:
                continue
            if any(m.name == measure.name for m in measures):
                self.issue(f"{apath}.name", f"duplicate aggregate name {measure.name!r}")
            measures.append(measure)
        self._check_formulas(measures, items)
        return measures

    def _implicit(self, raw: dict[str, Any], path: str, explicit: set[str]) -> list[tuple[str, Any]]:
        generated: list[tuple[str, Any]] = []
        for index, item in enumerate(_list(raw.get("measures"))):
            item = {"name": item} if isinstance(item, str) else item
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            for function in _list(item.get("aggregates")) or ["sum"]:
                name = item["name"] if function == "identity" else f"{item['name']}_{function}"
                if name in explicit:
                    continue
                spec = {"name": name, "measure": item["name"]}
                if function != "identity":
                    spec["function"] = function
                generated.append((f"{path}.measures[{index}].aggregates", spec))
        return generated

    def measure(self, raw: Any, path: str, columns: dict[str, FactColumn]) -> Measure | None:
        raw = {"name": raw, "measure": raw} if isinstance(raw, str) else raw
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        name = raw["name"]
        function_name = raw.get("function")
        function = AggFunc(function_name) if function_name in set(AggFunc) else None
        if function_name is not None and function is None:
            return None  # the structural pass already reported the unknown function
        formula_text = raw.get("formula")
        formula = self._expression(formula_text, f"{path}.formula")
        column = raw.get("measure") if isinstance(raw.get("measure"), str) else None
        expression = self._expression(raw.get("expression"), f"{path}.expression")
        if formula is not None and (function or column or raw.get("expression")):
            self.issue(path, "a calculated aggregate (formula) takes no function, measure or expression")
        if column and raw.get("expression"):
            self.issue(path, "an aggregate has either measure or expression, not both")
        if formula is None and function is None and raw.get("formula") is None:
            if raw.get("expression") is not None:
                self.issue(
                    f"{path}.expression",
                    "an expression needs a function; use formula for calculations over other aggregates",
                )
            elif column is None:
                self.issue(path, "an aggregate needs a function, or a formula")
            else:
                self.issue(
                    f"{path}.function", "an aggregate without function (identity) is not supported; give a function"
                )
        if function is not None and function.needs_input and column is None and expression is None:
            self.issue(path, f"function {function.value!r} needs a measure or an expression")
        if column is not None and column in columns and columns[column].expression is not None:
            expression, column = columns[column].expression, None
        label = _text(raw.get("label"))
        if label is None:
            source = columns[column].label if column in columns else column
            label = DEFAULT_LABELS[function].format(source) if function and source else derive_label(name)
        return Measure(
            name=name,
            label=label,
            function=function,
            column=column,
            expression=expression,
            formula=formula,
            formula_text=formula_text if isinstance(formula_text, str) else None,
            scale=raw.get("scale") if isinstance(raw.get("scale"), int) else None,
            determined_dimensions=tuple(d for d in _list(raw.get("determined_dimensions")) if isinstance(d, str)),
            format=_text(raw.get("format")),
            description=_text(raw.get("description")),
            info=raw.get("info") if isinstance(raw.get("info"), dict) else {},
        )

    def _check_formulas(self, measures: list[Measure], items: list[tuple[str, Any]]) -> None:
        by_name = {m.name: m for m in measures}
        paths = {_name_of(item): apath for apath, item in items}
        for measure in measures:
            if measure.formula is None:
                continue
            for name in sorted(measure.formula.names()):
                # An aggregate that exists but is itself invalid was reported already.
                if name not in by_name and name not in paths:
                    self.issue(f"{paths.get(measure.name, '$')}.formula", f"unknown aggregate {name!r} in formula")
            if _reaches(measure.name, measure.name, by_name, set()):
                self.issue(f"{paths.get(measure.name, '$')}.formula", "formula refers to itself (a cycle)")

    # ---- physical mapping --------------------------------------------------------------------
    def mappings(self, raw: dict[str, Any], path: str, fact: str) -> dict[str, ColumnRef]:
        result: dict[str, ColumnRef] = {}
        for ref, target in raw.items():
            column = self.column_ref(target, f'{path}.mappings["{ref}"]', fact)
            if column is not None:
                result[ref] = column
        return result

    def column_ref(self, raw: Any, path: str, default_table: str) -> ColumnRef | None:
        if isinstance(raw, str):
            table, _, column = raw.rpartition(".")
            return ColumnRef(table or default_table, column)
        if isinstance(raw, dict) and isinstance(raw.get("column"), str):
            extract = raw.get("extract")
            if extract is not None and extract not in EXTRACT_UNITS:
                self.issue(f"{path}.extract", f"unknown extract unit {extract!r}; one of {', '.join(EXTRACT_UNITS)}")
                extract = None
            table = raw.get("table") if isinstance(raw.get("table"), str) else default_table
            return ColumnRef(table, raw["column"], extract)
        return None

    def joins(self, raw: dict[str, Any], path: str, fact: str, templates: list[dict[str, Any]]) -> list[Join]:
        by_name = {t.get("name"): t for t in templates if t.get("name")}
        result: list[Join] = []
        for index, item in enumerate(_list(raw.get("joins"))):
            if not isinstance(item, dict):
                continue
            item = {**by_name.get(item.get("name"), {}), **item}
            jpath = f"{path}.joins[{index}]"
            master = self.column_ref(item.get("master"), f"{jpath}.master", fact)
            detail = self.column_ref(item.get("detail"), f"{jpath}.detail", "")
            if master is None or detail is None:
                continue
            if not detail.table:
                self.issue(f"{jpath}.detail", "the detail of a join must name its table (table.column)")
                continue
            method = item.get("method") if item.get("method") in ("match", "master", "detail") else "match"
            unknown = item.get("unknown_member") if isinstance(item.get("unknown_member"), str) else None
            if unknown is not None and method != "master":
                self.issue(f"{jpath}.unknown_member", "unknown_member needs method 'master' (a left outer join)")
            result.append(Join(master, detail, item.get("alias"), method, unknown))
        reachable = {fact}
        for index, join in enumerate(result):
            if join.master.table not in reachable:
                self.issue(
                    f"{path}.joins[{index}].master",
                    f"table {join.master.table!r} is not the fact table or an earlier join",
                )
            if join.detail_name in reachable:
                self.issue(f"{path}.joins[{index}]", f"table {join.detail_name!r} joined twice; give an alias")
            reachable.add(join.detail_name)
        return result

    def check_mapping_targets(self, cube: Cube, path: str) -> None:
        tables = {cube.fact} | {join.detail_name for join in cube.joins}
        refs = {attribute.ref for d in cube.dimensions for lv in d.levels for attribute in lv.attributes}
        refs |= {d.name for d in cube.dimensions if d.is_flat and len(d.levels[0].attributes) == 1}
        refs |= {c.name for c in cube.fact_columns} | {d.name for d in cube.details}
        refs |= {m.column for m in cube.measures if m.column}
        for ref in cube.mappings:
            if ref not in refs:
                self.issue(f'{path}.mappings["{ref}"]', f"{ref!r} is not an attribute, measure or detail of the cube")
        for ref in sorted(refs):
            try:
                column = cube.physical(ref)
            except Exception:  # noqa: BLE001 - a bad reference was already reported above
                continue
            if column.table not in tables:
                self.issue(
                    f'{path}.mappings["{ref}"]',
                    f"{ref!r} maps to table {column.table!r}, which is neither the fact table nor joined",
                )

    def _expression(self, text: Any, path: str) -> Expr | None:
        if text is None:
            return None
        if not isinstance(text, str):
            return None
        try:
            return parse_expression(text)
        except ExpressionSyntaxError as exc:
            self.issue(path, str(exc))
            return None


def _reaches(target: str, name: str, measures: dict[str, Measure], seen: set[str]) -> bool:
    measure = measures.get(name)
    if measure is None or measure.formula is None or name in seen:
        return False
    seen.add(name)
    for child in measure.formula.names():
        if child == target or _reaches(target, child, measures, seen):
            return True
    return False


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _name_of(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"]
    return None
