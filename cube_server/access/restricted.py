"""The engine as one principal sees it: only the cubes it may read, every query cut to its restriction.

Every edge that answers a caller (the HTTP routes, the Slicer surface, reports, exports, the explorer)
holds a :class:`RestrictedEngine`, never the :class:`CubeEngine` itself, so no path can forget the
restriction. The restriction's cuts are AND-ed to the query's own before it is planned, so:

- totals (summaries, pivot totals, calculation lookups) are totals of the allowed rows only;
- members are those of allowed facts, and a fact outside is "not found" like a missing one;
- a restricted query is still answered from a cuboid whenever one holds the restriction's levels;
- the store's sizes (cuboid rows and bytes, the router's estimates) are withheld from a restricted
  principal, as they count rows it may not see.

Drilling down counts from the restriction's depth (a province branch drills from its province), as the
query with the restriction's cuts written in would; rolling up never lifts the restriction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from aggregates.store import store_summary
from cube_models import Cube, ModelCatalog
from cube_models.errors import CubeError, ForbiddenError
from cube_server.access.roles import Principal, Restriction
from cube_server.cut_syntax import format_cuts
from cube_server.engine import CubeEngine
from cube_server.fact_lookup import get_fact
from cube_server.plan import Plan
from cube_server.query import FactsQuery, MembersQuery, PivotQuery, Query
from cube_server.resolve import bind_cuts
from cube_server.result import CellSet, Explanation, PivotTable, Rows, RowStream
from cube_server.rows import STREAM_BATCH_ROWS
from cube_server.settings import Settings

AnyQuery = TypeVar("AnyQuery", Query, PivotQuery, MembersQuery, FactsQuery)
WITHHELD_SIZES = ("rows", "bytes")


class RestrictedEngine:
    def __init__(self, engine: CubeEngine, principal: Principal) -> None:
        self._engine = engine
        self.principal = principal

    # ---- what the principal may see of the model -----------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._engine.settings

    @property
    def version(self) -> str:
        return self._engine.version

    @property
    def catalog(self) -> ModelCatalog:
        """The catalog of the cubes the principal may read."""
        catalog = self._engine.catalog
        return replace(catalog, cubes=tuple(c for c in catalog.cubes if self.principal.can_read(c.name)))

    def cube(self, name: str) -> Cube:
        cube = self._engine.cube(name)
        self.principal.require_cube(cube.name)
        return cube

    def attribute_types(self, cube: str) -> dict[str, str]:
        return self._engine.attribute_types(self.cube(cube).name)

    def measure_types(self, cube: str) -> dict[str, str]:
        return self._engine.measure_types(self.cube(cube).name)

    def restriction(self, cube: str) -> Restriction:
        """The cuts the principal's queries of ``cube`` get (() when it reads every row)."""
        model = self.cube(cube)
        cuts = self.principal.restriction(model.name)
        try:
            bind_cuts(model, cuts)
        except CubeError as exc:  # the server checks roles at startup; a roles file edited since may not fit
            raise ForbiddenError(
                f"the restriction of {self.principal.name!r} on cube {model.name!r} ({format_cuts(cuts)}) does not "
                "fit the cube; an administrator must correct the roles file",
                cube=model.name,
            ) from exc
        return cuts

    def is_restricted(self, cube: str) -> bool:
        return bool(self.restriction(cube))

    def _cut(self, query: AnyQuery) -> AnyQuery:
        cuts = self.restriction(query.cube)
        return replace(query, cuts=(*query.cuts, *cuts)) if cuts else query

    # ---- queries -------------------------------------------------------------------------------
    def aggregate(self, query: Query, *, operation: str = "aggregate", extra: dict[str, Any] | None = None) -> CellSet:
        return self._engine.aggregate(self._cut(query), operation=operation, extra=extra)

    def plan_aggregate(self, query: Query, operation: str = "aggregate") -> Plan:
        return self._engine.plan_aggregate(self._cut(query), operation)

    def drilldown_query(self, query: Query, dimension: str, depth: int) -> Query:
        """The drilled query, counting depth from the restriction's cut where it is deeper than the query's."""
        drilled = self._engine.drilldown_query(self._cut(query), dimension, depth)
        return replace(drilled, cuts=query.cuts)

    def rollup_query(self, query: Query, dimension: str, steps: int) -> tuple[Query, dict[str, Any]]:
        # The restriction is added when the rolled-up query runs, so rolling up never lifts it.
        self.cube(query.cube)
        return self._engine.rollup_query(query, dimension, steps)

    def pivot(self, query: PivotQuery) -> PivotTable:
        return self._engine.pivot(self._cut(query))

    def plan_pivot(self, query: PivotQuery) -> Plan:
        return self._engine.plan_pivot(self._cut(query))

    def members(self, query: MembersQuery) -> Rows:
        return self._engine.members(self._cut(query))

    def plan_members(self, query: MembersQuery) -> Plan:
        return self._engine.plan_members(self._cut(query))

    def stream_members(self, query: MembersQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        return self._engine.stream_members(self._cut(query), batch_rows)

    def export_members(self, query: MembersQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        return self._engine.export_members(self._cut(query), batch_rows)

    def facts(self, query: FactsQuery) -> Rows:
        return self._engine.facts(self._cut(query))

    def plan_facts(self, query: FactsQuery) -> Plan:
        return self._engine.plan_facts(self._cut(query))

    def stream_facts(self, query: FactsQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        return self._engine.stream_facts(self._cut(query), batch_rows)

    def export_facts(self, query: FactsQuery, batch_rows: int = STREAM_BATCH_ROWS) -> RowStream:
        return self._engine.export_facts(self._cut(query), batch_rows)

    def fact(self, cube: str, key: str) -> dict[str, Any]:
        """One fact by its key; outside the restriction it is not found, exactly like a missing one."""
        return get_fact(self._engine, self.cube(cube).name, key, self.restriction(cube))

    def explain(self, plan: Plan) -> Explanation:
        explanation = self._engine.explain(plan)
        if self.is_restricted(plan.cube.name):
            explanation.candidates = [{**c, "estimated_rows": None} for c in explanation.candidates]
        return explanation

    # ---- the store -----------------------------------------------------------------------------
    def cuboids(self, cube: str) -> dict[str, Any]:
        """The serving version's cuboids of ``cube``; without their sizes for a restricted principal."""
        model = self.cube(cube)
        withhold = self.is_restricted(model.name)
        snapshot = self._engine.snapshot()
        manifest = snapshot.manifest
        cuboids = manifest.cuboids_of(model.name) if manifest and snapshot.status == "serving" else []
        summaries = [store_summary(cuboid) for cuboid in cuboids]
        if withhold:
            summaries = [{**summary, **dict.fromkeys(WITHHELD_SIZES)} for summary in summaries]
        return {
            "cube": model.name,
            "status": snapshot.status,
            "version": manifest.version if manifest else None,
            "built_at": manifest.built_at if manifest else None,
            "cuboids": summaries,
        }
