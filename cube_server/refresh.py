"""Refresh the store as facts arrive or get corrected: incremental aggregation and partial modification.

Both write a new store version beside the current one and switch to it atomically, like a full build:

- **append** (incremental aggregation): the new facts are added as one more Parquet file. Each cuboid
  whose measures all merge (sums, counts, minima, maxima) gets the new facts' partials merged into its
  cells; a cuboid with a measure that cannot merge (an exact distinct count) has the cells the new facts
  touch recomputed from all the facts. Only the time partitions those cells live in are rewritten; the
  others are hard links to the current version's files.
- **replace** (partial modification): the facts of a time range are replaced by a file's rows. The
  fact files holding rows of the range are rewritten without them, and every cell the old or new rows
  touch is recomputed from the new facts (a minimum cannot be un-merged, so nothing is subtracted).

The fact files change only after every cuboid is written, together with the switch to the new version,
through a journal (:mod:`cube_server.fact_switch`): a crash before it leaves the previous facts and version
serving, a crash after it is rolled forward by whoever comes next (a command, or the running server).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregates.store import BuiltCuboid, CuboidStore, Manifest, now_text
from cube_models import AggFunc, ColumnRef, Cube
from cube_server.backend import compile_literal
from cube_server.build import (
    aggregate_facts,
    cuboid_glob,
    describe_written,
    drop_scan_tables,
    grouping_sets_scan,
    key_refs,
    merge_partials,
    partition_column,
    quote_path,
    stored_attributes,
    stored_measures,
    write_select,
)
from cube_server.cuboids import column_name
from cube_server.engine import CubeEngine
from cube_server.errors import RefreshError, StoreNotCurrentError
from cube_server.fact_files import (
    count_file,
    fact_table_files,
    file_list,
    parse_range,
    quoted,
    range_sql,
    stage_incoming,
    time_column,
)
from cube_server.fact_switch import JOURNAL, commit_switch, finish_switches, remove_staged_leftovers
from cube_server.project import Project, files_fingerprint
from cube_server.star import Star

# The date_trunc unit of each time level read with extract, and how long one period lasts.
_PERIODS = {
    "year": ("year", "1 year"),
    "quarter": ("quarter", "3 months"),
    "month": ("month", "1 month"),
    "isoweek": ("week", "7 days"),
    "day": ("day", "1 day"),
    "hour": ("hour", "1 hour"),
    "minute": ("minute", "1 minute"),
    "second": ("second", "1 second"),
}


@dataclass(frozen=True, slots=True)
class RefreshReport:
    mode: str
    manifest: Manifest
    elapsed_s: float
    rows_added: int
    rows_removed: int
    cuboids: dict[str, str]  # "cube.cuboid" -> what was done to it


@dataclass(frozen=True, slots=True)
class Change:
    """What a refresh changes in the facts: the changed rows, and the fact files afterwards."""

    changed: sa.TableClause  # rows added and rows removed (their cells change)
    added: sa.TableClause
    after: sa.TableClause  # all the facts after the change
    time_bounds: dict[str, tuple[Any, Any]]  # fact time column -> (min, max) over the changed rows
    after_files: tuple[Path, ...] = ()  # the files of ``after``, for an engine that reads them itself


# (engine, store, current manifest, new version, fact table, change, merge=) -> (manifest, what was done to each)
CuboidRefresh = Callable[..., tuple[Manifest, dict[str, str]]]


def append_facts(
    engine: CubeEngine,
    project: Project,
    store: CuboidStore,
    file: Path,
    refresh_cuboids: CuboidRefresh | None = None,
) -> RefreshReport:
    """Add the facts in ``file`` and merge them into the store (incremental aggregation).

    ``refresh_cuboids`` computes the cuboids' side (by default here, with DuckDB; the Spark build has its own).
    """
    started = time.monotonic()
    with store.lock():
        _recover(project)
        table, directory, files = fact_table_files(engine, project)
        current = _fresh_manifest(engine, project, store)
        version = store.new_version()
        try:
            incoming = directory / f"append-{version}.parquet"
            staged = stage_incoming(engine, table, file, incoming.with_suffix(".parquet.tmp"))
            backend = engine.backend
            added = backend.files_view(f"refresh_added_{_sql_name(version)}", [staged])
            after = backend.files_view(f"refresh_after_{_sql_name(version)}", [*files, staged])
            change = Change(added, added, after, _time_bounds(engine, table, added), (*files, staged))
            rows_added = _count(engine, added)
            compute = refresh_cuboids or _refresh_cuboids
            manifest, done = compute(engine, store, current, version, table, change, merge=True)
            manifest = _switch_and_publish(engine, project, store, manifest, table, directory, {staged: incoming}, [])
        except BaseException:
            _discard(engine, store, directory, version)
            raise
    return RefreshReport("append", manifest, time.monotonic() - started, rows_added, 0, done)


def replace_facts(
    engine: CubeEngine,
    project: Project,
    store: CuboidStore,
    start: str,
    end: str,
    file: Path,
    refresh_cuboids: CuboidRefresh | None = None,
) -> RefreshReport:
    """Replace the facts of the time range ``start``..``end`` (inclusive) by the rows of ``file``."""
    started = time.monotonic()
    with store.lock():
        _recover(project)
        table, directory, files = fact_table_files(engine, project)
        column = time_column(engine, table)
        low, high, high_inclusive = parse_range(start, end)
        current = _fresh_manifest(engine, project, store)
        version = store.new_version()
        try:
            backend = engine.backend
            incoming = directory / f"replace-{version}.parquet"
            staged = stage_incoming(engine, table, file, incoming.with_suffix(".parquet.tmp"), allow_empty=True)
            added = backend.files_view(f"refresh_added_{_sql_name(version)}", [staged])
            # An empty file deletes the range: it is read (for its columns) but not kept among the facts.
            kept_new = [staged] if count_file(engine, staged) else []
            in_range = range_sql(column, low, high, high_inclusive)
            outside = _count(engine, added, f"NOT ({in_range}) OR {quoted(column)} IS NULL")
            if outside:
                raise RefreshError(f"{outside} row(s) of {file} fall outside {start} .. {end}; nothing was changed")
            old = backend.files_view(f"refresh_before_{_sql_name(version)}", files)
            hit = backend.run_statement(
                f"SELECT filename, count(*) FROM read_parquet({file_list(files)}, filename = true) "
                f"WHERE {in_range} GROUP BY filename"
            )
            rewritten: dict[Path, Path] = {}
            rows_removed = 0
            for name, count in hit:
                path = Path(name)
                rows_removed += int(count)
                target = path.with_name(f"{path.name.split('.')[0]}.{version}.parquet.tmp")
                backend.run_statement(
                    f"COPY (SELECT * FROM read_parquet('{quote_path(path)}') WHERE NOT ({in_range})) "
                    f"TO '{quote_path(target)}' (FORMAT parquet, COMPRESSION zstd)"
                )
                rewritten[path] = target
            removed_view = f"refresh_removed_{_sql_name(version)}"
            backend.run_statement(
                f'CREATE OR REPLACE VIEW "{removed_view}" AS SELECT * FROM "{old.name}" WHERE {in_range}'
            )
            changed_view = f"refresh_changed_{_sql_name(version)}"
            backend.run_statement(
                f'CREATE OR REPLACE VIEW "{changed_view}" AS SELECT * FROM "{removed_view}" '
                f'UNION ALL BY NAME SELECT * FROM "{added.name}"'
            )
            changed = backend.table_of(changed_view)
            emptied = [path for path, target in rewritten.items() if not count_file(engine, target)]
            for path in emptied:
                rewritten.pop(path).unlink()
            after_files = [rewritten.get(path, path) for path in files if path not in emptied]
            after = backend.files_view(f"refresh_after_{_sql_name(version)}", [*after_files, *kept_new])
            bounds = _time_bounds(engine, table, changed)
            change = Change(changed, added, after, bounds, (*after_files, *kept_new))
            rows_added = _count(engine, added)
            compute = refresh_cuboids or _refresh_cuboids
            manifest, done = compute(engine, store, current, version, table, change, merge=False)
            moves = {staged: incoming} if kept_new else {}
            moves.update({target: target.with_suffix("") for target in rewritten.values()})
            removals = [*rewritten, *emptied, *([] if kept_new else [staged])]
            manifest = _switch_and_publish(engine, project, store, manifest, table, directory, moves, removals)
        except BaseException:
            _discard(engine, store, directory, version)
            raise
    return RefreshReport("replace", manifest, time.monotonic() - started, rows_added, rows_removed, done)


def _switch_and_publish(
    engine: CubeEngine,
    project: Project,
    store: CuboidStore,
    manifest: Manifest,
    table: str,
    directory: Path,
    moves: dict[Path, Path],
    removals: list[Path],
) -> Manifest:
    """Commit: the fact files and the store version built for them (stamped with their fingerprint), together."""
    after = project.table_files()
    after[table] = sorted({*(path for path in after[table] if path not in set(removals)), *moves.values()})
    stand_ins = {target: source for source, target in moves.items()}
    published = replace(manifest, facts_version=files_fingerprint(after, stand_ins))
    store.prepare(published)
    commit_switch(directory, moves, removals, store, published.version)
    _drop(engine, manifest.version)
    return published


def _recover(project: Project) -> None:
    """Under the lock: roll forward a switch a crash interrupted, and drop what killed refreshes staged."""
    directories = project.table_directories()
    finish_switches(directories)
    remove_staged_leftovers(directories)


def _discard(engine: CubeEngine, store: CuboidStore, directory: Path, version: str) -> None:
    """Undo a refresh that failed before its commit: its staged fact files, views and staging version.

    After the commit (the journal is on disk) nothing is undone: whoever comes next rolls the journal forward.
    """
    _drop(engine, version)
    if (directory / JOURNAL).exists():
        return
    for path in directory.glob(f"*{version}*.tmp"):
        path.unlink(missing_ok=True)
    shutil.rmtree(store.staging_dir(version), ignore_errors=True)


def _fresh_manifest(engine: CubeEngine, project: Project, store: CuboidStore) -> Manifest:
    current = store.current()
    if current is None:
        raise StoreNotCurrentError("the project has no cuboid store yet; run cube-server build first")
    if current.model_hash != engine.model_hash or current.facts_version != files_fingerprint(project.table_files()):
        raise StoreNotCurrentError(
            "the cuboid store is not current with the model and facts; run cube-server build first"
        )
    return current


def _time_bounds(engine: CubeEngine, table: str, rows: sa.TableClause) -> dict[str, tuple[Any, Any]]:
    try:
        column = time_column(engine, table)
    except RefreshError:
        return {}
    low, high = engine.backend.run_statement(f'SELECT min({quoted(column)}), max({quoted(column)}) FROM "{rows.name}"')[
        0
    ]
    return {} if low is None else {column: (low, high)}


def _refresh_cuboids(
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
    cuboids: list[BuiltCuboid] = []
    done: dict[str, str] = {}
    prefix = f"refresh_scan_{_sql_name(version)}"
    try:
        recomputed = _recompute_scans(engine, current, table, change, merge, prefix)
        for built in current.cuboids:
            cube = engine.catalog.cube(built.cube)
            if cube.fact != table:
                link_tree(old_dir / built.path, staging / built.path)
                cuboids.append(built)
                done[f"{cube.name}.{built.name}"] = "unchanged"
                continue
            fresh = recomputed.get((cube.name, built.name))
            refreshed, what = _refresh_one(engine, cube, built, old_dir, staging, version, change, fresh)
            cuboids.append(refreshed)
            done[f"{cube.name}.{built.name}"] = what
    finally:
        drop_scan_tables(engine.backend, prefix)
    manifest = Manifest(version, now_text(), current.model_hash, current.facts_version, tuple(cuboids))
    return manifest, done


def _recompute_scans(
    engine: CubeEngine, current: Manifest, table: str, change: Change, merge: bool, prefix: str
) -> dict[tuple[str, str], sa.Select[Any]]:
    """The rows of every cuboid that cannot merge, recomputed from the facts of the periods the change touches.

    Cuboids whose time level reads the same periods share one GROUPING SETS pass over those facts only (a day
    changed: the day's cuboids aggregate one day, the month's one month); those without a time level share one
    pass over all the facts. Mixing them in one pass would aggregate every fact for every grain.
    """
    result: dict[tuple[str, str], sa.Select[Any]] = {}
    for cube in engine.catalog.cubes:
        if cube.fact != table:
            continue
        star = _star_over(engine, cube, change.after)
        specs = [built.spec for built in current.cuboids_of(cube.name) if not (merge and mergeable(cube, built))]
        passes: dict[str, tuple[sa.ColumnElement[bool] | None, list[Any]]] = {}
        for spec in specs:
            where = period_filter(cube, spec, star, change.time_bounds)
            key = "" if where is None else compile_literal(where)
            passes.setdefault(key, (where, []))[1].append(spec)
        for index, (where, group) in enumerate(passes.values()):
            scan = f"{prefix}_{_sql_name(cube.name)}_{index}"
            scanned = grouping_sets_scan(engine.backend, star, engine.measure_types(cube.name), group, scan, where)
            result.update({(cube.name, name): select for name, select in scanned.items()})
    return result


def mergeable(cube: Cube, built: BuiltCuboid) -> bool:
    return all(m.function is not AggFunc.COUNT_DISTINCT for m in stored_measures(cube, built.spec))


def _refresh_one(
    engine: CubeEngine,
    cube: Cube,
    built: BuiltCuboid,
    old_dir: Path,
    staging: Path,
    version: str,
    change: Change,
    recomputed: sa.Select[Any] | None,
) -> tuple[BuiltCuboid, str]:
    """Merge the change's partials into one cuboid, or take its touched cells from ``recomputed`` rows."""
    backend = engine.backend
    spec = built.spec
    measures = stored_measures(cube, spec)
    attributes = stored_attributes(cube, spec)
    keys = [column_name(ref) for ref in key_refs(cube, spec)]
    key_column = partition_column(cube, built.partition_level)
    types = engine.measure_types(cube.name)
    name = _sql_name(f"{version}_{cube.name}_{built.name}")
    old_files = cuboid_glob(old_dir / built.path, key_column is not None)
    old = f"read_parquet('{quote_path(Path(old_files))}', hive_partitioning = false, filename = true)"
    # The cells the change touches, and the partitions they live in.
    changed_star = _star_over(engine, cube, change.changed)
    changed_keys = sa.select(*(changed_star.attribute(ref).label(column_name(ref)) for ref in key_refs(cube, spec)))
    changed_keys = changed_keys.select_from(changed_star.from_clause_for(set(key_refs(cube, spec)))).distinct()
    backend.run_statement(f'CREATE OR REPLACE TABLE "touched_{name}" AS {compile_literal(changed_keys)}')
    touched_partitions = _touched_partitions(backend, name, key_column)
    on = " AND ".join(f'o."{key}" IS NOT DISTINCT FROM t."{key}"' for key in keys) or "true"
    in_partitions = (
        f'CAST(o."{key_column}" AS VARCHAR) IN ({", ".join(_string(p) for p in touched_partitions)})'
        if key_column and touched_partitions
        else ("false" if key_column else "true")
    )
    old_columns = ", ".join(f'o."{column}"' for column in _columns_of(backend, old))
    if recomputed is None:
        delta = aggregate_facts(_star_over(engine, cube, change.added), types, attributes, measures)
        backend.run_statement(
            f'CREATE OR REPLACE VIEW "merge_{name}" AS SELECT {old_columns} FROM {old} o WHERE {in_partitions} '
            f"UNION ALL BY NAME {compile_literal(delta)}"
        )
        select = compile_literal(merge_partials(backend.table_of(f"merge_{name}"), attributes, measures))
        what = "merged the new facts' partials"
    else:
        select = (
            f'SELECT {old_columns} FROM {old} o ANTI JOIN "touched_{name}" t ON {on} WHERE {in_partitions} '
            f'UNION ALL BY NAME SELECT o.* FROM ({compile_literal(recomputed)}) o SEMI JOIN "touched_{name}" t ON {on}'
        )
        cells = backend.run_statement(f'SELECT count(*) FROM "touched_{name}"')[0][0]
        what = f"recomputed {cells} touched cell(s) from the facts"
    target = staging / built.path
    write_select(backend, select, target, key_column)
    if key_column:
        link_untouched(old_dir / built.path, target, key_column, touched_partitions)
    elif not (target / "data.parquet").exists():
        link_tree(old_dir / built.path, target)
    backend.run_statement(f'DROP TABLE IF EXISTS "touched_{name}"')
    backend.run_statement(f'DROP VIEW IF EXISTS "merge_{name}"')
    rows, partitions, size = describe_written(backend, target, key_column)
    refreshed = replace(built, rows=rows, bytes=size, partitions=partitions, built_at=now_text(), built_from="refresh")
    return refreshed, what


