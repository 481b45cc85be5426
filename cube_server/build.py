"""Build the cuboid store: each cuboid from its smallest already-built ancestor (or the facts), in a new version.

The version is written beside the current one and switched in atomically at the end; a crash at any point
leaves the previous version serving. Writing and reading go through DuckDB: ``COPY (SELECT … GROUP BY …) TO``
Parquet, partitioned by the time dimension's top level when the cuboid keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregates.algebra import can_merge, partial_column, partials
from aggregates.lattice import CuboidSpec, build_order, declared_cuboids
from aggregates.store import BuiltCuboid, CuboidStore, Manifest, now_text
from cube_models import AggFunc, Cube, Measure
from cube_server.backends import Backend
from cube_server.cuboids import column_name
from cube_server.engine import CubeEngine
from cube_server.parquet_files import cuboid_glob, describe_written, quote_path, write_select
from cube_server.sql_dialect import partial_sum
from cube_server.star import Star

# refresh (Parquet facts and cuboids) writes and reads cuboid files as the build does
__all__ = ["cuboid_glob", "describe_written", "quote_path", "write_select"]

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class BuildReport:
    manifest: Manifest
    elapsed_s: float


def stored_measures(cube: Cube, spec: CuboidSpec | None = None) -> tuple[Measure, ...]:
    """The measures a cuboid holds: every measure that is not calculated, or those ``spec`` names."""
    named = None if spec is None else spec.measures
    return tuple(m for m in cube.measures if m.formula is None and (named is None or m.name in named))


def stored_attributes(cube: Cube, spec: CuboidSpec) -> list[str]:
    """Key, label and order attributes of every level the cuboid stores, in hierarchy order."""
    refs: list[str] = []
    for dimension in cube.dimensions:
        for level in dimension.levels:
            if level.ref in spec.levels:
                for name in dict.fromkeys([level.key, level.label_attribute, level.order_attribute]):
                    if name:
                        refs.append(level.attribute(name).ref)
    return refs


def key_refs(cube: Cube, spec: CuboidSpec) -> list[str]:
    """The key attribute of every level the cuboid stores: together they identify its cells."""
    return [
        level.key_attribute.ref
        for dimension in cube.dimensions
        for level in dimension.levels
        if level.ref in spec.levels
    ]


def partition_level(cube: Cube, spec: CuboidSpec) -> str | None:
    """The top level of the time dimension, when the cuboid stores it: one partition per year, say."""
    for dimension in cube.dimensions:
        if dimension.role == "time":
            top = dimension.hierarchy().levels[0]
            if f"{dimension.name}.{top}" in spec.levels:
                return f"{dimension.name}.{top}"
    return None


@dataclass(slots=True)
class NewVersion:
    """A store version being written: the cuboids to build, in order, and those built so far."""

    version: str
    staging: Path
    plans: list[tuple[Cube, CuboidSpec]]
    built: list[BuiltCuboid] = field(default_factory=list)
    manifest: Manifest | None = None  # set once published

    def siblings(self, cube: Cube) -> list[BuiltCuboid]:
        """The cuboids of ``cube`` built so far: the parents the next one may be rolled up from."""
        return [built for built in self.built if built.cube == cube.name]


def build_plans(engine: CubeEngine, specs: dict[str, list[CuboidSpec]] | None) -> list[tuple[Cube, CuboidSpec]]:
    """Every cube's cuboids in build order: those ``specs`` names (a plan), by default the declared ones."""
    return [
        (cube, spec)
        for cube in engine.catalog.cubes
        for spec in build_order(specs[cube.name] if specs and cube.name in specs else declared_cuboids(cube))
    ]


