"""Refresh the store with Spark: the cuboid side of an append or a replacement, computed on a cluster.

The refresh itself stays :mod:`cube_server.refresh`'s: it checks and stages the new fact file, rewrites the
fact files of a replaced range, and switches fact files and store version together through its journal.
What it hands to :class:`SparkCuboidRefresh` is the cuboids' part, done as the DuckDB refresh does it, per cuboid:

- **merge** (an append, a cuboid whose measures all merge): the new facts' partials are aggregated and merged
  with the cuboid's rows of the time partitions they touch;
- **recompute** (a replacement, or a cuboid holding an exact distinct count): the cells the changed rows touch
  are recomputed from all the facts after the change, read only for the periods of the cuboid's time level
  those rows fall in; the cuboid's other rows of the touched partitions are kept.

Partitions nobody touched are hard links to the previous version's files, as in the DuckDB refresh. The changed
rows (small) are written once as Parquet beside the store for Spark to read; the facts are read where they are.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregates.store import BuiltCuboid, CuboidStore, Manifest, now_text
from cube_models import Cube
from cube_server.build import (
    aggregate_facts,
    key_refs,
    merge_partials,
    partition_column,
    stored_attributes,
    stored_measures,
)
from cube_server.cuboids import column_name
from cube_server.engine import CubeEngine
from cube_server.errors import SparkBuildError
from cube_server.parquet_files import describe_written, quote_path
from cube_server.project import Project
from cube_server.refresh import Change, link_tree, link_untouched, mergeable, period_filter
from cube_server.spark_build.build import SparkViews, column_types, tables_registered, typed, view_name
from cube_server.spark_build.layout import write_cuboid
from cube_server.spark_build.spark_sql import quoted, spark_sql


class SparkCuboidRefresh:
    """The cuboids of a refresh, computed by ``spark`` (``refresh_cuboids`` of append_facts and replace_facts)."""

    def __init__(self, spark: Any, project: Project) -> None:
        self.spark = spark
        self.project = project

    def __call__(
        self,
        engine: CubeEngine,
        store: CuboidStore,
        current: Manifest,
        version: str,
        table: str,
        change: Change,
        *,
        merge: bool,
    ) -> tuple[Manifest, dict[str, str]]:
        staging = store.staging_dir(version)
        staging.mkdir(parents=True)
        old_dir = store.version_dir(current.version)
        scratch = store.root / f".spark-refresh-{version}"
        scratch.mkdir(parents=True)
        cuboids: list[BuiltCuboid] = []
        done: dict[str, str] = {}
        try:
            with tables_registered(self.spark, engine, self.project), SparkViews(self.spark) as views:
                facts = _RefreshFacts(
                    changed=views.files(view_name(version, "changed"), [_export(engine, change.changed, scratch)]),
                    added=views.files(view_name(version, "added"), [_export(engine, change.added, scratch)]),
                    after=views.files(view_name(version, "after"), list(change.after_files)),
                )
                for built in current.cuboids:
                    cube = engine.catalog.cube(built.cube)
                    if cube.fact != table:
                        link_tree(old_dir / built.path, staging / built.path)
                        cuboids.append(built)
                        done[f"{cube.name}.{built.name}"] = "unchanged"
                        continue
                    fresh = _Refreshing(self.spark, engine, cube, built, views, version)
                    refreshed, what = fresh.run(old_dir, staging, facts, change, merge and mergeable(cube, built))
                    cuboids.append(refreshed)
                    done[f"{cube.name}.{built.name}"] = what
        except SparkBuildError:
            raise
        except Exception as exc:  # errors of the JVM or of Spark Connect: say that Spark failed, and where
            raise SparkBuildError(f"Spark could not refresh the store: {exc}") from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Manifest(version, now_text(), current.model_hash, current.facts_version, tuple(cuboids)), done


class _RefreshFacts:
    def __init__(self, changed: sa.TableClause, added: sa.TableClause, after: sa.TableClause) -> None:
        self.changed, self.added, self.after = changed, added, after


def _export(engine: CubeEngine, rows: sa.TableClause, scratch: Path) -> Path:
    """The rows of one of the refresh's DuckDB views, as a Parquet file Spark reads."""
    target = scratch / f"{rows.name}.parquet"
    if not target.exists():
        engine.backend.run_statement(
            f"COPY (SELECT * FROM \"{rows.name}\") TO '{quote_path(target)}' (FORMAT parquet, COMPRESSION zstd)"
        )
    return target


