"""The ``cube-server`` command line.

Commands: demo, serve, build, plan, refresh, generate, validate, query, explain, report, keys, schema.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aggregates.lattice import CuboidSpec
from aggregates.store import CuboidStore
from api.config import ENV_PREFIX, settings_from_env
from api.json_logging import configure_logging
from api.key_commands import add_keys_command
from api.operations import cuts_of, drilldown_of, names_of, order_of
from api.report_files import FORMATS as REPORT_FORMATS
from api.report_files import write_report
from api.text_table import text_table
from cube_models import ModelError, load_model, validate_model
from cube_models.errors import CubeError
from cube_models.json_schema import model_json_schema
from cube_server.access import AccessControl
from cube_server.audit import AuditLog, command_line_operation
from cube_server.build import BuildReport, Progress, build_store
from cube_server.engine import CubeEngine
from cube_server.fact_files import finish_interrupted_switch
from cube_server.planning import StorePlan, plan_store
from cube_server.project import CONFIG_NAME, Project, ensure_data, load_project, open_engine
from cube_server.query import Query
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.refresh import CuboidRefresh, append_facts, replace_facts
from cube_server.reports import find_report, load_reports, parse_period, run_report
from cube_server.settings import Settings

DEFAULT_PROJECT = Path("examples/telecom")
# (engine, store, progress, cuboids per cube) -> report: build_store, or the Spark build bound to its session
StoreBuilder = Callable[[CubeEngine, CuboidStore, Progress | None, dict[str, list[CuboidSpec]]], BuildReport]
DEMO_SQL_PORT = 15_432
SQL_DATABASE = "cubes"  # the database name the SQL listener reports (clients may name any)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (CubeError, ValueError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        if isinstance(error, ModelError):
            for issue in error.issues:
                print(f"  {issue}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cube-server", description="OLAP cube server")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate the telecom demo data if absent and serve it")
    demo.add_argument("--project", type=Path, default=None, help="default: examples/telecom of this checkout")
    _serve_options(demo)
    demo.set_defaults(handler=_demo)

    serve = commands.add_parser("serve", help="serve a project directory (generating its data first if absent)")
    serve.add_argument("project", type=Path)
    _data_root_option(serve)
    _serve_options(serve)
    serve.set_defaults(handler=_serve)

    build = commands.add_parser(
        "build", help="build the cuboid store of a project (a new version, switched atomically)"
    )
    build.add_argument("project", type=Path)
    _data_root_option(build)
    _budget_option(build)
    _build_engine_options(build)
    build.set_defaults(handler=_build)

    plan = commands.add_parser(
        "plan", help="show the cuboids a build would make (declared and selected), their estimated rows and benefit"
    )
    plan.add_argument("project", type=Path)
    _data_root_option(plan)
    _budget_option(plan)
    plan.set_defaults(handler=_plan)

    refresh = commands.add_parser(
        "refresh",
        help="refresh the cuboid store: a full rebuild, or add (--append) or replace (--replace) facts",
    )
    refresh.add_argument("project", type=Path)
    _data_root_option(refresh)
    mode = refresh.add_mutually_exclusive_group()
    mode.add_argument("--append", type=Path, metavar="FILE", help="add the facts of a Parquet file")
    mode.add_argument(
        "--replace",
        nargs=3,
        metavar=("FROM", "TO", "FILE"),
        help="replace the facts of a time range (inclusive; ISO dates or timestamps) by a Parquet file's rows",
    )
    _build_engine_options(refresh)
    refresh.set_defaults(handler=_refresh)

    load = commands.add_parser(
        "load-postgres", help="copy a project's tables from its files into PostgreSQL (replacing them there)"
    )
    load.add_argument("project", type=Path)
    load.add_argument("--url", help="postgresql+psycopg://user@host:port/db (default: CUBE_ENGINE_URL, [engine] url)")
    _data_root_option(load)
    load.set_defaults(handler=_load_postgres)

    generate = commands.add_parser("generate", help="generate telecom demo data as Parquet")
    generate.add_argument("--rows", type=int, default=1_000_000)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=Path, required=True)
    generate.set_defaults(handler=_generate)

    validate = commands.add_parser("validate", help="validate a model file, bundle or project directory")
    validate.add_argument("path", type=Path)
    validate.set_defaults(handler=_validate)

    for name, handler in (("query", _query), ("explain", _explain)):
        command = commands.add_parser(name, help=f"{name} an aggregate from the command line")
        command.add_argument("project", type=Path)
        command.add_argument("cube")
        _data_root_option(command)
        command.add_argument("--cut", action="append", default=[])
        command.add_argument("--drilldown", action="append", default=[])
        command.add_argument("--measures", action="append", default=[])
        command.add_argument("--order", action="append", default=[])
        command.add_argument("--limit", type=int, default=None)
        command.add_argument("--offset", type=int, default=0)
        command.set_defaults(handler=handler)

    report = commands.add_parser("report", help="run a project's named report for a month or a year into a file")
    report.add_argument("project", type=Path)
    report.add_argument("name", nargs="?", help="the report (omit it to list the project's reports)")
    report.add_argument("period", nargs="?", help="2025-06 (a month) or 2025 (a year), as the report asks")
    _data_root_option(report)
    report.add_argument("--format", choices=sorted(REPORT_FORMATS), default="xlsx")
    report.add_argument("--query", default=None, help="only this query of the report")
    report.add_argument("--out", type=Path, default=None, help="a file, or a directory (default: the current one)")
    report.set_defaults(handler=_report)

    add_keys_command(commands)

    schema = commands.add_parser("schema", help="print the JSON Schema of model files")
    schema.set_defaults(handler=lambda args: print(json.dumps(model_json_schema(), indent=2)) or 0)
    return parser


def _data_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="where the table paths of cube-server.toml start (overrides [data] root)",
    )


def _budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="automatic cuboids' rows as a fraction of the fact rows (overrides [store] budget; 0 = declared only)",
    )


def _build_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("project", "spark"),
        default="project",
        help="what computes the cuboids: the project's engine (DuckDB, or PostgreSQL with [engine] url), or Spark",
    )
    parser.add_argument(
        "--spark-master",
        default="local[*]",
        metavar="URL",
        help="with --engine spark: spark://host:7077, local[N], local-cluster[W,C,MB], or sc://host:15002 "
        "(Spark Connect); default local[*]",
    )
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --engine spark: a Spark option (repeatable), such as spark.executor.memory=4g",
    )


@contextmanager
def _store_builder(args: argparse.Namespace, project: Project) -> Iterator[StoreBuilder]:
    """How the cuboids are computed: by the project's engine, or by a Spark session kept for the command."""
    if args.engine != "spark":
        yield build_store
        return
    # pyspark is the optional extra "spark": imported by these modules only when a session starts
    from cube_server.spark_build.build import build_store_with_spark
    from cube_server.spark_build.session import parse_conf, spark_session

    print(f"starting Spark on {args.spark_master} ...", file=sys.stderr, flush=True)
    with spark_session(args.spark_master, parse_conf(args.spark_conf)) as spark:
        yield lambda engine, store, progress, specs: build_store_with_spark(
            engine, project, store, spark, progress, specs
        )


