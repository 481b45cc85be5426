"""Answers from the cuboid store equal answers from the facts, exactly, for random queries on every example.

Part of the contract suite: every example runs on each engine that holds facts and serves queries. On
``postgresql`` the example's tables are loaded into a database of their own (``cube-server load-postgres``'s
code), the project gains only ``[engine] url``, the store is built by PostgreSQL into tables there, and the
facts' answers must also equal DuckDB's over the files, query for query (the engines agree with each other,
not only each with itself).

For each example (telecom with its declared cuboids, the Cubes tutorial and FoodMart with the default set,
SSB on a small deterministic sample with its declared cuboids) a module fixture builds the store into a
temporary directory and opens two engines over the same project: one that routes to cuboids and one that
never does (``use_store=False``). Hypothesis then draws queries (0-2 drilldowns at random levels and
hierarchies, point/set/range/negated cuts on real members, random measure subsets including calculated
ones, orders and pages) and checks that both engines give identical answers: keys, labels, values (same
Python type, same decimal digits and exponent), cell order, summary, total cell count and output column
types. Half the queries are shaped after a built cuboid, so a good share really is answered from cuboids
(counted and asserted: the property is not vacuous).

Types: the facts path itself returns ``Decimal`` (exponent 0) for integer sums (DuckDB sums integers as
HUGEINT, which reaches Python as ``decimal128(38, 0)``), and the cuboid path stores such sums as
``DECIMAL(38, 0)``; so no int/Decimal allowance is needed and none is made: types must match exactly.

Router soundness is checked on the same queries: whenever ``meta.source`` (or ``meta.summary_source``)
names a cuboid, that cuboid (from the manifest) stores every level the query groups by or cuts on, holds
every stored measure the query needs, and can merge every distinct count (:func:`aggregates.algebra.can_merge`
with the levels the query keeps apart, computed here from the query, independently of ``cube_server.routing``).
"""

from __future__ import annotations

import datetime
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import ROOT, TELECOM_MODEL, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_cluster import with_engine

from aggregates.algebra import can_merge
from aggregates.store import BuiltCuboid, CuboidStore, Manifest
from cube_models import Cube, Measure
from cube_models.errors import CubeError, InternalError
from cube_server.build import build_store
from cube_server.engine import CubeEngine
from cube_server.postgres_load import load_postgres
from cube_server.project import load_project, open_engine
from cube_server.query import Cut, DrilldownItem, OrderItem, PivotQuery, PointCut, Query, RangeCut, SetCut
from cube_server.settings import Settings

DATASETS = (ROOT / ".." / "shared" / "datasets").resolve()
AGGREGATE_EXAMPLES = int(os.environ.get("ROUTING_EXAMPLES", "40"))
PIVOT_EXAMPLES = 12
# the share of generated aggregates that must be answered from a cuboid (the property is not vacuous)
MIN_ROUTED_SHARE = {"telecom": 0.2, "hello_world": 0.2, "foodmart": 0.2, "ssb": 0.2}
EXAMPLES = ("telecom", "hello_world", "foodmart", "ssb")
ENGINES = ("duckdb", "postgresql")
MAX_CUT_DEPTH = 4
PROPERTY = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- projects --------------------------------------------------------------------------------------
def _with_store(directory: Path, store: Path) -> None:
    config = directory / "cube-server.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{store}"\n', encoding="utf-8")


