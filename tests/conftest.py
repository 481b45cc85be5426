"""Shared fixtures: one generated telecom dataset per test session, engines and API clients from factories.

The contract suite (``tests/contract``) also serves the session's data from PostgreSQL: ``pg_cluster`` starts a
throw-away cluster (:mod:`pg_cluster`) and ``pg_engine`` reads the same rows loaded there. Where PostgreSQL cannot
be started (not installed, and not root to install it), those tests fail under CI (``CI=true``) and are skipped
elsewhere, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pg_cluster import Cluster, ClusterUnavailable, running_cluster, with_engine

from api.app import create_app
from cube_server.engine import CubeEngine
from cube_server.postgres_load import load_postgres
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

ROOT = Path(__file__).resolve().parent.parent
TELECOM_MODEL = ROOT / "examples" / "telecom" / "model.json"
TEST_ROWS = 60_000
TEST_SEED = 7
CUBE = "fixed_line_revenue"


def write_project(directory: Path, data: Path, model: Path = TELECOM_MODEL) -> Path:
    """A project directory whose tables are the generated Parquet files under ``data``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (TELECOM_MODEL.parent / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('model = "model.json"', f'model = "{model}"').replace('root = "data"', f'root = "{data}"')
    (directory / "cube-server.toml").write_text(text, encoding="utf-8")
    return directory


def store_project(directory: Path, data: Path, extra: str = "") -> Project:
    """The telecom project over ``data`` with its store under ``directory`` (and ``extra`` configuration)."""
    project = write_project(directory, data)
    config = project / "cube-server.toml"
    text = config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{directory / "store"}"\n' + extra
    config.write_text(text, encoding="utf-8")
    return load_project(project)


@pytest.fixture(scope="session")
def telecom_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60,000 generated charge records (seed 7): facts/*.parquet and one Parquet file per dimension."""
    data = tmp_path_factory.mktemp("telecom") / "data"
    generate_telecom(data, TEST_ROWS, TEST_SEED, chunk_rows=25_000)
    return data


@pytest.fixture(scope="session")
def telecom_project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(write_project(tmp_path_factory.mktemp("project"), telecom_data))


@pytest.fixture(scope="session")
def engine(telecom_project: Project) -> CubeEngine:
    return open_engine(telecom_project, Settings())


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        with running_cluster() as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the contract suite on PostgreSQL, which cannot start here: {exc}")
        pytest.skip(f"PostgreSQL cannot start here ({exc}); scripts/test installs it when run as root")


@pytest.fixture(scope="session")
def pg_telecom_url(pg_cluster: Cluster, telecom_project: Project) -> str:
    """A database holding the session's telecom tables."""
    url = pg_cluster.create_database("telecom")
    load_postgres(telecom_project, url, Settings())
    return url


@pytest.fixture(scope="session")
def pg_telecom_project(pg_telecom_url: str, telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The session's telecom project with only ``[engine] url`` added."""
    return load_project(with_engine(write_project(tmp_path_factory.mktemp("pg-project"), telecom_data), pg_telecom_url))


@pytest.fixture(scope="session")
def pg_engine(pg_telecom_project: Project) -> Iterator[CubeEngine]:
    engine = open_engine(pg_telecom_project, Settings())
    yield engine
    engine.backend.close()  # its pooled connections, before the cluster stops


@pytest.fixture
def make_engine(telecom_project: Project) -> Callable[..., CubeEngine]:
    """``make_engine(max_cells=10)``: an engine over the session data with other settings."""

    def make(**settings: Any) -> CubeEngine:
        return open_engine(telecom_project, Settings(**settings))

    return make


@pytest.fixture(scope="session")
def client(engine: CubeEngine) -> TestClient:
    return TestClient(create_app(engine))


@pytest.fixture
def make_client(make_engine: Callable[..., CubeEngine]) -> Callable[..., TestClient]:
    def make(**settings: Any) -> TestClient:
        return TestClient(create_app(make_engine(**settings)))

    return make


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Every non-2xx answer of /v1 is the one envelope, with a stable code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] and response.headers["X-Request-ID"] == error["request_id"]
    return error  # type: ignore[no-any-return]