@contextmanager
def _cuboid_refresher(args: argparse.Namespace, project: Project) -> Iterator[CuboidRefresh | None]:
    """Who computes a refresh's cuboids: the project's engine (None), or Spark."""
    if args.engine != "spark":
        yield None
        return
    from cube_server.spark_build.refresh import SparkCuboidRefresh
    from cube_server.spark_build.session import parse_conf, spark_session

    print(f"starting Spark on {args.spark_master} ...", file=sys.stderr, flush=True)
    with spark_session(args.spark_master, parse_conf(args.spark_conf)) as spark:
        yield SparkCuboidRefresh(spark, project)


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")


def _progress(done: int, total: int) -> None:
    print(f"  generated {done:,} of {total:,} rows", file=sys.stderr, flush=True)


def _prepare(root: Path, data_root: Path | None = None, *, needs_files: bool | None = None) -> Project:
    """The project, its data generated when absent, unless its tables are read from a database server."""
    project = load_project(root, data_root)
    if finish_interrupted_switch(project):
        print("completed a fact-file switch an interrupted refresh left behind", file=sys.stderr, flush=True)
    if needs_files is None:
        needs_files = not (project.engine_url or settings_from_env().engine_url)
    if not needs_files:
        return project
    if project.missing_tables():
        print(f"generating data for {root} ...", file=sys.stderr, flush=True)
    ensure_data(project, _progress)
    return project


