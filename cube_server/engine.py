"""The query engine facade: resolve -> plan -> execute -> shape, for every OLAP operation.

``query``-style methods and :meth:`CubeEngine.explain` share the plan builders, so explain shows
exactly the SQL that runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pyarrow as pa
import sqlalchemy as sa

from aggregates.router import Route
from aggregates.router import route as route_query
from aggregates.store import CuboidStore
from cube_models import Cube, Measure, ModelCatalog
from cube_server.backends import Backend
from cube_server.calculations import CalculationPlan, bind_calculations, with_calculated_measures
from cube_server.cut_syntax import format_cuts, format_drilldown
from cube_server.errors import (
    BackendError,
    DrilldownError,
    InvalidParameterError,
    ResultTooLargeError,
    VersionUnavailableError,
)
from cube_server.pivot import shape_pivot
from cube_server.plan import CellQuery, Plan, summary_from
from cube_server.query import Cut, DrilldownItem, FactsQuery, MembersQuery, PivotQuery, PointCut, Query
from cube_server.query_log import QueryLog
from cube_server.render import CutRenderer
from cube_server.resolve import (
    BoundCut,
    DrillLevels,
    bind_cuts,
    bind_drilldown,
    bind_measures,
    bind_order,
    cut_paths,
    point_depth,
)
from cube_server.result import CellSet, Explanation, Meta, PivotTable, Rows, RowStream, StatementText
from cube_server.routing import candidates_of, needs_of, source_label
from cube_server.rows import STREAM_BATCH_ROWS, facts_plan, members_plan, open_row_stream
from cube_server.settings import Settings
from cube_server.star import STRING_TYPES, Star
from cube_server.store_view import Snapshot, StoreView

# Larger offsets cannot be bound as a 64-bit integer, and no cube has that many cells.
MAX_OFFSET = 2**53
# Times a question is asked when a refresh switches fact files under it (each switch takes milliseconds).
FACT_SWITCH_ATTEMPTS = 4
FACT_SWITCH_PAUSE_S = 0.05
T = TypeVar("T")


class CubeEngine:
    def __init__(
        self,
        catalog: ModelCatalog,
        backend: Backend,
        settings: Settings,
        version: str,
        *,
        store: CuboidStore | None = None,
        model_hash: str = "",
        facts_version: Callable[[], str] | None = None,
        reopen_facts: Callable[[], object] | None = None,
        settle_facts: Callable[[], bool] | None = None,
        query_log: QueryLog | None = None,
    ) -> None:
        self.catalog = catalog
        self.backend = backend
        self.settings = settings
        self.model_hash = model_hash
        self.query_log = query_log
        self._stars: dict[str, Star] = {}
        self._types: dict[str, dict[str, str]] = {}
        self._measure_types: dict[str, dict[str, str]] = {}
        tables = {name: backend.table_clause(name) for name in backend.table_columns}
        for cube in catalog.cubes:
            star = Star(cube, tables)
            types = self._describe(star)
            star.string_refs = {ref for ref, sql_type in types.items() if sql_type.upper() in STRING_TYPES}
            star.measure_types = self._measure_types.get(cube.name, {})
            self._stars[cube.name] = star
            self._types[cube.name] = types
        self.store_view = StoreView(
            store, catalog, backend, model_hash, facts_version or (lambda: version), reopen_facts, settle_facts
        )
        self.store_view.measure_types = self._measure_types
        self.store_view.snapshot()

    @property
    def facts_version(self) -> str:
        """A fingerprint of the fact files as last seen (their names, sizes and modification times)."""
        return self.store_view.facts_version

    @property
    def version(self) -> str:
        return self.facts_version

    def _describe(self, star: Star) -> dict[str, str]:
        """Check the model against the data once at startup and learn each attribute's SQL type."""
        columns: list[sa.ColumnElement[Any]] = []
        refs = []
        for dimension in star.cube.dimensions:
            for level in dimension.levels:
                for attribute in level.attributes:
                    refs.append(attribute.ref)
                    columns.append(star.attribute(attribute.ref).label(f"c{len(refs) - 1}"))
        for index, measure in enumerate(star.cube.measures):
            value = star.measure_input(measure)
            if value is not None:
                columns.append(value.label(f"measure{index}"))
        if not columns:
            return {}
        described = self.backend.describe(sa.select(*columns).select_from(star.from_clause))
        self._measure_types[star.cube.name] = {
            measure.name: described[f"measure{index}"]
            for index, measure in enumerate(star.cube.measures)
            if f"measure{index}" in described
        }
        return {ref: described[f"c{index}"] for index, ref in enumerate(refs)}

    def star(self, cube: str) -> Star:
        return self._stars[self.cube(cube).name]

    def measure_types(self, cube: str) -> dict[str, str]:
        return dict(self._measure_types.get(self.cube(cube).name, {}))

    def snapshot(self) -> Snapshot:
        """The store version the next query reads (reloaded when a build switched versions)."""
        return self.store_view.snapshot()

    def _version_of(self, snapshot: Snapshot) -> str:
        return snapshot.manifest.version if snapshot.status == "serving" and snapshot.manifest else self.version

    def _snapshot_for(self, version: str | None) -> Snapshot:
        """The version a query reads: the current one, or the earlier one it pinned while that is kept."""
        current = self.snapshot()
        if version is None or version == self._version_of(current):
            return current
        return self.store_view.pinned(version)

    def _check_facts_unchanged(self, snapshot: Snapshot, needs_facts: bool) -> None:
        """A pinned earlier version may read the facts only if they are still the ones it was built from."""
        manifest = snapshot.manifest
        if needs_facts and snapshot.pinned and manifest is not None:
            if manifest.facts_version != self.facts_version:
                raise VersionUnavailableError(
                    f"store version {manifest.version!r} cannot answer this from its cuboids, and the facts have "
                    "changed since it was built; ask again without version=",
                    version=manifest.version,
                )

    def _cell_query(
        self,
        cube: Cube,
        snapshot: Snapshot,
        bound_cuts: tuple[BoundCut, ...],
        drilldown: tuple[DrillLevels, ...],
        measures: tuple[Measure, ...],
        base: tuple[Measure, ...],
    ) -> tuple[CellQuery, Route]:
        """A cell query over the cheapest source that answers it exactly: a cuboid, else the facts."""
        built = [source.cuboid for source in snapshot.sources_of(cube.name)]
        needs = needs_of(bound_cuts, drilldown, base)
        if self.query_log is not None:
            self.query_log.record(cube.name, needs.levels)
        route = route_query(built, needs)
        summary_route = route_query(built, needs_of(bound_cuts, (), base)) if drilldown else route
        self._check_facts_unchanged(snapshot, route.chosen is None or summary_route.chosen is None)
        source, renderer = self._source(cube, snapshot, route)
        summary_source = self._source(cube, snapshot, summary_route)
        cell = CellQuery(source, renderer, bound_cuts, drilldown, measures, base, summary_source)
        cell.summary_source_name = source_label(summary_route)
        return cell, route

    def _lookup(
        self, cube: Cube, snapshot: Snapshot, cuts: tuple[Cut, ...], drilldown: tuple[DrillLevels, ...],
        names: tuple[str, ...],
    ) -> tuple[CellQuery, str]:  # fmt: skip
        """A cell query a calculation needs beside the cells shown, routed like them; and its source's name."""
        measures, base = bind_measures(cube, names)
        cell, route = self._cell_query(cube, snapshot, bind_cuts(cube, cuts), drilldown, measures, base)
        return cell, source_label(route)

    def _source(self, cube: Cube, snapshot: Snapshot, route: Route) -> tuple[Any, CutRenderer]:
        source: Any = self._stars[cube.name]
        if route.chosen is not None:
            source = snapshot.sources[(cube.name, route.chosen.name)]
        return source, CutRenderer(source, self._types[cube.name])

    # ---- model ---------------------------------------------------------------------------------
    def cube(self, name: str) -> Cube:
        return self.catalog.cube(name)

    def attribute_types(self, cube: str) -> dict[str, str]:
        return dict(self._types[self.cube(cube).name])

    # ---- operations ----------------------------------------------------------------------------
    def aggregate(self, query: Query, *, operation: str = "aggregate", extra: dict[str, Any] | None = None) -> CellSet:
        return self._consistent(lambda: self._run(self.plan_aggregate(query, operation), extra))  # type: ignore[no-any-return]

    def drilldown(self, query: Query, dimension: str, depth: int = 1) -> CellSet:
        return self.aggregate(self.drilldown_query(query, dimension, depth), operation="drilldown")

    def rollup(self, query: Query, dimension: str, steps: int = 1) -> CellSet:
        rolled, origin = self.rollup_query(query, dimension, steps)
        return self.aggregate(rolled, operation="rollup", extra={"rolled_up_from": origin})

    def pivot(self, query: PivotQuery) -> PivotTable:
        return self._consistent(lambda: self._run(self.plan_pivot(query)))  # type: ignore[no-any-return]

    def members(self, query: MembersQuery) -> Rows:
        return self._consistent(lambda: self._run(self.plan_members(query)))  # type: ignore[no-any-return]

    def facts(self, query: FactsQuery) -> Rows:
        return self._consistent(lambda: self._run(self.plan_facts(query)))  # type: ignore[no-any-return]

    def stream_members(self, query: MembersQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        """Members as record batches read while they are sent (for Arrow and CSV answers)."""
        return self._stream(self.plan_members(query), batch_rows)

    def stream_facts(self, query: FactsQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        """Fact rows as record batches read while they are sent (for Arrow and CSV answers)."""
        return self._stream(self.plan_facts(query), batch_rows)

    def export_members(self, query: MembersQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        """Every member from ``query.offset`` on (``limit`` None: no page cap), streamed for file exports."""
        self._check_page(None, query.offset)
        star, renderer = self._star(query.cube)
        plan = members_plan(star, renderer, query, query.limit, self._facts_read_version(query.version))
        return self._stream(plan, batch_rows, self.settings.export_timeout_ms)

    def export_facts(self, query: FactsQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        """Every fact row from ``query.offset`` on (``limit`` None: no page cap), streamed for file exports.

        One statement for the whole export: paging through it with OFFSET would re-read every earlier row
        for each page. Its deadline is ``export_timeout_ms``, as a large export takes longer than a query.
        """
        self._check_page(None, query.offset)
        star, renderer = self._star(query.cube)
        plan = facts_plan(star, renderer, query, query.limit, self._facts_read_version(query.version))
        return self._stream(plan, batch_rows, self.settings.export_timeout_ms)

    def _stream(self, plan: Plan, batch_rows: int, timeout_ms: int | None = None) -> RowStream:
        started = time.monotonic()
        deadline = started + (timeout_ms or self.settings.query_timeout_ms) / 1000
        stream = open_row_stream(self.backend, plan, deadline, batch_rows)
        stream.meta.elapsed_ms = (time.monotonic() - started) * 1000  # to the first batch
        return stream

    def explain(self, plan: Plan) -> Explanation:
        statements = []
        for name, statement in plan.statements.items():
            compiled = self.backend.compile(statement)
            statements.append(StatementText(name, compiled.sql, compiled.parameters))
        return Explanation(
            plan.operation,
            plan.cube.name,
            plan.source,
            plan.grain,
            plan.measures,
            statements,
            plan.version or self.version,
            plan.candidates,
        )

    # ---- query transformations -----------------------------------------------------------------
    def drilldown_query(self, query: Query, dimension_name: str, depth: int) -> Query:
        if depth < 1:
            raise InvalidParameterError("depth must be at least 1", depth=depth)
        cube = self.cube(query.cube)
        dimension = cube.dimension(dimension_name)
        bound = bind_cuts(cube, query.cuts)
        bind_drilldown(cube, query.drilldown, bound)  # a bad drilldown is an error even where it is replaced
        hierarchy = next(
            (
                b.hierarchy
                for b in bound
                if b.dimension.name == dimension.name and isinstance(b.cut, PointCut) and not b.cut.invert
            ),
            dimension.hierarchy(),
        )
        target = point_depth(bound, dimension.name, hierarchy.name) + depth
        if target > len(hierarchy.levels):
            raise DrilldownError(
                f"cannot drill {depth} level(s) below the cut: hierarchy {hierarchy.name!r} of "
                f"{dimension.name!r} has {len(hierarchy.levels)} levels",
                dimension=dimension.name,
            )
        item = DrilldownItem(dimension.name, hierarchy.name, hierarchy.levels[target - 1])
        others = tuple(d for d in query.drilldown if d.dimension != dimension.name)
        return replace(query, drilldown=(*others, item))

    def rollup_query(self, query: Query, dimension_name: str, steps: int) -> tuple[Query, dict[str, Any]]:
        if steps < 1:
            raise InvalidParameterError("steps must be at least 1", steps=steps)
        cube = self.cube(query.cube)
        dimension = cube.dimension(dimension_name)
        bound_cuts = bind_cuts(cube, query.cuts)
        drilled = bind_drilldown(cube, query.drilldown, bound_cuts)
        origin = {
            "dimension": dimension.name,
            "cut": format_cuts(query.cuts),
            "drilldown": format_drilldown(query.drilldown),
        }
        for drill in drilled:
            if drill.dimension.name == dimension.name:
                depth = len(drill.levels) - steps
                others = tuple(d for d in query.drilldown if d.dimension != dimension.name)
                if depth <= 0:
                    return replace(query, drilldown=others), origin
                item = DrilldownItem(dimension.name, drill.hierarchy.name, drill.hierarchy.levels[depth - 1])
                kept = tuple(item if d.dimension == dimension.name else d for d in query.drilldown)
                return replace(query, drilldown=kept), origin
        cuts = []
        for cut in query.cuts:
            if cut.dimension == dimension.name and isinstance(cut, PointCut) and not cut.invert:
                if len(cut.path) > steps:
                    cuts.append(replace(cut, path=cut.path[: len(cut.path) - steps]))
                continue
            cuts.append(cut)
        return replace(query, cuts=tuple(cuts)), origin

    # ---- plans ---------------------------------------------------------------------------------
    def _star(self, cube: str) -> tuple[Star, CutRenderer]:
        name = self.cube(cube).name
        return self._stars[name], CutRenderer(self._stars[name], self._types[name])

    def _check_page(self, limit: int | None, offset: int) -> None:
        if limit is not None and not 0 <= limit <= self.settings.max_page_size:
            raise InvalidParameterError(f"limit must be between 0 and {self.settings.max_page_size}", limit=limit)
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidParameterError(f"offset must be between 0 and {MAX_OFFSET}", offset=offset)

    def plan_aggregate(self, query: Query, operation: str = "aggregate") -> Plan:
        self._check_page(query.limit, query.offset)
        cube = self.cube(query.cube)
        bound_cuts = bind_cuts(cube, query.cuts)
        drilldown = bind_drilldown(cube, query.drilldown, bound_cuts)
        calculations = bind_calculations(cube, query.calculations, drilldown)
        measures, base = bind_measures(cube, with_calculated_measures(query.measures, calculations))
        # With calculations, cells are ordered and paged after they are computed (CalculationPlan).
        order = bind_order(cube, () if calculations else query.order, drilldown, measures)
        snapshot = self._snapshot_for(query.version)
        cell, route = self._cell_query(cube, snapshot, bound_cuts, drilldown, measures, base)
        source_name = source_label(route)
        version = self._version_of(snapshot)
        statements: dict[str, sa.Select[Any]] = {}
        guards = []
        too_many = "more than {limit} cells; add a limit or cut the cube further"
        unpaged = bool(drilldown) and ((query.limit is None and query.offset == 0) or bool(calculations))
        if not (unpaged and cell.is_mergeable):
            statements["summary"] = cell.summary()
        if unpaged:
            # Every cell comes back, so their number needs no query of its own, and mergeable measures
            # (sums, counts, min, max) give the summary by merging the cells.
            statements["cells"] = cell.cells(order, self.settings.max_cells + 1, 0)
            guards.append(("cells", self.settings.max_cells, too_many))
        elif drilldown:
            statements["count"] = cell.count()
            statements["cells"] = cell.cells(order, query.limit, query.offset)
            if query.limit is None:
                guards.append(("count", self.settings.max_cells, too_many))
        calculated = None
        if calculations:
            calculated = CalculationPlan.make(
                cube, calculations, bound_cuts, drilldown, measures, (query.order, query.limit, query.offset),
                lambda cuts, drill, names: self._lookup(cube, snapshot, cuts, drill, names), self._types[cube.name],
            )  # fmt: skip
            statements.update(calculated.statements(self.settings.max_cells))
            guards.extend(calculated.guards(self.settings.max_cells))

        def shape(tables: dict[str, pa.Table]) -> CellSet:
            cells_table = tables.get("cells")
            columns = (
                cell.output_columns(cells_table)
                if cells_table is not None
                else cell.measure_output_columns(tables["summary"])
            )
            summary_row = cell.merged_summary(cells_table) if "summary" not in tables else None
            result = CellSet(
                columns=columns,
                cells=cell.shape_cells(cells_table) if cells_table is not None else [],
                summary=cell.measure_values(summary_row) if summary_row else summary_from(tables["summary"], cell),
                total_cell_count=_total_cells(tables),
                levels={drill.key: [level.name for level in drill.levels] for drill in drilldown},
                measures=[m.name for m in measures],
                meta=Meta(cube.name, source_name, version, extra=_summary_extra(cell, source_name, tables)),
            )
            return calculated.apply(result, cell, tables) if calculated is not None else result

        grain = _grain(drilldown, bound_cuts)
        return Plan(operation, cube, grain, [m.name for m in measures], statements, shape, source=source_name,
                    guards=guards, candidates=candidates_of(route), version=version)  # fmt: skip

    def plan_pivot(self, query: PivotQuery) -> Plan:
        cube = self.cube(query.cube)
        if not query.rows and not query.columns:
            raise InvalidParameterError("a pivot needs rows or columns")
        bound_cuts = bind_cuts(cube, query.cuts)
        rows = bind_drilldown(cube, query.rows, bound_cuts)
        columns = bind_drilldown(cube, query.columns, bound_cuts)
        if {d.dimension.name for d in rows} & {d.dimension.name for d in columns}:
            raise InvalidParameterError("a dimension cannot be on both rows and columns")
        measures, base = bind_measures(cube, query.measures)
        snapshot = self._snapshot_for(query.version)
        grid, route = self._cell_query(cube, snapshot, bound_cuts, rows + columns, measures, base)
        by_row, row_route = self._cell_query(cube, snapshot, bound_cuts, rows, measures, base)
        by_column, column_route = self._cell_query(cube, snapshot, bound_cuts, columns, measures, base)
        source_name = source_label(route)
        version = self._version_of(snapshot)
        sources = {
            "cells": source_name,
            "row_totals": source_label(row_route),
            "column_totals": source_label(column_route),
        }
        # Fetching one past the limit tells a pivot too large without reading all of it. The grid has at most
        # rows x columns cells, so when its fetch is cut short the pivot is refused anyway (shape_pivot).
        bound = self.settings.max_cells + 1
        statements = {
            "row_totals": by_row.cells((), bound, 0),
            "column_totals": by_column.cells((), bound, 0),
            "cells": grid.cells((), bound, 0),
            "grand_total": grid.summary(),
        }
        guards = [
            ("row_totals", self.settings.max_cells, "more than {limit} rows"),
            ("column_totals", self.settings.max_cells, "more than {limit} columns"),
        ]

        def shape(tables: dict[str, pa.Table]) -> PivotTable:
            return shape_pivot(
                tables,
                grid,
                by_row,
                by_column,
                rows,
                columns,
                query.totals,
                self.settings.max_cells,
                Meta(cube.name, source_name, version, extra={"sources": sources}),
            )

        return Plan(
            "pivot",
            cube,
            _grain(rows + columns, bound_cuts),
            [m.name for m in measures],
            statements,
            shape,
            source=source_name,
            guards=guards,
            candidates=candidates_of(route),
            version=version,
        )

    def plan_members(self, query: MembersQuery) -> Plan:
        limit = self.settings.default_page_size if query.limit is None else query.limit
        self._check_page(limit, query.offset)
        star, renderer = self._star(query.cube)
        return members_plan(star, renderer, query, limit, self._facts_read_version(query.version))

    def plan_facts(self, query: FactsQuery) -> Plan:
        limit = self.settings.default_page_size if query.limit is None else query.limit
        self._check_page(limit, query.offset)
        star, renderer = self._star(query.cube)
        return facts_plan(star, renderer, query, limit, self._facts_read_version(query.version))

    def _facts_read_version(self, version: str | None) -> str:
        """Members and fact rows come from the facts: the version to report, refusing a pin they would break."""
        snapshot = self._snapshot_for(version)
        self._check_facts_unchanged(snapshot, needs_facts=True)
        return self._version_of(snapshot)

    # ---- execution -----------------------------------------------------------------------------
    def _consistent(self, answer: Callable[[], T]) -> T:
        """Plan and run ``answer`` again when the fact files were reopened while it ran.

        A refresh that switched fact files in makes the next query reopen them. A query that took its store
        version before that and read the facts after would mix two versions (the old one's label, or its count,
        beside the new facts): its answer is dropped and the question asked again, on the version now serving.
        A fact file a replacement removed under a query makes it fail the same way, and it is asked again.
        """
        view = self.store_view
        for _ in range(FACT_SWITCH_ATTEMPTS - 1):
            generation = view.generation()
            try:
                result = answer()
            except BackendError:
                if view.facts_generation == generation and not view.facts_changed():
                    raise
                view.wait_for_load()  # another question may be loading the state the facts moved to
                time.sleep(FACT_SWITCH_PAUSE_S)  # a refresh's switch in progress takes milliseconds
                continue
            if view.facts_generation == generation:
                return result
        return answer()

    def _run(self, plan: Plan, extra: dict[str, Any] | None = None) -> Any:
        started = time.monotonic()
        deadline = started + self.settings.query_timeout_ms / 1000
        tables: dict[str, pa.Table] = {}
        ordered = sorted(plan.statements, key=lambda n: 0 if any(g[0] == n for g in plan.guards) else 1)
        for name in ordered:
            tables[name] = self.backend.execute(self.backend.compile(plan.statements[name]), deadline)
            for guard_name, limit, message in plan.guards:
                if guard_name == name and _count_of(tables[name]) > limit:
                    raise ResultTooLargeError(message.format(limit=limit), limit=limit)
        result = plan.shape(tables)
        result.meta.elapsed_ms = (time.monotonic() - started) * 1000
        if extra:
            result.meta.extra.update(extra)
        return result


def _summary_extra(cell: CellQuery, source: str, tables: dict[str, pa.Table]) -> dict[str, Any]:
    """Name the summary's source when it was queried from a different one than the cells."""
    if "summary" in tables and cell.summary_source_name != source:
        return {"summary_source": cell.summary_source_name}
    return {}


def _total_cells(tables: dict[str, pa.Table]) -> int | None:
    if "count" in tables:
        return int(tables["count"].column(0)[0].as_py())
    return tables["cells"].num_rows if "cells" in tables else None


def _count_of(table: pa.Table) -> int:
    if table.num_columns == 1 and table.column_names[0] == "n":
        return int(table.column(0)[0].as_py())
    return table.num_rows


def _grain(drilldown: Any, cuts: Any) -> list[str]:
    refs = [level.ref for drill in drilldown for level in drill.levels]
    for bound in cuts:
        depth = max((len(path) for path in cut_paths(bound.cut)), default=0)
        refs.extend(level.ref for level in bound.levels[:depth] if level.ref not in refs)
    return refs