@contextmanager
def new_store_version(
    engine: CubeEngine, store: CuboidStore, specs: dict[str, list[CuboidSpec]] | None = None
) -> Iterator[NewVersion]:
    """Hold the store's lock, open a new version's staging directory, and publish what was built in it.

    Whoever builds (DuckDB, PostgreSQL or Spark) appends each cuboid to ``built``; when the block ends
    without an error the version is published, atomically, and versions no longer kept are collected.
    """
    with store.lock():
        engine.snapshot()  # reopens fact files a refresh added or replaced since the engine last looked
        store.collect_garbage()
        version = store.new_version()
        staging = store.staging_dir(version)
        staging.mkdir(parents=True)
        opened = NewVersion(version, staging, build_plans(engine, specs))
        yield opened
        opened.manifest = Manifest(version, now_text(), engine.model_hash, engine.facts_version, tuple(opened.built))
        store.publish(opened.manifest)
        engine.backend.collect_garbage({path.name for path in (store.root / "versions").iterdir()})


def build_store(
    engine: CubeEngine,
    store: CuboidStore,
    progress: Progress | None = None,
    specs: dict[str, list[CuboidSpec]] | None = None,
) -> BuildReport:
    """Build the cuboids of every cube into a new version and switch to it.

    ``specs`` names them per cube (a plan: declared and selected ones); by default, the declared ones.
    """
    started = time.monotonic()
    with new_store_version(engine, store, specs) as opened:
        shared: dict[tuple[str, str], sa.Select[Any]] = {}
        try:
            for cube in engine.catalog.cubes:
                shared.update(_shared_scan(engine, cube, _specs_of(opened, cube), opened.version))
            for index, (cube, spec) in enumerate(opened.plans, start=1):
                if progress:
                    progress(index, len(opened.plans), f"{cube.name}.{spec.name}")
                prepared = shared.get((cube.name, spec.name))
                built = _build_one(engine, cube, spec, opened.staging, opened.siblings(cube), opened.version, prepared)
                opened.built.append(built)
        finally:
            for cube in engine.catalog.cubes:
                drop_scan_tables(engine.backend, _scan_table(opened.version, cube.name))
    assert opened.manifest is not None
    return BuildReport(opened.manifest, time.monotonic() - started)


def _specs_of(opened: NewVersion, cube: Cube) -> list[CuboidSpec]:
    return [spec for owner, spec in opened.plans if owner.name == cube.name]


def _scan_table(version: str, cube: str) -> str:
    return f"build_{version}_{cube}".replace("-", "_")


def could_be_parent(parent: CuboidSpec, child: CuboidSpec, measures: tuple[Measure, ...]) -> bool:
    if parent.name == child.name or not child.levels <= parent.levels:
        return False
    if parent.measures is not None and not {m.name for m in measures} <= set(parent.measures):
        return False
    fixed = child.levels_by_dimension()
    return all(can_merge(m, parent.levels_by_dimension(), fixed) for m in measures)


def _shared_scan(
    engine: CubeEngine, cube: Cube, specs: list[CuboidSpec], version: str
) -> dict[tuple[str, str], sa.Select[Any]]:
    """GROUPING SETS passes over the facts for every cuboid that no other cuboid can be rolled up into.

    Returns the SELECT that yields each such cuboid's rows (none when a single cuboid needs the facts).
    """
    roots = shared_scan_roots(cube, specs)
    if not roots:
        return {}
    star = engine.star(cube.name)
    scanned = grouping_sets_scan(
        engine.backend, star, engine.measure_types(cube.name), roots, _scan_table(version, cube.name)
    )
    return {(cube.name, name): select for name, select in scanned.items()}


def shared_scan_roots(cube: Cube, specs: list[CuboidSpec]) -> list[CuboidSpec]:
    """The cuboids no other cuboid can be rolled up into, which a shared scan computes (none if only one is)."""
    roots = [
        spec for spec in specs if not any(could_be_parent(other, spec, stored_measures(cube, spec)) for other in specs)
    ]
    return roots if len(roots) >= 2 else []