def _run_server(project: Project, host: str, port: int, log_level: str, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    access = AccessControl.from_settings(settings, project.root)
    access.check_roles(load_model(project.model_path))
    app = create_app(loader=lambda: open_engine(project, settings), project=project, access=access, settings=settings)
    print(f"serving {project.root} on http://{host}:{port} (API docs at /docs)", file=sys.stderr, flush=True)
    if settings.sql_port:
        _start_sql(app, access, settings, project.root)
    if settings.anonymous:
        print(f"anonymous access is on (roles: {settings.anonymous_roles})", file=sys.stderr, flush=True)
    configure_logging(log_level)  # JSON lines; the request log replaces uvicorn's access log
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, log_config=None)
    return 0


def _start_sql(app: Any, access: AccessControl, settings: Settings, project_root: Path) -> None:
    """Listen for SQL beside the HTTP API. A port set by CUBE_SQL_PORT must be free; the demo's default port, when
    taken (another demo running), is only warned about, as the HTTP API still serves."""
    from api.sql.listener import SqlListener

    sql = SqlListener(lambda: app.state.engine, access, settings.sql_host, settings.sql_port, SQL_DATABASE,
                      app.state.rate_limiter, AuditLog.for_project(settings, project_root))  # fmt: skip
    try:
        sql.start()
    except OSError as exc:
        if f"{ENV_PREFIX}SQL_PORT" in os.environ or settings.sql_port != DEMO_SQL_PORT:
            raise ValueError(f"cannot listen for SQL on {settings.sql_host}:{settings.sql_port}: {exc}") from exc
        print(f"warning: no SQL listener: port {settings.sql_port} is taken ({exc}); set CUBE_SQL_PORT",
              file=sys.stderr, flush=True)  # fmt: skip
        return
    who = "-U anonymous" if settings.anonymous else "-U <any user> (password: an API key)"
    command = f"psql -h {sql.host} -p {sql.port} {who} {SQL_DATABASE}"
    print(f"SQL (PostgreSQL wire protocol) on {sql.host}:{sql.port}: {command}", file=sys.stderr, flush=True)


def _demo(args: argparse.Namespace) -> int:
    root = args.project or _find_demo_project()
    project = _prepare(root)
    settings = demo_settings()
    engine = open_engine(project, settings)
    if engine.snapshot().status != "serving":
        _build_with_progress(engine, project)
    return _run_server(project, args.host, args.port, args.log_level, settings)