def _shared_example_project(name: str, data_name: str, directory: Path) -> Path:
    """examples/<name>/cube-server.toml with absolute model and data paths and a store under ``directory``."""
    data = DATASETS / data_name
    if not data.is_dir():
        pytest.skip(f"the {name} data is not at {data}")
    text = (ROOT / "examples" / name / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('model = "model.json"', f'model = "{ROOT / "examples" / name / "model.json"}"')
    text = re.sub(r'(?m)^root = ".*"$', f'root = "{data}"', text)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cube-server.toml").write_text(text, encoding="utf-8")
    _with_store(directory, directory / "store")
    return directory


def _ssb_sample_project(directory: Path) -> Path:
    """A deterministic sample of SSB's lineorder (every order whose key is a multiple of 100, ~60k lines)."""
    ssb = load_project(ROOT / "examples" / "ssb")
    if ssb.missing_tables():
        pytest.skip(f"the SSB data is not at {ssb.data_root}")
    files = {spec.name: (ssb.data_root / spec.path).resolve() for spec in ssb.table_specs}
    directory.mkdir(parents=True, exist_ok=True)
    sample = directory / "lineorder.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * FROM read_parquet('{files['lineorder']}') WHERE lo_orderkey % 100 = 0 "
            f"ORDER BY lo_orderkey, lo_linenumber) TO '{sample}' (FORMAT parquet)"
        )
    lines = [
        f"model = '{ROOT / 'examples' / 'ssb' / 'model.json'}'",
        "[data]",
        f"root = '{directory}'",
        "[tables]",
        "lineorder = 'lineorder.parquet'",
        *(f"{name} = '{path}'" for name, path in files.items() if name != "lineorder"),
        "[store]",
        f"directory = '{directory / 'store'}'",
    ]
    (directory / "cube-server.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


# ---- what a dataset offers to the query generator ---------------------------------------------------
@dataclass
class Axis:
    """One hierarchy of one dimension: its levels, which of them may be drilled, and real member paths."""

    dimension: str
    hierarchy: str
    levels: tuple[str, ...]
    cardinality: tuple[str | None, ...]
    members: dict[int, list[tuple[str | None, ...]]]  # depth -> member paths (cut path elements)
    default: bool  # the dimension's default hierarchy (then sometimes named, sometimes left out)

    @property
    def drillable(self) -> int:
        """Levels from the top that may be drilled (stop before the first high-cardinality level)."""
        depth = 0
        for cardinality in self.cardinality:
            if cardinality == "high":
                break
            depth += 1
        return depth


@dataclass
class Dataset:
    name: str
    routed: CubeEngine
    facts: CubeEngine
    manifest: Manifest
    axes: dict[str, list[Axis]]  # cube -> axes
    measures: dict[str, list[str]]  # cube -> every measure name (calculated ones included)
    reference: CubeEngine | None = None  # DuckDB over the same files, when the engine is another one

    def cuboids(self, cube: str) -> list[BuiltCuboid]:
        return self.manifest.cuboids_of(cube)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _axes(engine: CubeEngine, cube: Cube) -> list[Axis]:
    axes = []
    for dimension in cube.dimensions:
        for hierarchy in dimension.hierarchies:
            levels = tuple(hierarchy.levels)
            cardinality = tuple(dimension.level(name).cardinality for name in levels)
            axis = Axis(
                dimension.name,
                hierarchy.name,
                levels,
                cardinality,
                {},
                hierarchy.name == dimension.default_hierarchy_name,
            )
            stored = next(m.name for m in cube.measures if m.formula is None)
            for depth in range(1, min(axis.drillable, MAX_CUT_DEPTH) + 1):
                item = DrilldownItem(dimension.name, hierarchy.name, levels[depth - 1])
                cells = engine.aggregate(Query(cube.name, (), (item,), (stored,))).cells
                refs = [f"{dimension.name}.{level}" for level in levels[:depth]]
                axis.members[depth] = [tuple(_text(cell[ref]) for ref in refs) for cell in cells]
            axes.append(axis)
    return axes


def _open(name: str, directory: Path, reference: CubeEngine | None = None) -> Dataset:
    project = load_project(directory)
    facts = open_engine(project, Settings(), use_store=False)
    report = build_store(facts, CuboidStore(project.store_dir))
    routed = open_engine(project, Settings())
    assert routed.snapshot().status == "serving"
    assert routed.snapshot().manifest == report.manifest
    axes = {cube.name: _axes(facts, cube) for cube in facts.catalog.cubes}
    measures = {cube.name: [m.name for m in cube.measures] for cube in facts.catalog.cubes}
    return Dataset(name, routed, facts, report.manifest, axes, measures, reference)


@pytest.fixture(
    scope="module", params=[(name, engine) for engine in ENGINES for name in EXAMPLES], ids=lambda p: "-".join(p)
)
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    name, engine = request.param
    directory = tmp_path_factory.mktemp(f"routing-{name}-{engine}")
    if name == "telecom":
        telecom_data = request.getfixturevalue("telecom_data")
        project = write_project(directory / "project", telecom_data, TELECOM_MODEL)
        _with_store(project, directory / "store")
    elif name == "hello_world":
        project = _shared_example_project("hello_world", "cubes_hello_world", directory / "project")
    elif name == "foodmart":
        project = _shared_example_project("foodmart", "foodmart", directory / "project")
    else:
        project = _ssb_sample_project(directory / "project")
    if engine == "duckdb":
        yield _open(name, project)
        return
    reference = open_engine(load_project(project), Settings(), use_store=False)
    url = request.getfixturevalue("pg_cluster").create_database(f"routing_{name}")
    load_postgres(load_project(project), url, Settings())
    dataset = _open(name, with_engine(project, url), reference)
    yield dataset
    for opened in (dataset.routed, dataset.facts):
        opened.backend.close()


# ---- query strategies --------------------------------------------------------------------------------
def _depth_in(cuboid: BuiltCuboid, axis: Axis) -> int:
    """How many levels of ``axis`` (from the top) the cuboid stores."""
    depth = 0
    for level in axis.levels:
        if f"{axis.dimension}.{level}" not in cuboid.levels:
            break
        depth += 1
    return depth


@st.composite
def cut_on(draw: st.DrawFn, axis: Axis, max_depth: int) -> Cut | None:
    depths = [d for d in sorted(axis.members) if d <= max_depth and axis.members[d]]
    if not depths:
        return None
    hierarchy = None if axis.default and draw(st.booleans()) else axis.hierarchy
    invert = draw(st.integers(0, 4)) == 0
    kind = draw(st.sampled_from(["point", "point", "set", "range", "unknown"]))
    depth = draw(st.sampled_from(depths))
    members = axis.members[depth]
    if kind == "point":
        return PointCut(axis.dimension, draw(st.sampled_from(members)), hierarchy, invert)
    if kind == "unknown":
        path = (*draw(st.sampled_from(members))[:-1], "no_such_member")
        return PointCut(axis.dimension, path, hierarchy, invert)
    if kind == "set":
        paths = (
            draw(st.lists(st.sampled_from(members), min_size=2, max_size=4, unique=True)) if len(members) > 1 else []
        )
        if len(paths) < 2:
            return PointCut(axis.dimension, members[0], hierarchy, invert)
        return SetCut(axis.dimension, tuple(paths), hierarchy, invert)
    plain = [m for m in members if None not in m]
    if not plain:
        return None
    low, high = sorted(draw(st.lists(st.sampled_from(plain), min_size=2, max_size=2)), key=plain.index)
    if len(high) > 1 and draw(st.booleans()):
        high = high[: draw(st.integers(1, len(high) - 1))]  # ends of different depths
    ends = draw(st.sampled_from(["both", "from", "to"]))
    return RangeCut(axis.dimension, low if ends != "to" else None, high if ends != "from" else None, hierarchy, invert)


@st.composite
def aggregate_queries(draw: st.DrawFn, dataset: Dataset) -> Query:
    cube = draw(st.sampled_from(sorted(dataset.axes)))
    axes = dataset.axes[cube]
    cuboids = dataset.cuboids(cube)
    shaped = bool(cuboids) and draw(st.booleans())
    if shaped:
        # a query inside a built cuboid's grain: levels at or above the cuboid's, on its dimensions
        cuboid = draw(st.sampled_from(cuboids))
        limits = {(a.dimension, a.hierarchy): _depth_in(cuboid, a) for a in axes}
    else:
        limits = {(a.dimension, a.hierarchy): max(a.drillable, 1) for a in axes}
    usable = [a for a in axes if limits[(a.dimension, a.hierarchy)] > 0]
    drilled = draw(st.lists(st.sampled_from(usable), max_size=2, unique_by=lambda a: a.dimension)) if usable else []
    drilldown = []
    medium = False
    for axis in drilled:
        depth = draw(st.integers(1, min(limits[(axis.dimension, axis.hierarchy)], max(axis.drillable, 1))))
        medium = medium or axis.cardinality[depth - 1] is not None
        hierarchy = None if axis.default and draw(st.booleans()) else axis.hierarchy
        # now and then no level: one below the cut on the dimension (or its top level)
        level = None if len(drilled) == 1 and draw(st.integers(0, 4)) == 0 else axis.levels[depth - 1]
        drilldown.append(DrilldownItem(axis.dimension, hierarchy, level))
    # cuts on up to two hierarchies, possibly two of the same dimension (time and time@weekly)
    cut_axes = (
        draw(st.lists(st.sampled_from(usable), max_size=2, unique_by=lambda a: (a.dimension, a.hierarchy)))
        if usable
        else []
    )
    cuts = []
    for axis in cut_axes:
        cut = draw(cut_on(axis, limits[(axis.dimension, axis.hierarchy)]))
        if cut is not None:
            cuts.append(cut)
    names = dataset.measures[cube]
    measures = tuple(draw(st.one_of(st.just([]), st.lists(st.sampled_from(names), min_size=1, unique=True))))
    refs = list(measures or names)
    for item in (item for item in drilldown if item.level is not None):
        axis = next(
            a
            for a in axes
            if a.dimension == item.dimension
            and (a.hierarchy == item.hierarchy or (item.hierarchy is None and a.default))
        )
        for level in axis.levels[: axis.levels.index(item.level) + 1]:
            refs += [f"{axis.dimension}.{level}", f"{axis.dimension}.{level}.label"]
    order = tuple(
        OrderItem(ref, draw(st.booleans())) for ref in draw(st.lists(st.sampled_from(refs), max_size=2, unique=True))
    )
    limit, offset = None, 0
    if (len(drilldown) == 2 and medium) or (drilldown and draw(st.integers(0, 4)) == 0):
        limit = draw(st.integers(0, 40))
        offset = draw(st.sampled_from([0, 0, 1, 3, 10]))
    return Query(cube, tuple(cuts), tuple(drilldown), measures, order, limit, offset)


@st.composite
def pivot_queries(draw: st.DrawFn, dataset: Dataset) -> PivotQuery:
    cube = draw(st.sampled_from(sorted(dataset.axes)))
    axes = [a for a in dataset.axes[cube] if a.drillable > 0]
    cuboids = dataset.cuboids(cube)
    if cuboids and draw(st.booleans()):
        cuboid = draw(st.sampled_from(cuboids))
        axes = [a for a in axes if _depth_in(cuboid, a) > 0]
        limits = {(a.dimension, a.hierarchy): _depth_in(cuboid, a) for a in axes}
    else:
        limits = {(a.dimension, a.hierarchy): a.drillable for a in axes}
    chosen = draw(st.lists(st.sampled_from(axes), min_size=1, max_size=2, unique_by=lambda a: a.dimension))
    items = []
    for axis in chosen:
        # pivots stay small: levels of unknown cardinality only, at most three deep
        low = [i for i, c in enumerate(axis.cardinality) if c is None and i < limits[(axis.dimension, axis.hierarchy)]]
        depth = draw(st.sampled_from(low[:3])) + 1 if low else 1
        items.append(DrilldownItem(axis.dimension, axis.hierarchy, axis.levels[depth - 1]))
    rows, columns = (
        (tuple(items[:1]), tuple(items[1:])) if draw(st.booleans()) else (tuple(items[1:]), tuple(items[:1]))
    )
    cuts = []
    for axis in draw(st.lists(st.sampled_from(axes), max_size=1)):
        cut = draw(cut_on(axis, limits[(axis.dimension, axis.hierarchy)]))
        if cut is not None:
            cuts.append(cut)
    names = dataset.measures[cube]
    measures = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)))
    return PivotQuery(cube, rows, columns, tuple(cuts), measures, draw(st.booleans()))