def _touched_partitions(backend: Any, name: str, key_column: str | None) -> list[str]:
    if key_column is None:
        return []
    rows = backend.run_statement(f'SELECT DISTINCT CAST("{key_column}" AS VARCHAR) FROM "touched_{name}"')
    return sorted(str(value) for (value,) in rows)


def period_filter(
    cube: Cube, spec: Any, star: Star, bounds: dict[str, tuple[Any, Any]]
) -> sa.ColumnElement[bool] | None:
    """Facts of the periods the changed rows fall in, at the cuboid's time level (lets DuckDB skip row groups).

    Only a prefilter: the touched cells are matched exactly afterwards. Without a time level, or with one
    that is not a calendar period (an ISO year), every fact is read.
    """
    for dimension, _, level_name in spec.grain:
        if cube.dimension(dimension).role != "time":
            continue
        ref: ColumnRef = cube.physical(cube.dimension(dimension).level(level_name).key_attribute.ref)
        period = _PERIODS.get(ref.extract or "")
        if ref.table != cube.fact or ref.column not in bounds or period is None:
            return None
        unit, length = period
        low, high = bounds[ref.column]
        column = star.sources[cube.fact].c[ref.column]
        start = sa.literal_column(f"date_trunc('{unit}', TIMESTAMP '{low}')")
        stop = sa.literal_column(f"date_trunc('{unit}', TIMESTAMP '{high}') + INTERVAL '{length}'")
        return sa.and_(column >= start, column < stop)
    return None


def _star_over(engine: CubeEngine, cube: Cube, facts: sa.TableClause) -> Star:
    return engine.star(cube.name).over_facts(facts)


def link_untouched(old: Path, target: Path, key_column: str, touched: list[str]) -> None:
    """Hard-link the partitions the refresh did not touch (their files are immutable)."""
    if not old.is_dir():
        return
    for partition in old.iterdir():
        value = partition.name.split("=", 1)[1] if "=" in partition.name else None
        if partition.is_dir() and value not in touched:
            link_tree(partition, target / partition.name)


def link_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)


def _columns_of(backend: Any, relation: str) -> list[str]:
    return [row[0] for row in backend.run_statement(f"DESCRIBE SELECT * FROM {relation}") if row[0] != "filename"]


def _count(engine: CubeEngine, relation: sa.TableClause, where: str = "true") -> int:
    return int(engine.backend.run_statement(f'SELECT count(*) FROM "{relation.name}" WHERE {where}')[0][0])


def _drop(engine: CubeEngine, version: str) -> None:
    for kind in ("added", "after", "before", "removed", "changed"):
        engine.backend.drop_relation(f"refresh_{kind}_{_sql_name(version)}")


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
