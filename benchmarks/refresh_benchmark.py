"""Benchmark: one day of facts appended, and one day replaced, with ``cube-server refresh``, timed per cuboid.

    python benchmarks/refresh_benchmark.py PROJECT --data DIR --day-source DIR
                                           [--append-day 2025-06-15] [--replace-day 2025-06-16]

``cuboid_benchmark.py --refresh`` calls :func:`refresh_suite` on the temporary project it has just built and
served (its data a hard-linked copy of ``--data``); this script runs the same step alone on a project whose
store is current. Either way it CHANGES THE PROJECT'S FACTS (a file is added, the files of one day are
rewritten): run it on a disposable copy, e.g. ``cp -al /tmp/gen100m /tmp/gen100m-refresh``, never on the
original (a hard-linked copy is safe: a refresh writes new files and renames them over the old names, it
never writes into an existing file).

1. **append**: a Parquet file of one day of *new* charges with the fact table's exact columns: the rows of
   ``--append-day`` in ``--day-source`` (a dataset generated with another seed, e.g.
   ``cube-server generate --rows 100000000 --seed 7 --out /tmp/day-source``), ``charge_id`` shifted by 10^10
   so keys are fresh, and ``branch_code`` set to the account's home branch in the project's own customer
   table (the model declares the organisation determined by the customer; another seed draws other home
   branches). Then ``cube-server refresh PROJECT --append FILE``.
2. **replace**: the project's own facts of ``--replace-day`` with ``revenue`` × 1.01 (rounded to the column's
   type), then ``cube-server refresh PROJECT --replace DAY DAY FILE``.

Each refresh is the real command line (``api.cli.main``, the entry point of the ``cube-server`` script) in a
child process, with timers wrapped around ``cube_server.refresh``'s steps and every DuckDB statement from
this side (no file of the project is changed): wall time and peak RSS of the process, the time of every
cuboid and what was done to it (merged, or N touched cells recomputed), and where the time went.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

KEY_SHIFT = 10**10

# Runs ``cube-server`` (api.cli.main) with timers around the refresh steps and every DuckDB statement; the
# timings go to the JSON file named by $REFRESH_TIMINGS. Only wraps functions, from this side.
BOOTSTRAP = r"""
import json, os, sys, time
import cube_server.refresh as R
from aggregates.store import CuboidStore
from cube_server.backend import DuckDBBackend

timings = {"phases": {}, "cuboids": [], "statements": []}
current = [None]