# ---- comparison ----------------------------------------------------------------------------------------
def assert_identical(routed: Any, facts: Any, where: str = "answer") -> None:
    """Equal values of the same Python type; decimals with the same digits and exponent; dict keys in order."""
    assert type(routed) is type(facts), (
        f"{where}: {type(routed).__name__} {routed!r} != {type(facts).__name__} {facts!r}"
    )
    if isinstance(facts, dict):
        assert list(routed) == list(facts), f"{where}: keys {list(routed)} != {list(facts)}"
        for key in facts:
            assert_identical(routed[key], facts[key], f"{where}.{key}")
    elif isinstance(facts, (list, tuple)):
        assert len(routed) == len(facts), f"{where}: {len(routed)} items != {len(facts)}"
        for index, (left, right) in enumerate(zip(routed, facts, strict=True)):
            assert_identical(left, right, f"{where}[{index}]")
    elif isinstance(facts, Decimal):
        assert routed.as_tuple() == facts.as_tuple(), f"{where}: {routed!r} != {facts!r}"
    elif isinstance(facts, float):
        assert repr(routed) == repr(facts), f"{where}: {routed!r} != {facts!r}"
    else:
        assert routed == facts, f"{where}: {routed!r} != {facts!r}"


def _columns(result: Any) -> list[tuple[str, str, str]]:
    return [(c.name, c.kind, str(c.arrow_type)) for c in result.columns]