def grouping_sets_scan(
    backend: Backend,
    star: Star,
    measure_types: dict[str, str],
    specs: list[CuboidSpec],
    table_prefix: str,
    where: sa.ColumnElement[bool] | None = None,
) -> dict[str, sa.Select[Any]]:
    """The rows of every cuboid in ``specs``, from as few passes over ``star`` as GROUPING() allows.

    The groups land in scan tables ``<table_prefix>_<n>`` (in memory in DuckDB, unlogged in PostgreSQL),
    tagged by GROUPING(); the SELECT returned per cuboid copies its rows out. GROUPING() is a bit mask, so
    cuboids are batched by at most ``backend.max_grouping_columns`` grouping attributes, one pass per batch.
    The caller drops the tables (:func:`drop_scan_tables`).
    """
    cube = star.cube
    result = {}
    for index, (attributes, members) in enumerate(grouping_batches(cube, specs, backend.max_grouping_columns)):
        measures = stored_measures(cube, members[0])
        sets = [stored_attributes(cube, member) for member in members]
        select = aggregate_facts(star, measure_types, attributes, measures, grouping_sets=sets, where=where)
        table = backend.create_scan_table(f"{table_prefix}_{index}", select)
        for spec in members:
            mask = grouping_mask(attributes, stored_attributes(cube, spec))
            columns = [table.c[column_name(ref)] for ref in stored_attributes(cube, spec)]
            columns += [table.c[partial_column(m, name)] for m in measures for name, _, _ in partials(m)]
            result[spec.name] = sa.select(*columns).where(table.c["grouping_mask"] == mask)
    return result


def grouping_batches(
    cube: Cube, specs: list[CuboidSpec], max_columns: int = 60
) -> list[tuple[list[str], list[CuboidSpec]]]:
    """The GROUPING SETS passes that compute ``specs``: each pass's grouping attributes and its cuboids.

    Cuboids holding the same measures share passes: a pass computes every measure for every group, and an
    exact distinct count is the costly one, so cuboids without it are not made to pay for it. GROUPING()
    is a bit mask (64 bits in DuckDB, 32 in PostgreSQL), so a pass groups by at most ``max_columns`` attributes.
    """
    batches: list[tuple[list[str], list[CuboidSpec]]] = []
    for spec in sorted(specs, key=lambda each: (-len(stored_attributes(cube, each)), each.name)):
        refs = stored_attributes(cube, spec)
        batch = next(
            (
                b
                for b in batches
                if len(set(b[0]) | set(refs)) <= max_columns
                and stored_measures(cube, b[1][0]) == stored_measures(cube, spec)
            ),
            None,
        )
        if batch is None:
            batches.append((list(refs), [spec]))
        else:
            batch[0].extend(ref for ref in refs if ref not in batch[0])
            batch[1].append(spec)
    return batches


def grouping_mask(attributes: list[str], kept: list[str]) -> int:
    """The GROUPING(attributes...) value of the groups that keep ``kept``: a 1 bit per attribute rolled up."""
    return sum(1 << (len(attributes) - 1 - i) for i, ref in enumerate(attributes) if ref not in set(kept))


def drop_scan_tables(backend: Backend, table_prefix: str) -> None:
    backend.drop_scan_tables(f"{table_prefix}_")


def _build_one(
    engine: CubeEngine,
    cube: Cube,
    spec: CuboidSpec,
    staging: Path,
    built: list[BuiltCuboid],
    version: str,
    prepared: sa.Select[Any] | None,
) -> BuiltCuboid:
    measures = stored_measures(cube, spec)
    attributes = stored_attributes(cube, spec)
    parent = None if prepared is not None else smallest_parent(spec, measures, built)
    if prepared is not None:
        select = prepared
    elif parent is None:
        select = _from_facts(engine, cube, attributes, measures)
    else:
        table = engine.backend.built_cuboid(f"building_{version}_{cube.name}_{parent.name}", staging, parent)
        select = merge_partials(table, attributes, measures)
    partition = partition_level(cube, spec)
    key_column = partition_column(cube, partition)
    written = engine.backend.write_cuboid(select, staging, version, cube.name, spec.name, key_column)
    return BuiltCuboid(
        name=spec.name,
        cube=cube.name,
        grain=spec.grain,
        levels=tuple(sorted(spec.levels)),
        measures=tuple(m.name for m in measures),
        path=written.path,
        rows=written.rows,
        bytes=written.bytes,
        built_at=now_text(),
        built_from=parent.name if parent else ("facts (shared scan)" if prepared is not None else "facts"),
        partition_level=partition,
        partitions=written.partitions,
    )


