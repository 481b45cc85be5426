"""Observability through the ASGI app: ``/metrics`` (requests by route template and status, cell answers by
source, refreshes, the store version), one JSON log line per request with its id, the audit log (admin
operations, cube reads, key commands), the body limit on bytes received, and a stream that fails midway
aborting the connection instead of ending cleanly.

Each test works on its own copy of a small generated project (6,000 charges) whose store was built once.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import CUBE, assert_error, write_project
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message

from aggregates.store import CuboidStore
from api import encoding
from api.app import create_app
from api.cli import main
from api.json_logging import REQUEST_LOGGER, JsonFormatter
from api.request_context import CURRENT, RequestContext
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.audit import AUDIT_FILE_NAME, AuditLog, os_user
from cube_server.build import build_store
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

BASE = f"/v1/cubes/{CUBE}"
AGGREGATE = f"{BASE}/aggregate"
REFRESH = "/v1/admin/refresh"
FROM_CUBOID = {"drilldown": "product:line", "measures": "revenue,record_count"}  # the declared line_segment
FROM_FACTS = {"drilldown": "geography:city|channel", "measures": "revenue"}  # no cuboid has both


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("observability")
    generate_telecom(root / "data", 6_000, 5, chunk_rows=2_000)
    project = load_project(write_project(root / "project", root / "data"))
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Project:
    shutil.copytree(template / "data", tmp_path / "data")
    shutil.copytree(template / "project", tmp_path / "project")
    return load_project(write_project(tmp_path / "project", tmp_path / "data"))


def client_of(project: Project, access: AccessControl | None = None, **settings: Any) -> TestClient:
    engine = open_engine(project, Settings(**settings))
    return TestClient(create_app(engine, project=project, access=access))


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``/metrics`` parsed: (sample name, labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def request_lines() -> Iterator[io.StringIO]:
    """The request log's lines, formatted as ``cube-server serve`` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(REQUEST_LOGGER)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---- /metrics --------------------------------------------------------------------------------------------
def test_metrics_count_requests_by_route_template_and_cell_answers_by_source(project: Project) -> None:
    client = client_of(project)
    from_cuboid = [client.get(AGGREGATE, params=FROM_CUBOID) for _ in range(2)]
    from_facts = client.get(AGGREGATE, params=FROM_FACTS)
    assert all(r.json()["meta"]["source"] == "cuboid:line_segment" for r in from_cuboid)
    assert from_facts.json()["meta"]["source"] == "facts"
    assert client.get("/v1/cubes/no_such_cube/aggregate").status_code == 404
    assert client.get("/no/such/route").status_code == 404
    assert client.get(f"/cube/{CUBE}/aggregate", params={"drilldown": "product:line"}).status_code == 200
    pivot = client.get(f"{BASE}/pivot", params={"rows": "product:line", "measures": "revenue"})
    assert pivot.status_code == 200, pivot.text

    metrics = samples(client)
    template = "/v1/cubes/{cube}/aggregate"
    requests = "cube_server_requests_total"
    assert value(metrics, requests, method="GET", route=template, status="200") == 3
    assert value(metrics, requests, method="GET", route=template, status="404") == 1
    assert value(metrics, requests, method="GET", route="unmatched", status="404") == 1
    assert value(metrics, requests, method="GET", route="/cube/{cube}/aggregate", status="200") == 1
    latency = "cube_server_request_duration_seconds_count"
    assert value(metrics, latency, method="GET", route=template, status="200") == 3
    assert value(metrics, "cube_server_request_duration_seconds_sum", method="GET", route=template, status="200") > 0
    # Route labels are templates: neither a cube name nor a path asked for appears as one.
    routes = {dict(labels).get("route") for _, labels in metrics}
    assert not any(route and ("no_such" in route or CUBE in route) for route in routes), routes

    # Cell answers: 2 + the Slicer's + the pivot's from cuboids (all on line_segment's grain), 1 from facts.
    cells = "cube_server_cell_answers_total"
    pivot_kind = "cuboid" if pivot.json()["meta"]["source"].startswith("cuboid:") else "facts"
    assert value(metrics, cells, cube=CUBE, source="cuboid") == 3 + (pivot_kind == "cuboid")
    assert value(metrics, cells, cube=CUBE, source="facts") == 1 + (pivot_kind == "facts")


def test_metrics_show_the_store_version_serving(project: Project) -> None:
    manifest = CuboidStore(project.store_dir).current()
    assert manifest is not None
    metrics = samples(client_of(project))
    assert value(metrics, "cube_server_ready") == 1
    assert value(metrics, "cube_server_store_info", version=manifest.version, status="serving") == 1
    built = value(metrics, "cube_server_store_built_timestamp_seconds", version=manifest.version)
    assert built > 1.7e9  # seconds since 1970: this was built after 2023
    assert value(metrics, "cube_server_store_cuboids", cube=CUBE) == len(manifest.cuboids_of(CUBE))