def run_both(dataset: Dataset, call: Callable[[CubeEngine], Any]) -> tuple[Any, Any] | None:
    """Both answers, or None when both engines refuse the query with the same error."""
    try:
        facts = call(dataset.facts)
    except CubeError as error:
        with pytest.raises(type(error)) as caught:
            call(dataset.routed)
        if not isinstance(error, InternalError):
            assert caught.value.message == error.message
        return None
    return call(dataset.routed), facts


# ---- router soundness, computed from the query (not from cube_server.routing) -------------------------
def _needs(
    cube: Cube, cuts: tuple[Cut, ...], drilldown: tuple[DrilldownItem, ...], names: tuple[str, ...]
) -> tuple[set[str], dict[str, frozenset[str]], list[Measure]]:
    levels: set[str] = set()
    fixed: dict[str, set[str]] = {}
    for item in drilldown:
        dimension = cube.dimension(item.dimension)
        hierarchy = dimension.hierarchy(item.hierarchy)
        if item.level is not None:
            depth = hierarchy.depth_of(item.level)
        else:  # one level below the deepest plain point cut on the same hierarchy
            depth = 1 + max(
                (
                    len(c.path)
                    for c in cuts
                    if isinstance(c, PointCut)
                    and not c.invert
                    and c.dimension == dimension.name
                    and dimension.hierarchy(c.hierarchy).name == hierarchy.name
                ),
                default=0,
            )
        refs = {f"{dimension.name}.{level}" for level in hierarchy.levels[:depth]}
        levels |= refs
        fixed.setdefault(dimension.name, set()).update(refs)
    for cut in cuts:
        dimension = cube.dimension(cut.dimension)
        hierarchy = dimension.hierarchy(cut.hierarchy)
        if isinstance(cut, PointCut):
            paths = [cut.path]
        elif isinstance(cut, SetCut):
            paths = list(cut.paths)
        else:
            paths = [p for p in (cut.from_path, cut.to_path) if p is not None]
        depth = max(len(p) for p in paths)
        refs = {f"{dimension.name}.{level}" for level in hierarchy.levels[:depth]}
        levels |= refs
        if isinstance(cut, PointCut) and not cut.invert:
            fixed.setdefault(dimension.name, set()).update(refs)
    stored: dict[str, Measure] = {}

    def add(name: str) -> None:
        measure = cube.measure(name)
        if measure.formula is None:
            stored[name] = measure
        else:
            for inner in measure.formula.names():
                add(inner)

    for name in names or tuple(m.name for m in cube.measures):
        add(name)
    return levels, {d: frozenset(r) for d, r in fixed.items()}, list(stored.values())


