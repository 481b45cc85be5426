"""A project directory: its model file and the data files of its tables (``cube-server.toml``).

Example::

    model = "model.json"
    [data]
    root = "data"           # table paths are relative to this (itself relative to the config file)
    generator = "telecom"   # generate the data on first use when it is absent
    rows = 1_000_000
    seed = 42
    [store]
    directory = "store"     # where cuboids are built (default: store/ beside this file)
    budget = 0.1            # automatic cuboids: total rows up to this fraction of the fact rows (0 = none)
    max_dimensions = 3      # ... of grains with at most this many dimensions (asked-for grains always count)
    max_cuboids = 32        # ... at most this many beside the declared ones
    sample_rows = 250_000   # size estimates read a deterministic sample of about this many fact rows
    [engine]                # optional: the tables are in a database server, not in the files
    url = "postgresql+psycopg://cube@127.0.0.1:5432/telecom"   # (or the setting CUBE_ENGINE_URL)
    store_schema = "cube_store"   # the schema holding the cuboids built there
    # reports = "reports"   # top level, before [data]: report definitions, reports/*.json by default
    [tables]
    charges = "facts/*.parquet"
    sales = { path = "sales.csv", format = "csv", types = { amount = "DECIMAL(10,4)" }, key = "sale_id" }
    # columns = [...] renames a CSV header's columns, in order

The data root can be moved without editing the file (``cube-server serve --data-root DIR``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregates.store import CuboidStore
from cube_models import ModelCatalog, load_model
from cube_models.load import read_model
from cube_server.backend import DuckDBBackend, TableSource
from cube_server.engine import CubeEngine
from cube_server.errors import ProjectError
from cube_server.fact_switch import settle_switches
from cube_server.planning import PlanOptions
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.query_log import QueryLog
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

CONFIG_NAME = "cube-server.toml"
DEFAULT_STORE_SCHEMA = "cube_store"  # where a database engine keeps the cuboids it builds
GENERATORS = ("telecom",)


@dataclass(frozen=True, slots=True)
class DataSpec:
    directory: Path
    generator: str | None
    rows: int
    seed: int


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    path: str
    format: str = "parquet"
    types: tuple[tuple[str, str], ...] = ()
    key: str | None = None
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    model_path: Path
    table_specs: tuple[TableSpec, ...]
    data: DataSpec | None
    data_root: Path
    store_dir: Path
    plan_options: PlanOptions = PlanOptions()
    reports_dir: Path | None = None  # report definitions (``reports/*.json``), when the project has any
    # [engine] url: the tables are in this database, not in the files (left out of the repr: it may hold a password)
    engine_url: str | None = field(default=None, repr=False)
    store_schema: str = DEFAULT_STORE_SCHEMA  # [engine] store_schema: where a database engine keeps cuboids

    def table_files(self) -> dict[str, list[Path]]:
        files = {}
        for spec in self.table_specs:
            path = Path(spec.path)
            base = path if path.is_absolute() else self.data_root / path
            matches = sorted(base.parent.glob(base.name)) if any(c in base.name for c in "*?[") else [base]
            files[spec.name] = [match for match in matches if match.is_file()]
        return files

    def table_directory(self, spec: TableSpec) -> Path:
        """The directory a table's files (or its glob's matches) are in."""
        path = Path(spec.path)
        return (path if path.is_absolute() else self.data_root / path).parent

    def table_directories(self) -> set[Path]:
        """Where the tables' files live: a refresh's journal is in one of them while it switches fact files."""
        listed = {path.parent for paths in self.table_files().values() for path in paths}
        return listed | {self.table_directory(spec) for spec in self.table_specs}

    def table_sources(self) -> list[TableSource]:
        files = self.table_files()
        return [
            TableSource(spec.name, tuple(files[spec.name]), spec.format, dict(spec.types), spec.key, spec.columns)
            for spec in self.table_specs
        ]

    def missing_tables(self) -> list[str]:
        return [name for name, files in self.table_files().items() if not files]

    def version(self) -> str:
        """A fingerprint of the data files (names, sizes, modification times)."""
        return files_fingerprint(self.table_files())


def files_fingerprint(files: dict[str, list[Path]], stand_ins: dict[Path, Path] | None = None) -> str:
    """Names, sizes and modification times of the data files: changes when a file is rewritten.

    ``stand_ins`` maps a path not there yet to the file that will be renamed to it (a rename keeps the size
    and modification time): the fingerprint the files will have once a refresh has switched them.
    """
    stand_ins = stand_ins or {}
    digest = hashlib.sha256()
    for name, paths in sorted(files.items()):
        for path in paths:
            try:
                stat = stand_ins.get(path, path).stat()
            except FileNotFoundError:
                digest.update(f"{name}|{path.name}|missing\n".encode())
                continue
            digest.update(f"{name}|{path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def load_project(root: Path, data_root: Path | None = None) -> Project:
    """Read ``root/cube-server.toml``; ``data_root`` overrides the configured data root."""
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise ProjectError(f"{root} has no {CONFIG_NAME}", path=str(root))
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"cannot read {config_path}: {exc}") from exc
    model = config.get("model")
    tables = config.get("tables")
    if not isinstance(model, str) or not isinstance(tables, dict):
        raise ProjectError(f'{config_path}: needs model = "file" and a [tables] section')
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    configured_root = (root / str(data.get("root", data.get("directory", ".")))).resolve()
    resolved_root = data_root.resolve() if data_root is not None else configured_root
    specs = tuple(_table_spec(name, value, config_path) for name, value in tables.items())
    spec = _data_spec(resolved_root, data)
    store = config.get("store") if isinstance(config.get("store"), dict) else {}
    store_dir = (root / str(store.get("directory", "store"))).resolve()
    options = _plan_options(store, config_path)
    reports = config.get("reports", "reports")
    if not isinstance(reports, str):
        raise ProjectError(f'{config_path}: reports = "directory" (default "reports")')
    model_path, reports_dir = (root / model).resolve(), (root / reports).resolve()
    url, store_schema = _engine_section(config, config_path)
    return Project(
        root.resolve(), model_path, specs, spec, resolved_root, store_dir, options, reports_dir, url, store_schema
    )


def _engine_section(config: dict[str, Any], config_path: Path) -> tuple[str | None, str]:
    """``[engine] url = "postgresql+psycopg://…"`` and ``store_schema``: serve the tables from a database."""
    engine = config.get("engine", {})
    url = engine.get("url") if isinstance(engine, dict) else None
    schema = engine.get("store_schema", DEFAULT_STORE_SCHEMA) if isinstance(engine, dict) else None
    if not isinstance(engine, dict) or (url is not None and not isinstance(url, str)) or not isinstance(schema, str):
        raise ProjectError(f'{config_path}: [engine] takes url = "postgresql+psycopg://…" and store_schema = "name"')
    return url or None, schema


def _plan_options(store: dict[str, Any], config_path: Path) -> PlanOptions:
    """``[store] budget = 0.1``, ``max_dimensions``, ``max_cuboids``, ``sample_rows``: the automatic selection."""
    defaults = PlanOptions()
    values: dict[str, Any] = {}
    for name, kind in (("budget", float), ("max_dimensions", int), ("max_cuboids", int), ("sample_rows", int)):
        raw = store.get(name, getattr(defaults, name))
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0 or (kind is int and raw != int(raw)):
            raise ProjectError(f"{config_path}: [store] {name} must be a non-negative {kind.__name__}")
        values[name] = kind(raw)
    return PlanOptions(**values)


def _table_spec(name: str, value: Any, config_path: Path) -> TableSpec:
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise ProjectError(f"{config_path}: table {name!r} needs a path")
    fmt = value.get("format", "csv" if value["path"].endswith(".csv") else "parquet")
    if fmt not in ("csv", "parquet"):
        raise ProjectError(f"{config_path}: table {name!r} has unknown format {fmt!r} (csv or parquet)")
    types = value.get("types", {})
    if not isinstance(types, dict) or not all(isinstance(t, str) for t in types.values()):
        raise ProjectError(f"{config_path}: types of table {name!r} must map column names to SQL types")
    key = value.get("key")
    if key is not None and not isinstance(key, str):
        raise ProjectError(f"{config_path}: key of table {name!r} must be a column name")
    columns = value.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns) or (columns and fmt != "csv"):
        raise ProjectError(f"{config_path}: columns of table {name!r} must be a list of names (CSV tables only)")
    return TableSpec(name, value["path"], fmt, tuple(sorted(types.items())), key, tuple(columns))


def _data_spec(data_root: Path, raw: dict[str, Any]) -> DataSpec | None:
    generator = raw.get("generator")
    if generator is None:
        return None
    if generator not in GENERATORS:
        raise ProjectError(f"unknown data generator {generator!r}; known: {', '.join(GENERATORS)}")
    return DataSpec(data_root, generator, int(raw.get("rows", 1_000_000)), int(raw.get("seed", 42)))


def ensure_data(project: Project, progress: Callable[[int, int], None] | None = None) -> bool:
    """Generate the project's data when its tables are missing and it names a generator; True if generated."""
    if not project.missing_tables():
        return False
    if project.data is None or project.data.generator is None:
        missing = ", ".join(project.missing_tables())
        raise ProjectError(f"no data files for table(s) {missing} and no generator configured")
    generate_telecom(project.data.directory, project.data.rows, project.data.seed, progress=progress)
    return True