def phase(name, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timings["phases"][name] = timings["phases"].get(name, 0.0) + time.perf_counter() - started
    return wrapper

original_one = R._refresh_one
def refresh_one(engine, cube, built, *args, **kwargs):
    current[0] = built.name
    started = time.perf_counter()
    try:
        refreshed, what = original_one(engine, cube, built, *args, **kwargs)
    finally:
        current[0] = None
    timings["cuboids"].append({
        "name": built.name, "seconds": time.perf_counter() - started, "what": what, "rows": refreshed.rows,
        "grain": [list(g) for g in built.grain], "partition_level": built.partition_level,
        "partitions_before": len(built.partitions),
    })
    return refreshed, what
R._refresh_one = refresh_one

if hasattr(R, "grouping_sets_scan"):  # shared recompute passes (one per group of cuboids reading the same periods)
    from cube_server.backend import compile_literal
    original_scan = R.grouping_sets_scan
    def grouping_sets_scan(backend, star, types, specs, prefix, where=None, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_scan(backend, star, types, specs, prefix, where, *args, **kwargs)
        finally:
            timings.setdefault("scans", []).append({
                "seconds": time.perf_counter() - started, "cuboids": [spec.name for spec in specs],
                "where": None if where is None else " ".join(compile_literal(where).split()),
            })
    R.grouping_sets_scan = grouping_sets_scan

original_statement = DuckDBBackend.run_statement
def run_statement(self, sql):
    started = time.perf_counter()
    try:
        return original_statement(self, sql)
    finally:
        timings["statements"].append([current[0], time.perf_counter() - started, " ".join(str(sql).split())[:200]])
DuckDBBackend.run_statement = run_statement

for name in ("_recover", "_fresh_manifest", "_stage_incoming", "_time_bounds", "_refresh_cuboids",
             "_recompute_scans", "_switch_and_publish", "_count", "_count_file", "_link_untouched", "_link_tree"):
    if hasattr(R, name):
        setattr(R, name, phase(name, getattr(R, name)))
CuboidStore.publish = phase("publish", CuboidStore.publish)

import api.cli
started = time.perf_counter()
try:
    code = api.cli.main(sys.argv[1:])
finally:
    timings["main_s"] = time.perf_counter() - started
    with open(os.environ["REFRESH_TIMINGS"], "w", encoding="utf-8") as handle:
        json.dump(timings, handle)
sys.exit(code)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sql_literal(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class RefreshRun:
    mode: str
    command: str
    file_rows: int
    wall_s: float
    internal_s: float | None  # as the command reports it ("in X s")
    maxrss_kb: int
    rows_added: int | None
    rows_removed: int | None
    cuboids: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    statements: list[list[Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)  # shared recompute passes over the facts
    new_bytes: int = 0  # bytes of the new store version not hard-linked from the previous one
    output: str = ""


@dataclass
class RefreshReport:
    append: RefreshRun
    replace: RefreshRun
    append_day: str
    replace_day: str
    notes: list[str] = field(default_factory=list)


# ---- the input files ----------------------------------------------------------------------------
def fact_columns(connection: duckdb.DuckDBPyConnection, facts_glob: str) -> list[tuple[str, str]]:
    rows = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(facts_glob)})").fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def day_range(column: str, day: str) -> str:
    return f"{column} >= TIMESTAMP {sql_literal(day)} AND {column} < TIMESTAMP {sql_literal(day)} + INTERVAL 1 DAY"


def make_append_file(
    connection: duckdb.DuckDBPyConnection, day_source: Path, data: Path, day: str, out: Path
) -> tuple[int, dict[str, int]]:
    """One day of new charges from ``day_source`` with the columns of ``data``'s facts; (rows, checks)."""
    columns = fact_columns(connection, str(data / "facts" / "*.parquet"))
    source_columns = fact_columns(connection, str(day_source / "facts" / "*.parquet"))
    if sorted(columns) != sorted(source_columns):
        raise RuntimeError(f"{day_source} facts have columns {source_columns}, the project's facts {columns}")
    customers = sql_literal(data / "customer.parquet")
    source = f"read_parquet({sql_literal(day_source / 'facts' / '*.parquet')})"
    facts = f"read_parquet({sql_literal(data / 'facts' / '*.parquet')})"
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE day_rows AS SELECT * FROM {source} WHERE {day_range('charged_at', day)}"
    )
    # The account's home branch: from the customer table, or (accounts closed and purged from it, whose
    # charges still arrive) from the branch their existing charges carry.
    connection.execute(
        f"""CREATE OR REPLACE TEMP TABLE day_homes AS
        SELECT customer_code, home_branch_code AS home FROM read_parquet({customers})
        WHERE customer_code IN (SELECT customer_code FROM day_rows)
        UNION ALL
        SELECT customer_code, any_value(branch_code) FROM {facts}
        WHERE customer_code IN (SELECT customer_code FROM day_rows)
          AND customer_code NOT IN (SELECT customer_code FROM read_parquet({customers}))
        GROUP BY customer_code"""
    )
    select = []
    for name, _ in columns:
        if name == "charge_id":
            select.append(f"d.charge_id + {KEY_SHIFT} AS charge_id")
        elif name == "branch_code":
            select.append("coalesce(h.home, d.branch_code) AS branch_code")
        else:
            select.append(f'd."{name}"')
    connection.execute(
        f"COPY (SELECT {', '.join(select)} FROM day_rows d LEFT JOIN day_homes h USING (customer_code) "
        f"ORDER BY d.charged_at) TO {sql_literal(out)} (FORMAT parquet, COMPRESSION zstd)"
    )
    written = f"read_parquet({sql_literal(out)})"
    checks = {
        "rows": connection.execute(f"SELECT count(*) FROM {written}").fetchone()[0],  # type: ignore[index]
        "branch changed to the home branch": connection.execute(
            "SELECT count(*) FROM day_rows d JOIN day_homes h USING (customer_code) WHERE h.home <> d.branch_code"
        ).fetchone()[0],  # type: ignore[index]
        "keys already in the facts": connection.execute(
            f"SELECT count(*) FROM {written} WHERE charge_id IN (SELECT charge_id FROM {facts})"
        ).fetchone()[0],  # type: ignore[index]
        "customers not in the customer table": connection.execute(
            f"SELECT count(*) FROM {written} WHERE customer_code NOT IN "
            f"(SELECT customer_code FROM read_parquet({customers}))"
        ).fetchone()[0],  # type: ignore[index]
    }
    connection.execute("DROP TABLE day_rows")
    connection.execute("DROP TABLE day_homes")
    return int(checks["rows"]), {k: int(v) for k, v in checks.items()}


def make_replace_file(connection: duckdb.DuckDBPyConnection, data: Path, day: str, out: Path) -> tuple[int, str]:
    """The facts of ``day`` with revenue × 1.01, rounded to the column's type; (rows, revenue type)."""
    columns = fact_columns(connection, str(data / "facts" / "*.parquet"))
    types = dict(columns)
    select = [
        f'CAST(round("revenue" * 1.01, 2) AS {types["revenue"]}) AS "revenue"' if name == "revenue" else f'"{name}"'
        for name, _ in columns
    ]
    facts = f"read_parquet({sql_literal(data / 'facts' / '*.parquet')})"
    connection.execute(
        f"COPY (SELECT {', '.join(select)} FROM {facts} WHERE {day_range('charged_at', day)} ORDER BY charged_at) "
        f"TO {sql_literal(out)} (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = connection.execute(f"SELECT count(*) FROM read_parquet({sql_literal(out)})").fetchone()[0]  # type: ignore[index]
    return int(rows), types["revenue"]


# ---- running a refresh --------------------------------------------------------------------------
def current_version_dir(store: Path) -> Path:
    version = json.loads((store / "CURRENT").read_text(encoding="utf-8"))["version"]
    return store / "versions" / version


def inodes(path: Path) -> dict[int, int]:
    found = {}
    for file in path.rglob("*"):
        if file.is_file():
            stat = file.stat()
            found[stat.st_ino] = stat.st_size
    return found


def run_refresh(project: Path, store: Path, tail: list[str], mode: str, file_rows: int, workdir: Path) -> RefreshRun:
    """``cube-server refresh PROJECT <tail>`` (instrumented, in a child process): wall time, peak RSS, timings."""
    before = inodes(current_version_dir(store))
    timings_path = workdir / f"refresh-{mode}-timings.json"
    env = {**os.environ, "REFRESH_TIMINGS": str(timings_path)}
    command = [sys.executable, "-c", BOOTSTRAP, "refresh", str(project), *tail]
    shown = f"cube-server refresh {project} {' '.join(tail)}"
    log(f"[refresh] {shown} ...")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=workdir, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        log(stdout + stderr)
        raise RuntimeError(f"{shown} failed with exit code {process.returncode}")
    log(stdout.rstrip())
    timings = json.loads(timings_path.read_text(encoding="utf-8"))
    match = re.search(r"([0-9,]+) fact row\(s\) added, ([0-9,]+) removed, in ([0-9.]+) s", stdout)
    after = inodes(current_version_dir(store))
    new_bytes = sum(size for inode, size in after.items() if inode not in before)
    return RefreshRun(
        mode=mode,
        command=shown,
        file_rows=file_rows,
        wall_s=wall,
        internal_s=float(match.group(3)) if match else None,
        maxrss_kb=int(usage.ru_maxrss),
        rows_added=int(match.group(1).replace(",", "")) if match else None,
        rows_removed=int(match.group(2).replace(",", "")) if match else None,
        cuboids=timings["cuboids"],
        phases=timings["phases"],
        statements=timings["statements"],
        scans=timings.get("scans", []),
        new_bytes=new_bytes,
        output=stdout,
    )


def refresh_suite(
    project: Path, store: Path, data: Path, day_source: Path, workdir: Path, append_day: str, replace_day: str
) -> RefreshReport:
    """Append one day, then replace another, on ``project`` (whose facts under ``data`` it changes)."""
    connection = duckdb.connect()
    append_file = workdir / f"append-{append_day}.parquet"
    rows, checks = make_append_file(connection, day_source, data, append_day, append_file)
    notes = [
        f"append file: {rows:,} charges of {append_day} from {day_source} (charge_id + 10^10); "
        + ", ".join(f"{name}: {value:,}" for name, value in checks.items() if name != "rows")
    ]
    log(f"[refresh] {notes[-1]}")
    append = run_refresh(project, store, ["--append", str(append_file)], "append", rows, workdir)
    replace_file = workdir / f"replace-{replace_day}.parquet"
    rows, revenue_type = make_replace_file(connection, data, replace_day, replace_file)
    notes.append(f"replace file: the {rows:,} existing charges of {replace_day}, revenue × 1.01 as {revenue_type}")
    log(f"[refresh] {notes[-1]}")
    replaced = run_refresh(
        project, store, ["--replace", replace_day, replace_day, str(replace_file)], "replace", rows, workdir
    )
    connection.close()
    return RefreshReport(append, replaced, append_day, replace_day, notes)


# ---- report -------------------------------------------------------------------------------------
def _time_level(grain: list[list[str]]) -> str:
    for dimension, hierarchy, level in grain:
        if dimension == "time":
            return level if hierarchy == "default" else f"{hierarchy}:{level}"
    return "-"


def statement_kind(sql: str) -> str:
    """A short name for what a refresh statement does (for the time breakdown)."""
    if sql.startswith('CREATE OR REPLACE TABLE "refresh_scan_'):
        return "recompute passes over the facts (GROUPING SETS)"
    if sql.startswith('CREATE OR REPLACE TABLE "touched_'):
        return "find touched cells (scan of the changed rows)"
    if sql.startswith("COPY (SELECT * FROM read_parquet("):
        return "rewrite fact files without the range"
    if sql.startswith("COPY (SELECT") and " ANTI JOIN " in sql:
        return "write cuboids (old cells + touched cells recomputed)"
    if sql.startswith("COPY (SELECT") and "merge_" in sql:
        return "merge partials + write"
    if sql.startswith("COPY ("):
        return "stage the input file"
    if sql.startswith("SELECT count(*)") or sql.startswith("SELECT CAST(") or sql.startswith("SELECT DISTINCT"):
        return "count / describe"
    if "filename" in sql and "GROUP BY filename" in sql:
        return "find fact files holding the range"
    return "other"


def print_refresh(report: RefreshReport, build_s: float | None, build_internal_s: float | None) -> None:
    print("\n#### Incremental refresh (one day)\n")
    for note in report.notes:
        print(f"- {note}")
    print()
    print("| refresh | rows in | wall s | inside s | peak RSS | new store bytes | % of full build (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in (report.append, report.replace):
        share = f"{run.wall_s / build_s:.1%}" if build_s else "-"
        inside = f"{run.internal_s:.1f}" if run.internal_s is not None else "-"
        print(f"| `{run.command}` | {run.file_rows:,} | {run.wall_s:.1f} | {inside} | "
              f"{run.maxrss_kb / 1024:,.0f} MB | {run.new_bytes / 1e6:,.1f} MB | {share} |")  # fmt: skip
    if build_internal_s:
        print("\n(inside = the time the command reports; against the build's own "
              f"{build_internal_s:.1f} s: append {_ratio(report.append.internal_s, build_internal_s)}, "
              f"replace {_ratio(report.replace.internal_s, build_internal_s)})")  # fmt: skip
    for run in (report.append, report.replace):
        print(f"\n##### {run.mode}: where the time went ({run.wall_s:.1f} s wall)\n")
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(run.phases.items(),
                                                                               key=lambda item: -item[1]))  # fmt: skip
        print(f"Steps (nested; `_refresh_cuboids` holds the per-cuboid work): {phases}.\n")
        kinds: dict[str, float] = {}
        for _, seconds, sql in run.statements:
            kinds[statement_kind(sql)] = kinds.get(statement_kind(sql), 0.0) + seconds
        by_time = sorted(kinds.items(), key=lambda item: -item[1])
        print("DuckDB statements by kind: " + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in by_time) + ".\n")
        if run.scans:
            print("Shared recompute passes over the facts (each a GROUPING SETS over the cuboids reading the same "
                  "periods):\n")  # fmt: skip
            print("| facts read | cuboids | seconds |\n|---|---:|---:|")
            for scan in sorted(run.scans, key=lambda scan: -scan["seconds"]):
                where = re.sub(r'"refresh_after_[^"]*"\.', "", scan["where"] or "all the facts (no period filter)")
                print(f"| {where} | {len(scan['cuboids'])} | {scan['seconds']:.1f} |")
            print("\nThen per cuboid (finding its touched cells, copying old and recomputed cells out, writing):\n")
        groups: dict[str, list[float]] = {}
        for cuboid in run.cuboids:
            what = re.sub(r"recomputed \d+ touched", "recomputed N touched", cuboid["what"])
            scope = "all facts" if _reads_all(cuboid) and "recomputed" in what else "period"
            key = f"{what} — time level {_time_level_class(cuboid)} ({scope})" if "recomputed" in what else what
            groups.setdefault(key, []).append(cuboid["seconds"])
        print("| what | cuboids | seconds in all | median s |\n|---|---:|---:|---:|")
        for key, values in sorted(groups.items(), key=lambda item: -sum(item[1])):
            print(f"| {key} | {len(values)} | {sum(values):,.1f} | {sorted(values)[len(values) // 2]:.1f} |")
        print("\n| cuboid | time level | rows | what | seconds |\n|---|---|---:|---|---:|")
        for cuboid in sorted(run.cuboids, key=lambda c: -c["seconds"]):
            print(f"| {cuboid['name']} | {_time_level(cuboid['grain'])} | {cuboid['rows']:,} | {cuboid['what']} | "
                  f"{cuboid['seconds']:.1f} |")  # fmt: skip


def _reads_all(cuboid: dict[str, Any]) -> bool:
    """Whether a recompute reads every fact: no time level, or one that is not a calendar period (ISO year)."""
    level = _time_level(cuboid["grain"])
    return level == "-" or level == "weekly:isoyear"


def _time_level_class(cuboid: dict[str, Any]) -> str:
    level = _time_level(cuboid["grain"])
    return "none" if level == "-" else level


def _ratio(part: float | None, whole: float) -> str:
    return "-" if part is None else f"{part / whole:.1%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path, help="a project whose store is current (build it first)")
    parser.add_argument("--data", type=Path, required=True, help="the project's data root (a disposable copy)")
    parser.add_argument("--store", type=Path, default=None, help="the project's store (default PROJECT/store)")
    parser.add_argument("--day-source", type=Path, required=True, help="a dataset generated with another seed")
    parser.add_argument("--append-day", default="2025-06-15")
    parser.add_argument("--replace-day", default="2025-06-16")
    parser.add_argument("--build-seconds", type=float, default=None, help="a full build's wall time, to compare")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cube-bench-refresh-"))
    store = args.store or args.project / "store"
    report = refresh_suite(args.project, store, args.data, args.day_source, workdir, args.append_day,
                           args.replace_day)  # fmt: skip
    print_refresh(report, args.build_seconds, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