def partition_column(cube: Cube, partition: str | None) -> str | None:
    if partition is None:
        return None
    dimension, level = partition.split(".", 1)
    return column_name(cube.dimension(dimension).level(level).key_attribute.ref)


def smallest_parent(spec: CuboidSpec, measures: tuple[Measure, ...], built: list[BuiltCuboid]) -> BuiltCuboid | None:
    """The smallest built cuboid that stores every level of ``spec`` and merges every measure into it."""
    parents = [candidate for candidate in built if could_be_parent(candidate.spec, spec, measures)]
    return min(parents, key=lambda candidate: candidate.rows, default=None)


def _from_facts(
    engine: CubeEngine,
    cube: Cube,
    attributes: list[str],
    measures: tuple[Measure, ...],
    grouping_sets: list[list[str]] | None = None,
) -> sa.Select[Any]:
    star = engine.star(cube.name)
    return aggregate_facts(star, engine.measure_types(cube.name), attributes, measures, grouping_sets=grouping_sets)


def aggregate_facts(
    star: Star,
    measure_types: dict[str, str],
    attributes: list[str],
    measures: tuple[Measure, ...],
    *,
    grouping_sets: list[list[str]] | None = None,
    where: sa.ColumnElement[bool] | None = None,
) -> sa.Select[Any]:
    """The partials of ``measures`` grouped by ``attributes`` (or by each grouping set), read from ``star``."""
    columns = [star.attribute(ref).label(column_name(ref)) for ref in attributes]
    for index, measure in enumerate(measures):
        value = star.measure_input(measure)
        if value is not None:
            columns.append(value.label(f"input{index}"))
    if not columns:
        columns.append(sa.literal(1).label("one"))
    inner_select = sa.select(*columns).select_from(star.from_clause_for(set(attributes), measures))
    if where is not None:
        inner_select = inner_select.where(where)
    inner = inner_select.subquery("facts")
    keys = [inner.c[column_name(ref)] for ref in attributes]
    values = []
    for index, measure in enumerate(measures):
        value = inner.c[f"input{index}"] if f"input{index}" in inner.c else None
        for name, compute, _ in partials(measure):
            values.append(
                _partial(compute, value, measure_types.get(measure.name, "")).label(partial_column(measure, name))
            )
    if grouping_sets is None:
        return sa.select(*keys, *values).group_by(*keys)
    sets = [sa.tuple_(*(inner.c[column_name(ref)] for ref in refs)) for refs in grouping_sets]
    mask = sa.func.grouping(*keys).label("grouping_mask")
    return sa.select(*keys, *values, mask).group_by(sa.func.grouping_sets(*sets))


def _partial(compute: str, value: sa.ColumnElement[Any] | None, input_type: str) -> sa.ColumnElement[Any]:
    if compute == "count_rows":
        return sa.func.count()
    assert value is not None
    if compute == "sum":
        return partial_sum(value, input_type)
    if compute == "count":
        return sa.func.count(value)
    if compute == "count_distinct":
        return sa.func.count(sa.distinct(value))
    return getattr(sa.func, compute)(value)  # type: ignore[no-any-return]


def merge_partials(table: sa.TableClause, attributes: list[str], measures: tuple[Measure, ...]) -> sa.Select[Any]:
    keys = [table.c[column_name(ref)] for ref in attributes]
    values = []
    for measure in measures:
        for name, _, merge in partials(measure):
            column = table.c[partial_column(measure, name)]
            merged = sa.func.sum(column) if merge == "sum" else getattr(sa.func, merge)(column)
            if measure.function in (AggFunc.COUNT, AggFunc.COUNT_NONEMPTY, AggFunc.COUNT_DISTINCT) or name == "count":
                merged = sa.cast(merged, sa.BigInteger)
            values.append(merged.label(partial_column(measure, name)))
    return sa.select(*keys, *values).select_from(table).group_by(*keys)