def demo_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The demo answers callers without keys unless CUBE_ANONYMOUS says otherwise (serve needs keys by default),
    and listens for SQL on port 15432 unless CUBE_SQL_PORT says otherwise (serve: off)."""
    environ = os.environ if environ is None else environ
    anonymous = None if f"{ENV_PREFIX}ANONYMOUS" in environ else True
    sql_port = None if f"{ENV_PREFIX}SQL_PORT" in environ else DEMO_SQL_PORT
    return settings_from_env(environ, anonymous=anonymous, sql_port=sql_port)


def _build(args: argparse.Namespace) -> int:
    project = _prepare(args.project, args.data_root)
    engine = open_engine(project, settings_from_env(), use_store=False)
    details = {"budget": args.budget, "engine": args.engine}
    with (
        command_line_operation(engine.settings, project.root, "build", **details) as audited,
        _store_builder(args, project) as builder,
    ):
        audited["version"] = _build_with_progress(engine, project, args.budget, builder)
    return 0


def _load_postgres(args: argparse.Namespace) -> int:
    # psycopg is the optional extra "postgres"
    from cube_server.postgres_load import load_postgres

    project = _prepare(args.project, args.data_root, needs_files=True)
    settings = settings_from_env()
    url = args.url or settings.engine_url or project.engine_url
    if not url:
        raise ValueError("load-postgres needs --url, CUBE_ENGINE_URL or [engine] url in cube-server.toml")

    def progress(table: str, rows: int) -> None:
        print(f"  {table}: {rows:,} rows", file=sys.stderr, flush=True)

    loaded = load_postgres(project, url, settings, progress)
    print(f"loaded {len(loaded)} tables ({sum(loaded.values()):,} rows); serve them with CUBE_ENGINE_URL or [engine]")
    return 0


def _store_plan(engine: CubeEngine, project: Project, budget: float | None) -> StorePlan:
    options = project.plan_options if budget is None else replace(project.plan_options, budget=budget)
    if options.budget < 0:
        raise ValueError("--budget must not be negative")
    return plan_store(engine, options, project.store_dir / QUERY_LOG)


def _plan(args: argparse.Namespace) -> int:
    project = _prepare(args.project, args.data_root)
    engine = open_engine(project, settings_from_env(), use_store=False)
    plan = _store_plan(engine, project, args.budget)
    for cube in plan.cubes:
        selection = cube.selection
        rows = [
            [
                chosen.spec.name,
                "declared" if chosen.mandatory else "selected",
                " ".join(f"{d}{'' if h == 'default' else '@' + h}:{level}" for d, h, level in chosen.spec.grain),
                f"{chosen.rows:,}",
                "" if chosen.mandatory else f"{chosen.benefit:,.0f}",
            ]
            for chosen in selection.chosen
        ]
        print(f"cube {cube.cube}")
        print(text_table(["cuboid", "kind", "grain", "est. rows", "benefit (rows saved)"], rows))
        sample = "all of them" if cube.sampled_rows >= cube.fact_rows else f"a sample of {cube.sampled_rows:,}"
        weighting = f"{cube.logged_queries:,} logged queries" if cube.logged_queries else "no query log (even weights)"
        print(
            f"  {cube.fact_rows:,} fact rows ({sample} read for estimates); {cube.candidates:,} candidates; "
            f"{weighting}\n  budget {selection.budget_rows:,} rows ({plan.options.budget:g} of the facts), "
            f"{selection.used_rows:,} estimated in {len(selection.chosen)} cuboids; "
            f"{selection.evaluations:,} benefit evaluations"
        )
    print(f"planned in {plan.elapsed_s:.1f} s")
    return 0


def _build_with_progress(
    engine: CubeEngine, project: Project, budget: float | None = None, builder: StoreBuilder = build_store
) -> str:
    """Build the store (with ``builder``) and report it; the version built."""
    def progress(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * (done - 1) // total
        print(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<50}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    plan = _store_plan(engine, project, budget)
    picked = sum(len(cube.selection.picked()) for cube in plan.cubes)
    print(
        f"building cuboids into {project.store_dir} ({picked} selected beside the declared) ...",
        file=sys.stderr,
        flush=True,
    )
    store = CuboidStore(project.store_dir, engine.settings.version_grace_s)
    report = builder(engine, store, progress, plan.specs_by_cube())
    print(file=sys.stderr)
    cuboids = report.manifest.cuboids
    rows = [[c.cube, c.name, f"{c.rows:,}", f"{c.bytes:,}", c.built_from] for c in cuboids]
    print(text_table(["cube", "cuboid", "rows", "bytes", "built from"], rows))
    print(f"version {report.manifest.version}: {len(cuboids)} cuboid(s) in {report.elapsed_s:.1f} s")
    for cube in plan.cubes:
        built = sum(c.rows for c in report.manifest.cuboids_of(cube.cube))
        if cube.selection.picked() and built > cube.selection.budget_rows:
            # The estimates come from a sample and run low for unevenly filled grains: say so, with the numbers.
            print(
                f"note: cube {cube.cube}: the cuboids hold {built:,} rows against a budget of "
                f"{cube.selection.budget_rows:,} (estimated {cube.selection.used_rows:,}); "
                "a larger [store] sample_rows estimates closer, a smaller budget picks fewer",
                file=sys.stderr,
            )
    return report.manifest.version


def _refresh(args: argparse.Namespace) -> int:
    project = _prepare(args.project, args.data_root)
    engine = open_engine(project, settings_from_env(), use_store=False)
    if args.append is None and args.replace is None:
        details = {"mode": "full", "engine": args.engine}
        with (
            command_line_operation(engine.settings, project.root, "refresh", **details) as audited,
            _store_builder(args, project) as builder,
        ):
            audited["version"] = _build_with_progress(engine, project, builder=builder)
        return 0
    store = CuboidStore(project.store_dir, engine.settings.version_grace_s)
    if args.append is not None:
        details = {"mode": "append", "file": str(args.append)}
    else:
        start, end, file = args.replace
        details = {"mode": "replace", "from": start, "to": end, "file": file}
    with (
        command_line_operation(engine.settings, project.root, "refresh", engine=args.engine, **details) as audited,
        _cuboid_refresher(args, project) as refresh_cuboids,
    ):
        if args.append is not None:
            report = append_facts(engine, project, store, args.append, refresh_cuboids)
        else:
            report = replace_facts(engine, project, store, start, end, Path(file), refresh_cuboids)
        audited.update(version=report.manifest.version, rows_added=report.rows_added, rows_removed=report.rows_removed)
    print(text_table(["cuboid", "refresh"], [[name, what] for name, what in report.cuboids.items()]))
    print(
        f"version {report.manifest.version} ({report.mode}): {report.rows_added:,} fact row(s) added, "
        f"{report.rows_removed:,} removed, in {report.elapsed_s:.1f} s"
    )
    return 0


def _find_demo_project() -> Path:
    for candidate in (Path.cwd() / DEFAULT_PROJECT, Path(__file__).resolve().parent.parent / DEFAULT_PROJECT):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ValueError("cannot find examples/telecom; run from the checkout or pass --project")


def _serve(args: argparse.Namespace) -> int:
    project = _prepare(args.project, args.data_root)
    return _run_server(project, args.host, args.port, args.log_level, settings_from_env())


def _generate(args: argparse.Namespace) -> int:
    from cube_server.telecom import generate_telecom

    summary = generate_telecom(args.out, args.rows, args.seed, progress=_progress)
    print(
        f"wrote {summary.rows:,} rows ({summary.customers:,} customers, {summary.orphan_rows:,} with orphan keys) "
        f"to {args.out} in {summary.elapsed_s:.1f} s"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        path = load_project(path).model_path
    issues = validate_model(path)
    if not issues:
        print(f"{path}: valid")
        return 0
    print(f"{path}: {len(issues)} problem(s)")
    for issue in issues:
        print(f"  {issue}")
    return 1


def _engine_query(args: argparse.Namespace) -> tuple[Any, Query]:
    project = _prepare(args.project, args.data_root)
    engine = open_engine(project, settings_from_env())
    query = Query(
        args.cube,
        cuts_of(args.cut),
        drilldown_of(args.drilldown),
        names_of(args.measures),
        order_of(args.order),
        args.limit,
        args.offset,
    )
    return engine, query


def _query(args: argparse.Namespace) -> int:
    engine, query = _engine_query(args)
    result = engine.aggregate(query)
    names = [column.name for column in result.columns]
    rows = result.cells or [result.summary]
    if not result.cells:
        names = list(result.summary)
    print(text_table(names, [[row.get(name) for name in names] for row in rows]))
    print(
        f"({result.total_cell_count if result.total_cell_count is not None else 1} cell(s), "
        f"{result.meta.elapsed_ms:.1f} ms, source {result.meta.source})"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    engine, query = _engine_query(args)
    explanation = engine.explain(engine.plan_aggregate(query))
    print(f"source: {explanation.source}\ngrain: {', '.join(explanation.grain) or '(all)'}")
    for statement in explanation.statements:
        print(f"\n-- {statement.name}\n{statement.sql}\n-- parameters: {list(statement.parameters)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    project = _prepare(args.project, args.data_root)
    reports = load_reports(project.reports_dir)
    if args.name is None:
        for report in reports.values():
            queries = ", ".join(query.name for query in report.queries)
            print(f"{report.name}  ({report.period}; {report.cube})  {report.title}\n    queries: {queries}")
        return 0 if reports else 1
    report = find_report(reports, args.name)
    if args.period is None:
        example = "2025-06" if report.period == "month" else "2025"
        raise ValueError(f"report {report.name!r} needs a period: a {report.period}, such as {example}")
    run = run_report(open_engine(project, settings_from_env()), report, parse_period(args.period))
    written = write_report(run, args.format, args.query)
    out: Path = args.out or Path.cwd()
    path = out / written.name if out.is_dir() else out
    path.write_bytes(written.content)
    rows = ", ".join(f"{sheet.query.name} {len(sheet.cells.cells):,} rows" for sheet in run.sheets)
    print(f"wrote {path} ({len(written.content):,} bytes; store version {run.version}; {rows})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