def test_metrics_need_no_key_and_can_be_switched_off(project: Project) -> None:
    settings = Settings()
    keyed = client_of(project, AccessControl.from_settings(settings, project.root))
    assert_error(keyed.get(AGGREGATE), 401, "unauthenticated")
    assert value(samples(keyed), "cube_server_requests_total", method="GET", route=AGGREGATE.replace(CUBE, "{cube}"),
                 status="401") == 1  # fmt: skip
    assert_error(client_of(project, metrics=False).get("/metrics"), 404, "not_found")
    not_loaded = TestClient(create_app())
    assert_error(not_loaded.get("/metrics"), 503, "not_ready")


# ---- logs --------------------------------------------------------------------------------------------------
def test_each_request_logs_one_json_line_with_the_id_its_answer_carries(
    project: Project, request_lines: io.StringIO
) -> None:
    client = client_of(project)
    given = client.get(AGGREGATE, params=FROM_CUBOID, headers={"X-Request-ID": "trace-42"})
    made_up = client.get(f"{BASE}/members/no_such_dimension")
    assert given.headers["X-Request-ID"] == "trace-42"
    error = assert_error(made_up, 400, "unknown_dimension")
    first, second = lines_of(request_lines)
    assert first["request_id"] == "trace-42"
    assert first["level"] == "info" and first["logger"] == REQUEST_LOGGER and first["time"].endswith("Z")
    assert first["method"] == "GET" and first["route"] == "/v1/cubes/{cube}/aggregate" and first["status"] == 200
    assert first["principal"] == "open" and first["cube"] == CUBE and first["source"] == "cuboid:line_segment"
    assert first["duration_ms"] > 0
    assert second["request_id"] == made_up.headers["X-Request-ID"] == error["request_id"]
    assert len(second["request_id"]) == 32 and second["status"] == 400
    assert second["route"] == "/v1/cubes/{cube}/members/{dimension}"


def test_lines_logged_while_serving_a_request_carry_its_id() -> None:
    record = logging.LogRecord("cube_server.api", logging.ERROR, __file__, 1, "engine said %s", ("no",), None)
    token = CURRENT.set(RequestContext("abc123"))
    try:
        inside = json.loads(JsonFormatter().format(record))
    finally:
        CURRENT.reset(token)
    assert inside == {**inside, "request_id": "abc123", "level": "error", "message": "engine said no"}
    assert "request_id" not in json.loads(JsonFormatter().format(record))


# ---- the audit log -------------------------------------------------------------------------------------------
def test_the_audit_log_names_who_refreshed_and_who_read_which_cube(project: Project) -> None:
    store = KeyStore(keys_path(Settings(), project.root))
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    _, admin_key = store.create("Ops admin", ["admin"], roles)
    _, reader_key = store.create("Analyst Li", ["reader"], roles)
    settings = Settings(admin=True)
    client = client_of(project, AccessControl.from_settings(settings, project.root), admin=True)

    read = client.get(AGGREGATE, params=FROM_CUBOID, headers=bearer(reader_key))
    assert read.status_code == 200
    assert_error(client.post(REFRESH, json={"mode": "full"}, headers=bearer(reader_key)), 403, "forbidden")
    rebuilt = client.post(REFRESH, json={"mode": "full"}, headers=bearer(admin_key))
    assert rebuilt.status_code == 200, rebuilt.text
    version = rebuilt.json()["version"]

    path = project.root / AUDIT_FILE_NAME
    reads = [e for e in AuditLog(path).entries() if e["event"] == "read"]
    admin = [e for e in AuditLog(path).entries() if e["event"] == "admin"]
    assert reads == [
        {
            "time": reads[0]["time"],
            "event": "read",
            "via": "http",
            "principal": "Analyst Li",
            "principal_kind": "key",
            "method": "GET",
            "route": "/v1/cubes/{cube}/aggregate",
            "status": 200,
            "request_id": read.headers["X-Request-ID"],
            "cube": CUBE,
            "source": "cuboid:line_segment",
        }
    ]
    refused, done = admin
    assert refused["principal"] == "Analyst Li" and refused["action"] == "refresh" and refused["mode"] == "full"
    assert refused["outcome"] == "refused" and refused["status"] == 403 and "version" not in refused
    assert done["principal"] == "Ops admin" and done["principal_kind"] == "key" and done["mode"] == "full"
    assert done["outcome"] == "ok" and done["status"] == 200 and done["version"] == version
    assert done["request_id"] == rebuilt.headers["X-Request-ID"] and done["duration_ms"] > 0
    text = path.read_text(encoding="utf-8")
    for key in (admin_key, reader_key):
        assert key not in text and key.split("_", 2)[2] not in text

    metrics = samples(client)
    assert value(metrics, "cube_server_refreshes_total", mode="full", outcome="ok") == 1
    assert value(metrics, "cube_server_refreshes_total", mode="full", outcome="refused") == 1
    assert value(metrics, "cube_server_refresh_duration_seconds_count", mode="full") == 1
    assert value(metrics, "cube_server_store_info", version=version, status="serving") == 1


