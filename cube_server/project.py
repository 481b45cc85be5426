"""A project directory: its model file(s) and the Parquet files of its tables (``cube-server.toml``).

Example::

    model = "model.json"
    [data]
    directory = "data"      # generated on first use when generator is set
    generator = "telecom"
    rows = 1_000_000
    seed = 42
    [tables]
    charges = "data/facts/*.parquet"
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cube_models import ModelCatalog, load_model
from cube_server.backend import DuckDBBackend
from cube_server.engine import CubeEngine
from cube_server.errors import ProjectError
from cube_server.settings import Settings

CONFIG_NAME = "cube-server.toml"
GENERATORS = ("telecom",)


@dataclass(frozen=True, slots=True)
class DataSpec:
    directory: Path
    generator: str | None
    rows: int
    seed: int


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    model_path: Path
    tables: dict[str, str]
    data: DataSpec | None

    def table_files(self) -> dict[str, list[Path]]:
        files = {}
        for name, pattern in self.tables.items():
            path = Path(pattern)
            base = path if path.is_absolute() else self.root / path
            matches = sorted(base.parent.glob(base.name)) if any(c in base.name for c in "*?[") else [base]
            files[name] = [match for match in matches if match.exists()]
        return files

    def missing_tables(self) -> list[str]:
        return [name for name, files in self.table_files().items() if not files]

    def version(self) -> str:
        """A fingerprint of the data files (names, sizes, modification times)."""
        digest = hashlib.sha256()
        for name, files in sorted(self.table_files().items()):
            for path in files:
                stat = path.stat()
                digest.update(f"{name}|{path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:12]


def load_project(root: Path) -> Project:
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise ProjectError(f"{root} has no {CONFIG_NAME}", path=str(root))
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"cannot read {config_path}: {exc}") from exc
    model = config.get("model")
    tables = config.get("tables")
    if (
        not isinstance(model, str)
        or not isinstance(tables, dict)
        or not all(isinstance(v, str) for v in tables.values())
    ):
        raise ProjectError(f'{config_path}: needs model = "file" and a [tables] section of name = "path"')
    return Project(root.resolve(), (root / model).resolve(), dict(tables), _data_spec(root, config.get("data")))


def _data_spec(root: Path, raw: Any) -> DataSpec | None:
    if not isinstance(raw, dict):
        return None
    generator = raw.get("generator")
    if generator is not None and generator not in GENERATORS:
        raise ProjectError(f"unknown data generator {generator!r}; known: {', '.join(GENERATORS)}")
    return DataSpec(
        directory=(root / str(raw.get("directory", "data"))).resolve(),
        generator=generator,
        rows=int(raw.get("rows", 1_000_000)),
        seed=int(raw.get("seed", 42)),
    )


def ensure_data(project: Project, progress: Callable[[int, int], None] | None = None) -> bool:
    """Generate the project's data when its tables are missing and it names a generator; True if generated."""
    if not project.missing_tables():
        return False
    if project.data is None or project.data.generator is None:
        missing = ", ".join(project.missing_tables())
        raise ProjectError(f"no data files for table(s) {missing} and no generator configured")
    from cube_server.telecom import generate_telecom

    generate_telecom(project.data.directory, project.data.rows, project.data.seed, progress=progress)
    return True


def open_engine(project: Project, settings: Settings) -> CubeEngine:
    catalog: ModelCatalog = load_model(project.model_path)
    missing = project.missing_tables()
    if missing:
        raise ProjectError(f"no data files for table(s): {', '.join(missing)}")
    backend = DuckDBBackend(project.table_files(), settings)
    return CubeEngine(catalog, backend, settings, project.version())
