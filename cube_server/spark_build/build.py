"""Build the cuboid store with Spark SQL: the DuckDB build's plan, layout and manifest, computed on a cluster.

The same cuboids in the same order, each from its smallest already built parent's files where it has one.
Those no other can be rolled up into come from the facts: in GROUPING SETS passes (batched as
:func:`cube_server.build.grouping_batches` batches them) when their measures merge, one aggregation each when
they hold an exact distinct count. Spark computes a distinct count over grouping sets by expanding every fact
once per grouping set with every grouping column, then shuffling the expanded rows twice; for the telecom
model's nine declared cuboids at 1M facts that pass did not finish in 7 minutes where the nine separate
aggregations took 95 s (one 2-core worker), so only cuboids without one share passes.

The statements are the DuckDB build's, compiled for Spark (:mod:`cube_server.spark_build.spark_sql`), and
every column is cast to the type DuckDB gives it, so the files hold the same columns with the same types
(exact decimals, 64-bit counts). Distinct counts are Spark's exact ``count(DISTINCT …)`` at each cuboid's own
grain, rolled up only where the measure algebra allows it.

Spark reads the facts and writes the cuboids by path, so the project's data and store directories must be
the same paths on this machine and on the cluster's workers (one machine, or a shared file system).
The version is published here, atomically, as the DuckDB build publishes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregates.algebra import partial_column, partials
from aggregates.lattice import CuboidSpec
from aggregates.store import BuiltCuboid, CuboidStore, now_text
from cube_models import AggFunc, Cube, Measure
from cube_models.errors import CubeError
from cube_server.build import (
    BuildReport,
    Progress,
    aggregate_facts,
    grouping_batches,
    grouping_mask,
    merge_partials,
    new_store_version,
    partition_column,
    partition_level,
    shared_scan_roots,
    smallest_parent,
    stored_attributes,
    stored_measures,
)
from cube_server.cuboids import column_name
from cube_server.engine import CubeEngine
from cube_server.errors import SparkBuildError
from cube_server.parquet_files import describe_written
from cube_server.project import Project
from cube_server.spark_build.layout import write_cuboid
from cube_server.spark_build.spark_sql import quoted, spark_sql, spark_type
from cube_server.star import Star


def build_store_with_spark(
    engine: CubeEngine,
    project: Project,
    store: CuboidStore,
    spark: Any,
    progress: Progress | None = None,
    specs: dict[str, list[CuboidSpec]] | None = None,
) -> BuildReport:
    """Build the cuboids of every cube with ``spark`` into a new version and switch to it.

    ``engine`` (DuckDB over the same files) supplies the model, the statements and the column types and
    reads back what Spark wrote; ``specs`` names the cuboids per cube, by default the declared ones.
    """

    if engine.backend.name != "duckdb":
        raise SparkBuildError(
            f"the Spark build reads the project's Parquet files and writes the store as Parquet files; this "
            f"project's engine is {engine.backend.name} (build it there, or with DuckDB)"
        )
    started = time.monotonic()
    with new_store_version(engine, store, specs) as opened:
        try:
            with tables_registered(spark, engine, project), SparkViews(spark) as views:
                shared: dict[tuple[str, str], Any] = {}
                for cube in engine.catalog.cubes:
                    star = engine.star(cube.name)
                    cube_specs = [spec for owner, spec in opened.plans if owner.name == cube.name]
                    shared.update(shared_scan(spark, engine, star, cube_specs, views))
                for index, (cube, spec) in enumerate(opened.plans, start=1):
                    if progress:
                        progress(index, len(opened.plans), f"{cube.name}.{spec.name}")
                    prepared = shared.get((cube.name, spec.name))
                    built = _build_one(
                        spark, engine, cube, spec, opened.staging, opened.siblings(cube), prepared, views
                    )
                    opened.built.append(built)
        except CubeError:
            raise
        except Exception as exc:  # Spark's errors come from the JVM or over Connect: one message, the cause chained
            raise SparkBuildError(f"Spark could not build the store: {exc}") from exc
    assert opened.manifest is not None
    return BuildReport(opened.manifest, time.monotonic() - started)


class SparkViews:
    """Temporary views and cached frames of one build, dropped at its end."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.names: list[str] = []
        self.cached: list[Any] = []

    def __enter__(self) -> SparkViews:
        return self

    def __exit__(self, *exc: object) -> None:
        for frame in self.cached:
            frame.unpersist()
        for name in self.names:
            self.spark.catalog.dropTempView(name)

    def files(self, name: str, paths: list[Path] | Path) -> sa.TableClause:
        """A view over Parquet files (or every Parquet file under a directory), as a table clause."""
        reader = self.spark.read
        if isinstance(paths, Path):
            # A cuboid's directory: its partition column is inside the files, not read from directory names.
            frame = reader.option("recursiveFileLookup", "true").parquet(str(paths))
        else:
            frame = reader.parquet(*(str(path) for path in paths))
        return self.register(name, frame)

    def register(self, name: str, frame: Any) -> sa.TableClause:
        frame.createOrReplaceTempView(name)
        self.names.append(name)
        return sa.table(name, *(sa.column(column) for column in frame.columns))

    def cache(self, frame: Any) -> Any:
        self.cached.append(frame.persist())
        return frame