def test_the_audit_log_can_be_moved_or_switched_off(project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "audit" / "reads.jsonl"
    client_of(project, audit_log=str(elsewhere)).get(AGGREGATE, params=FROM_CUBOID)
    assert [entry["cube"] for entry in AuditLog(elsewhere).entries()] == [CUBE]
    client_of(project, audit=False).get(AGGREGATE, params=FROM_CUBOID)
    assert not (project.root / AUDIT_FILE_NAME).exists()
    assert len(AuditLog(elsewhere).entries()) == 1


def test_key_commands_are_audited_with_the_os_user_and_no_secret(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", str(project.root), "--name", "Guangdong", "--role", "reader"]) == 0
    key = capsys.readouterr().out.strip()
    key_id = key.split("_")[1]
    assert main(["keys", "revoke", str(project.root), key_id]) == 0
    assert main(["keys", "revoke", str(project.root), "no-such-id"]) != 0
    entries = AuditLog(project.root / AUDIT_FILE_NAME).entries()
    created, revoked, failed = entries
    assert created["action"] == "keys.create" and created["via"] == "cli" and created["principal"] == os_user()
    assert created["outcome"] == "ok" and created["key_id"] == key_id
    assert created["name"] == "Guangdong" and created["roles"] == ["reader"]
    assert revoked["action"] == "keys.revoke" and revoked["key_id"] == key_id and revoked["name"] == "Guangdong"
    assert failed["action"] == "keys.revoke" and failed["outcome"] == "failed" and failed["key_id"] == "no-such-id"
    text = (project.root / AUDIT_FILE_NAME).read_text(encoding="utf-8")
    assert key not in text and key.split("_", 2)[2] not in text


# ---- the request guard ---------------------------------------------------------------------------------------
def chunks(count: int, size: int) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked)."""
    for _ in range(count):
        yield b" " * size


def test_a_chunked_body_over_the_limit_is_413(project: Project) -> None:
    client = client_of(project)
    response = client.post(f"{BASE}/query", content=chunks(3, 400_000), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")
    slicer = client.post(f"/cube/{CUBE}/report", content=chunks(3, 400_000))
    assert slicer.status_code == 413 and slicer.json()["error"] == "request"
    small = iter([b'{"operation": "aggregate", ', b'"drilldown": "product:line"}'])
    answered = client.post(f"{BASE}/query", content=small, headers={"Content-Type": "application/json"})
    assert answered.status_code == 200 and answered.json()["meta"]["source"] == "cuboid:line_segment"
    # the limit is the setting's
    strict = client_of(project, max_body_bytes=50)
    small = iter([b'{"operation": "aggregate", ', b'"drilldown": "product:line"}'])
    error = assert_error(strict.post(f"{BASE}/query", content=small), 413, "body_too_large")
    assert "50 bytes" in error["message"]


# ---- a stream failing midway ------------------------------------------------------------------------------------
def test_a_stream_failing_midway_aborts_the_connection(
    project: Project, monkeypatch: pytest.MonkeyPatch, request_lines: io.StringIO
) -> None:
    """The server must see the failure (and drop the connection), not a response that ends as if complete."""
    app = create_app(open_engine(project, Settings()), project=project)
    whole = encoding.csv_chunks

    def failing(*arguments: Any) -> Iterator[bytes]:
        chunks = whole(*arguments)
        yield next(chunks)
        raise OSError("the disk went away")

    monkeypatch.setattr(encoding, "csv_chunks", failing)
    sent: list[Message] = []

    async def serve() -> None:
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        path = f"{BASE}/facts"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"format=csv&limit=50", "root_path": "",
            "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        }  # fmt: skip
        await app(scope, receive, send)

    with pytest.raises(OSError, match="disk went away"):
        anyio.run(serve)
    start, *bodies = sent
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert bodies and all(message["more_body"] for message in bodies)  # never the last, closing chunk
    (line,) = lines_of(request_lines)
    assert line["aborted"] is True and line["level"] == "error" and line["status"] == 200
    with pytest.raises(OSError, match="disk went away"):
        TestClient(app).get(f"{BASE}/facts", params={"format": "csv", "limit": 50})
