"""The hostile-input corpus (``corpus.py``) against the app as served: every case refused with a 4xx in its
surface's error shape (never a 5xx), and the fact files and the cuboid store byte for byte as they were.

The app serves a copy of the session's generated data with a built store, keys required (a reader's key, and an
admin key for the admin refresh, which is on), rate limiting off. Requests reach it as a server hands them over:
the raw path and query string in the ASGI scope, so ``..`` segments and percent-escapes are not tidied up by a
client first. Model files go through model loading and ``cube-server validate``: reported invalid, no crash.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from conftest import write_project
from corpus import CUBE, INERT, MODEL_FILES, REQUESTS, Hostile

from aggregates.store import CuboidStore
from api.app import create_app
from api.cli import main as cli
from api.slicer.paths import is_slicer_path
from cube_models import ModelError, load_model, validate_model
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.backend import compile_statement
from cube_server.build import build_store
from cube_server.project import Project, load_project, open_engine
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "examples" / "telecom" / "reports"


@dataclass
class Site:
    app: Any
    project: Project
    reader: str
    admin: str
    placeholders: dict[str, str]
    state: str = ""  # the checksum of facts and store after the last request


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def checksum(project: Project) -> str:
    """Every byte of every file of the facts (and dimensions) and of the cuboid store, with its path; but the
    query log, which every answered aggregate appends to (``cube-server plan`` weighs cuboids by it)."""
    digest = hashlib.sha256()
    query_log = project.store_dir / QUERY_LOG
    for root in (project.data_root, project.store_dir):
        for path in sorted(p for p in root.rglob("*") if (p.is_file() or p.is_symlink()) and p != query_log):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes() if path.is_file() else b"link")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def site(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Site:
    where = tmp_path_factory.mktemp("hostile")
    shutil.copytree(telecom_data, where / "data")
    directory = write_project(where / "project", where / "data")
    config = directory / "cube-server.toml"
    store = f'\n[store]\ndirectory = "{where / "store"}"\n'
    config.write_text(f'reports = "{REPORTS}"\n' + config.read_text(encoding="utf-8") + store, encoding="utf-8")
    project = load_project(directory)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    # Valid new charges: one file inside the directory the admin API may read, one outside it, and a link to it.
    generate_telecom(where / "pool", 500, 11)
    incoming = directory / "incoming"
    incoming.mkdir()
    pool = sorted((where / "pool" / "facts").glob("*.parquet"))[0]
    shutil.copy(pool, incoming / "inside.parquet")
    (where / "outside").mkdir()
    shutil.copy(pool, where / "outside" / "new.parquet")
    (incoming / "escape.parquet").symlink_to(where / "outside" / "new.parquet")
    settings = Settings(admin=True, rate_limit_per_minute=0)
    roles = RoleBook(roles_path(settings, project.root)).roles()
    keys = KeyStore(keys_path(settings, project.root))
    _, reader = keys.create("reader", ["reader"], roles)
    _, admin = keys.create("admin", ["admin"], roles)
    access = AccessControl.from_settings(settings, project.root)
    app = create_app(open_engine(project, settings), project=project, access=access, settings=settings)
    placeholders = {
        "{outside}": str(where / "outside" / "new.parquet"),
        "{escape}": str(incoming / "escape.parquet"),
        "{inside}": str(incoming / "inside.parquet"),
    }
    return Site(app, project, reader, admin, placeholders, checksum(project))


def send(site: Site, case: Hostile) -> Answer:
    """The request as a server hands it to the app: raw target, headers as bytes, the body in one message."""
    body = case.body or b""
    for placeholder, value in site.placeholders.items():
        body = body.replace(placeholder.encode(), json.dumps(value)[1:-1].encode())
    headers = dict(case.headers)
    if case.key:
        headers["x-api-key"] = site.admin if case.admin else site.reader
    if body:
        headers["content-length"] = str(len(body))
    path, _, query = case.target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": case.method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode("utf-8")) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    return asyncio.run(_call(site.app, scope, body))


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> Answer:
    done = asyncio.Event()
    received = False
    status = 0
    headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send_message(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update({k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send_message)
    done.set()
    return Answer(status, headers, b"".join(chunks))


def assert_refused(answer: Answer, case: Hostile) -> None:
    """A 4xx in the surface's error shape: the envelope, or on the Slicer surface Cubes' flat error."""
    text = answer.body[:500].decode("utf-8", "replace")
    assert 400 <= answer.status < 500, f"{case.id}: {answer.status} {text}"
    if case.status is not None:
        assert answer.status == case.status, f"{case.id}: {answer.status} {text}"
    assert answer.headers.get("content-type", "").startswith("application/json"), (case.id, answer.headers)
    body = json.loads(answer.body)
    if is_slicer_path(unquote(case.target.partition("?")[0])):
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (case.id, body)
        assert isinstance(body.get("message"), str) and body["message"], (case.id, body)
    else:
        assert set(body) == {"error"}, (case.id, body)
        error = body["error"]
        assert set(error) == {"code", "message", "details", "request_id"}, (case.id, error)
        assert isinstance(error["code"], str) and error["code"] and error["message"], (case.id, error)


def assert_unchanged(site: Site, case: Hostile) -> None:
    after = checksum(site.project)
    changed, site.state = after != site.state, after
    assert not changed, f"{case.id} changed the facts or the store"


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    ids = [case.id for case in REQUESTS + INERT]
    assert len(REQUESTS) >= 150
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", REQUESTS, ids=[case.id for case in REQUESTS])
def test_a_hostile_request_is_refused_and_changes_nothing(site: Site, case: Hostile) -> None:
    answer = send(site, case)
    assert_refused(answer, case)
    assert_unchanged(site, case)


@pytest.mark.parametrize("case", INERT, ids=[case.id for case in INERT])
def test_a_hostile_text_taken_as_data_finds_nothing(site: Site, case: Hostile) -> None:
    answer = send(site, case)
    assert answer.status == 200, (case.id, answer.status, answer.body[:300])
    body = json.loads(answer.body)
    found = body if isinstance(body, list) else next(body[name] for name in ("cells", "rows", "data") if name in body)
    assert found == [], (case.id, body)
    assert_unchanged(site, case)


@pytest.mark.parametrize("name", sorted(MODEL_FILES))
def test_a_hostile_model_file_is_reported_invalid(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(MODEL_FILES[name])
    with pytest.raises(ModelError) as raised:
        load_model(path)
    assert raised.value.issues
    assert validate_model(path)
    assert cli(["validate", str(path)]) == 1
    output = capsys.readouterr()
    assert "problem" in output.out and "Traceback" not in output.out + output.err


def test_the_site_answers_a_fair_request(site: Site) -> None:
    """The refusals above are not an app refusing everything: the same keys and paths answer a fair request."""
    fair = send(site, Hostile("fair", "GET", f"/v1/cubes/{CUBE}/aggregate?drilldown=time:year"))
    assert fair.status == 200, fair.body[:300]
    assert send(site, Hostile("fair-explorer", "GET", "/explorer/index.html", key=False)).status == 200


def test_a_statement_with_thousands_of_parameters_compiles_in_linear_time() -> None:
    """Regression: the bound parameters were rebuilt once per parameter, so a set cut of 3,000 members spent
    seconds (about 7 here) in compiling alone, and a 1 MB body of members minutes; now it is a fraction of one."""
    members = [f"x{i}" for i in range(3_000)]
    statement = sa.select(sa.literal_column("1")).where(sa.or_(*(sa.column("key") == member for member in members)))
    started = time.monotonic()
    compiled = compile_statement(statement)
    assert time.monotonic() - started < 3.0
    assert compiled.parameters == tuple(members)