@contextmanager
def tables_registered(spark: Any, engine: CubeEngine, project: Project) -> Iterator[None]:
    """Every table the cubes read, as a Spark view named like the project's table over the same files."""
    needed = {table for cube in engine.catalog.cubes for table in [cube.fact, *(j.detail.table for j in cube.joins)]}
    names = []
    for source in project.table_sources():
        if source.name not in needed:
            continue
        if source.format != "parquet" or source.key:
            raise SparkBuildError(
                f"table {source.name!r} is {'a CSV file' if source.format != 'parquet' else 'given a synthetic key'}; "
                "the Spark build reads Parquet tables as they are (convert it, or build with DuckDB)"
            )
        spark.read.parquet(*(str(path) for path in source.files)).createOrReplaceTempView(source.name)
        names.append(source.name)
    try:
        yield
    finally:
        for name in names:
            spark.catalog.dropTempView(name)


def view_name(*parts: str) -> str:
    return "cube_server_" + "_".join("".join(c if c.isalnum() else "_" for c in part) for part in parts)


def shared_scan(
    spark: Any, engine: CubeEngine, star: Star, specs: list[CuboidSpec], views: SparkViews, where: Any = None
) -> dict[tuple[str, str], Any]:
    """Rows of the cuboids no other rolls up into and without a distinct count, from GROUPING SETS passes."""
    cube = star.cube
    roots = [spec for spec in shared_scan_roots(cube, specs) if not holds_distinct_count(cube, spec)]
    if len(roots) < 2:
        return {}
    return {(cube.name, name): frame for name, frame in grouping_sets_frames(spark, engine, star, roots, views, where)}


def holds_distinct_count(cube: Cube, spec: CuboidSpec) -> bool:
    return any(measure.function is AggFunc.COUNT_DISTINCT for measure in stored_measures(cube, spec))


def grouping_sets_frames(
    spark: Any, engine: CubeEngine, star: Star, specs: list[CuboidSpec], views: SparkViews, where: Any = None
) -> Iterator[tuple[str, Any]]:
    """Each cuboid of ``specs`` and the frame of its rows, from one cached pass per batch of grouping sets."""
    cube = star.cube
    types = engine.measure_types(cube.name)
    for attributes, members in grouping_batches(cube, specs):
        measures = stored_measures(cube, members[0])
        sets = [stored_attributes(cube, member) for member in members]
        select = aggregate_facts(star, types, attributes, measures, grouping_sets=sets, where=where)
        scan = views.cache(spark.sql(spark_sql(select)))
        for spec in members:
            kept = stored_attributes(cube, spec)
            columns = [column_name(ref) for ref in kept] + partial_columns(measures)
            rows = scan.where(f"grouping_mask = {grouping_mask(attributes, kept)}")
            yield spec.name, rows.select(*(quoted(column) for column in columns))


def partial_columns(measures: tuple[Measure, ...]) -> list[str]:
    return [partial_column(measure, name) for measure in measures for name, _, _ in partials(measure)]


def column_types(engine: CubeEngine, cube: Cube, spec: CuboidSpec) -> dict[str, str]:
    """A cuboid's columns and the Spark types of what DuckDB writes for them (its build is the reference)."""
    star, types = engine.star(cube.name), engine.measure_types(cube.name)
    select = aggregate_facts(star, types, stored_attributes(cube, spec), stored_measures(cube, spec))
    try:
        return {name: spark_type(sql_type) for name, sql_type in engine.backend.describe(select).items()}
    except ValueError as exc:
        raise SparkBuildError(f"cuboid {cube.name}.{spec.name}: {exc}") from exc


def typed(frame: Any, types: dict[str, str]) -> Any:
    """``frame`` with the columns of ``types``, in their order, cast to their types."""
    return frame.selectExpr(*(f"CAST({quoted(name)} AS {kind}) AS {quoted(name)}" for name, kind in types.items()))


def _build_one(
    spark: Any,
    engine: CubeEngine,
    cube: Cube,
    spec: CuboidSpec,
    staging: Path,
    built: list[BuiltCuboid],
    prepared: Any,
    views: SparkViews,
) -> BuiltCuboid:
    measures = stored_measures(cube, spec)
    attributes = stored_attributes(cube, spec)
    parent = None if prepared is not None else smallest_parent(spec, measures, built)
    if prepared is not None:
        frame = prepared
    elif parent is None:
        star = engine.star(cube.name)
        frame = spark.sql(spark_sql(aggregate_facts(star, engine.measure_types(cube.name), attributes, measures)))
    else:
        table = views.files(view_name(staging.name, cube.name, parent.name), staging / parent.path)
        frame = spark.sql(spark_sql(merge_partials(table, attributes, measures)))
    target = staging / cube.name / spec.name
    partition = partition_level(cube, spec)
    key_column = partition_column(cube, partition)
    types = column_types(engine, cube, spec)
    try:
        write_cuboid(typed(frame, types), target, key_column)
    except Exception as exc:  # name the cuboid that failed
        raise SparkBuildError(f"Spark could not build cuboid {cube.name}.{spec.name}: {exc}") from exc
    rows, partitions, size = describe_written(engine.backend, target, key_column)
    return BuiltCuboid(
        name=spec.name,
        cube=cube.name,
        grain=spec.grain,
        levels=tuple(sorted(spec.levels)),
        measures=tuple(m.name for m in measures),
        path=f"{cube.name}/{spec.name}",
        rows=rows,
        bytes=size,
        built_at=now_text(),
        built_from=parent.name if parent else ("facts (shared scan)" if prepared is not None else "facts"),
        partition_level=partition,
        partitions=partitions,
    )