def assert_sound(
    dataset: Dataset,
    cube_name: str,
    source: str,
    cuts: tuple[Cut, ...],
    drilldown: tuple[DrilldownItem, ...],
    names: tuple[str, ...],
) -> None:
    if source == "facts":
        return
    assert source.startswith("cuboid:"), source
    cube = dataset.facts.cube(cube_name)
    cuboid = next(c for c in dataset.cuboids(cube_name) if f"cuboid:{c.name}" == source)
    levels, fixed, stored = _needs(cube, cuts, drilldown, names)
    assert levels <= set(cuboid.levels), f"{source} lacks {sorted(levels - set(cuboid.levels))}"
    assert {m.name for m in stored} <= set(cuboid.measures), f"{source} lacks measures"
    spec = cuboid.spec
    cuboid_levels = {dimension: spec.levels_of(dimension) for dimension in spec.dimensions}
    for measure in stored:
        assert can_merge(measure, cuboid_levels, fixed), f"{source} cannot merge {measure.name} (fixed: {fixed})"


# ---- the properties ------------------------------------------------------------------------------------
def test_aggregate_answers_equal_facts(dataset: Dataset) -> None:
    counts: Counter[str] = Counter()

    @settings(max_examples=AGGREGATE_EXAMPLES, **PROPERTY)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        query = data.draw(aggregate_queries(dataset), label="query")
        answers = run_both(dataset, lambda engine: engine.aggregate(query))
        counts["queries"] += 1
        if answers is None:
            counts["refused"] += 1
            return
        routed, facts = answers
        assert facts.meta.source == "facts"
        if dataset.reference is not None:
            duckdb_facts = dataset.reference.aggregate(query)
            assert_identical(facts.cells, duckdb_facts.cells, "cells (engine vs DuckDB)")
            assert_identical(facts.summary, duckdb_facts.summary, "summary (engine vs DuckDB)")
        assert_identical(routed.cells, facts.cells, "cells")
        assert_identical(routed.summary, facts.summary, "summary")
        assert_identical(routed.total_cell_count, facts.total_cell_count, "total_cell_count")
        assert routed.levels == facts.levels and routed.measures == facts.measures
        assert _columns(routed) == _columns(facts)
        assert routed.meta.version == dataset.manifest.version
        if routed.meta.source != "facts":
            counts["routed"] += 1
        assert_sound(dataset, query.cube, routed.meta.source, query.cuts, query.drilldown, query.measures)
        summary_source = routed.meta.extra.get("summary_source")
        if summary_source is not None:
            assert_sound(dataset, query.cube, summary_source, query.cuts, (), query.measures)

    check()
    answered = counts["queries"] - counts["refused"]
    assert answered >= counts["queries"] * 0.6, counts
    assert counts["routed"] >= MIN_ROUTED_SHARE[dataset.name] * counts["queries"], counts