class _Refreshing:
    """One cuboid of a refresh."""

    def __init__(self, spark: Any, engine: CubeEngine, cube: Cube, built: BuiltCuboid, views: SparkViews, version: str):
        self.spark, self.engine, self.cube, self.built, self.views = spark, engine, cube, built, views
        self.name = view_name(version, cube.name, built.name)
        self.spec = built.spec
        self.measures = stored_measures(cube, self.spec)
        self.attributes = stored_attributes(cube, self.spec)
        self.keys = key_refs(cube, self.spec)
        self.key_column = partition_column(cube, built.partition_level)
        self.types = column_types(engine, cube, self.spec)

    def sql(self, statement: sa.sql.ClauseElement) -> Any:
        return self.spark.sql(spark_sql(statement))

    def run(
        self, old_dir: Path, staging: Path, facts: _RefreshFacts, change: Change, merging: bool
    ) -> tuple[BuiltCuboid, str]:
        star = self.engine.star(self.cube.name)
        changed = star.over_facts(facts.changed)
        touched_keys = sa.select(*(changed.attribute(ref).label(column_name(ref)) for ref in self.keys))
        touched = self.views.cache(
            self.sql(touched_keys.select_from(changed.from_clause_for(set(self.keys))).distinct())
        )
        partitions = self._touched_partitions(change)
        old = self._old_rows(old_dir, partitions)
        measure_types = self.engine.measure_types(self.cube.name)
        if merging:
            delta = typed(
                self.sql(aggregate_facts(star.over_facts(facts.added), measure_types, self.attributes, self.measures)),
                self.types,
            )
            rows = self.views.register(f"{self.name}_merge", delta if old is None else old.unionByName(delta))
            frame = self.sql(merge_partials(rows, self.attributes, self.measures))
            what = "merged the new facts' partials"
        else:
            after = star.over_facts(facts.after)
            where = period_filter(self.cube, self.spec, after, change.time_bounds)
            select = aggregate_facts(after, measure_types, self.attributes, self.measures, where=where)
            frame = self._touched_cells(self.sql(select), touched, "left_semi")
            if old is not None:
                frame = typed(frame, self.types).unionByName(self._touched_cells(old, touched, "left_anti"))
            what = f"recomputed {touched.count()} touched cell(s) from the facts"
        target = staging / self.built.path
        write_cuboid(typed(frame, self.types), target, self.key_column)
        if self.key_column:
            link_untouched(old_dir / self.built.path, target, self.key_column, partitions)
        rows_written, partitions_written, size = describe_written(self.engine.backend, target, self.key_column)
        refreshed = replace(
            self.built,
            rows=rows_written,
            bytes=size,
            partitions=partitions_written,
            built_at=now_text(),
            built_from="refresh",
        )
        return refreshed, what

    def _touched_partitions(self, change: Change) -> list[str]:
        """The partitions the changed rows fall in, named as their directories are (DuckDB reads the few rows)."""
        if self.key_column is None or self.built.partition_level is None:
            return []
        dimension, level = self.built.partition_level.split(".", 1)
        ref = self.cube.dimension(dimension).level(level).key_attribute.ref
        changed = self.engine.star(self.cube.name).over_facts(change.changed)
        select = sa.select(sa.cast(changed.attribute(ref), sa.String)).select_from(changed.from_clause_for({ref}))
        rows = self.engine.backend.run_statement(self.engine.backend.compile_literal(select.distinct()))
        return sorted("NULL" if value is None else str(value) for (value,) in rows)

    def _old_rows(self, old_dir: Path, partitions: list[str]) -> Any:
        """The cuboid's rows in the touched partitions (all of them when it has none), or None when there are none."""
        directory = old_dir / self.built.path
        if self.key_column is None:
            paths = [directory]
        else:
            paths = [path for value in partitions if (path := directory / f"{self.key_column}={value}").is_dir()]
        if not paths:
            return None
        frame = self.spark.read.option("recursiveFileLookup", "true").parquet(*(str(path) for path in paths))
        return typed(frame, self.types)

    def _touched_cells(self, rows: Any, touched: Any, how: str) -> Any:
        """The rows whose cell is (``left_semi``) or is not (``left_anti``) among the touched ones."""
        rows_view = self.views.register(f"{self.name}_{how}_rows", rows)
        touched_view = self.views.register(f"{self.name}_touched", touched)
        on = (
            " AND ".join(f"r.{quoted(column_name(ref))} <=> t.{quoted(column_name(ref))}" for ref in self.keys)
            or "true"
        )
        join = "LEFT SEMI JOIN" if how == "left_semi" else "LEFT ANTI JOIN"
        return self.spark.sql(
            f"SELECT r.* FROM {quoted(rows_view.name)} r {join} {quoted(touched_view.name)} t ON {on}"
        )