def model_hash(path: Path) -> str:
    """A fingerprint of the model's content (key order and whitespace do not matter)."""
    raw, _ = read_model(path)
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def open_engine(project: Project, settings: Settings, *, use_store: bool = True) -> CubeEngine:
    catalog: ModelCatalog = load_model(project.model_path)
    url = settings.engine_url or project.engine_url
    if url:
        return _open_database_engine(project, catalog, settings, url, use_store)
    missing = project.missing_tables()
    if missing:
        raise ProjectError(f"no data files for table(s): {', '.join(missing)}")
    store = CuboidStore(project.store_dir, settings.version_grace_s)
    settle_switches(project.table_directories(), store)  # never read the facts a crashed refresh left half switched
    sources = project.table_sources()
    backend = DuckDBBackend(sources, settings)
    store = store if use_store else None
    # The fingerprint of the files there are now (globs are read again): it tells whether the store was
    # built from them, and when a refresh added or replaced files, the engine reopens its tables.
    return CubeEngine(
        catalog,
        backend,
        settings,
        project.version(),
        store=store,
        model_hash=model_hash(project.model_path),
        facts_version=project.version,
        reopen_facts=lambda: backend.reopen_changed(project.table_sources()),
        settle_facts=(lambda: settle_switches(project.table_directories(), store)) if store else None,
        query_log=QueryLog(project.store_dir / QUERY_LOG, settings.query_log_max_bytes)
        if use_store and settings.query_log
        else None,
    )


def _open_database_engine(
    project: Project, catalog: ModelCatalog, settings: Settings, url: str, use_store: bool
) -> CubeEngine:
    """An engine over the project's tables in a database server: same model, same store, only the URL differs."""
    # psycopg is the optional extra "postgres": only a project served from PostgreSQL needs it.
    from cube_server.postgres import PostgresBackend

    backend = PostgresBackend(url, [spec.name for spec in project.table_specs], settings, project.store_schema)
    store = CuboidStore(project.store_dir, settings.version_grace_s) if use_store else None
    return CubeEngine(
        catalog,
        backend,
        settings,
        backend.facts_fingerprint(),
        store=store,
        model_hash=model_hash(project.model_path),
        facts_version=backend.facts_fingerprint,
        query_log=QueryLog(project.store_dir / QUERY_LOG, settings.query_log_max_bytes)
        if use_store and settings.query_log
        else None,
    )