def test_pivot_answers_equal_facts(dataset: Dataset) -> None:
    counts: Counter[str] = Counter()

    @settings(max_examples=PIVOT_EXAMPLES, **PROPERTY)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        query = data.draw(pivot_queries(dataset), label="pivot")
        answers = run_both(dataset, lambda engine: engine.pivot(query))
        counts["queries"] += 1
        if answers is None:
            return
        routed, facts = answers
        if dataset.reference is not None:
            duckdb_facts = dataset.reference.pivot(query)
            assert_identical(facts.values, duckdb_facts.values, "values (engine vs DuckDB)")
            assert_identical(facts.row_headers, duckdb_facts.row_headers, "row headers (engine vs DuckDB)")
        for field in (
            "row_levels",
            "column_levels",
            "measures",
            "row_headers",
            "row_header_labels",
            "column_headers",
            "column_header_labels",
            "values",
            "row_totals",
            "column_totals",
            "grand_total",
        ):
            assert_identical(getattr(routed, field), getattr(facts, field), field)
        assert [str(t) for t in routed.measure_types] == [str(t) for t in facts.measure_types]
        assert {k: str(t) for k, t in routed.header_types.items()} == {k: str(t) for k, t in facts.header_types.items()}
        sources = routed.meta.extra["sources"]
        if any(source != "facts" for source in sources.values()):
            counts["routed"] += 1
        assert_sound(dataset, query.cube, sources["cells"], query.cuts, query.rows + query.columns, query.measures)
        assert_sound(dataset, query.cube, sources["row_totals"], query.cuts, query.rows, query.measures)
        assert_sound(dataset, query.cube, sources["column_totals"], query.cuts, query.columns, query.measures)

    check()
    assert counts["routed"] > 0, counts


def test_an_unknown_member_of_a_date_level_is_an_empty_cell(tmp_path: Path) -> None:
    engine = open_engine(load_project(_shared_example_project("foodmart", "foodmart", tmp_path)), Settings())
    empty = engine.aggregate(Query("sales", (PointCut("store", ("Atlantis",)),), (), ("unit_sales",)))
    assert empty.summary == {"unit_sales": Decimal("0.0000")}
    cut = PointCut("time", ("1997", "2", "no_such_member"), "weekly")
    result = engine.aggregate(Query("sales", (cut,), (), ("unit_sales",)))
    assert result.summary == {"unit_sales": Decimal("0.0000")} and result.cells == []
