"""Every operation of the OpenAPI document, fuzzed: requests generated from the document itself (schemathesis,
through the ASGI app, no network) must be answered as the document declares them.

The app runs as ``cube-server serve`` would: access control on (an API key in a header for most requests, none for
some, whose 401s must be declared too), a built cuboid store over the session's generated data, rate limiting off.
Each request is generated from the operation's declared parameters and body, valid ones and invalid ones, with
real names (the cube, its dimensions, levels, measures, cuts, reports) drawn in often enough that many requests
reach the engine. Every answer is checked:

- no 5xx but the deliberate 503 (not ready) and 504 (query timeout);
- its status is one the operation declares;
- its content type is one declared for that status, and its body validates against the declared schema.

Generation is derandomized, so a CI run sends the same requests every time; ``EXAMPLES`` requests per operation with
a key and ``ANONYMOUS_EXAMPLES`` without one add up to at least ``MINIMUM_REQUESTS`` (checked below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import CUBE, store_project
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aggregates.store import CuboidStore
from api.app import create_app
from api.slicer.paths import is_slicer_path
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.build import build_store
from cube_server.project import open_engine
from cube_server.settings import Settings

EXAMPLES = 92
ANONYMOUS_EXAMPLES = 10
MINIMUM_REQUESTS = 2_000
DELIBERATE_5XX = {503, 504}
# The operations, read from the document of an app without an engine (the document does not depend on one).
OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in create_app().openapi()["paths"].items()
    for method in operations
)
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
WHOLE_LISTINGS = ("csv", "json_lines")

# Real values, drawn in place of a generated one about half the time, so requests get past "unknown cube".
REAL_PATH_VALUES: dict[str, list[str]] = {
    "cube": [CUBE],
    "dimension": ["time", "geography", "organisation", "product", "customer", "channel"],
    "name": ["monthly_revenue", "monthly_segments", "yearly_revenue"],
    "fact_id": ["1", "42", "59999"],
}
REAL_QUERY_VALUES: dict[str, list[str]] = {
    "cut": ["time:2024", "time:2024,1-2024,3", "geography:domestic", "product:data_services|channel:web_portal"],
    "drilldown": ["time:year", "geography:province|product:line", "time@weekly:isoweek", "customer:segment", "time"],
    "measures": ["revenue", "revenue,record_count", "arpu,subscribers", "call_minutes"],
    "order": ["revenue:desc", "time.year", "-revenue"],
    "rows": ["time:year", "geography:province"],
    "columns": ["product:line", "customer:segment"],
    "dimension": ["time", "geography"],
    "level": ["year", "province", "line"],
    "hierarchy": ["default", "weekly"],
    "search": ["guang", "2024"],
    "fields": ["revenue", "time.year,revenue"],
    "format": ["json", "csv", "arrow", "xlsx", "json_lines", "ndjson"],
    "limit": ["1", "10"],
    "offset": ["0", "5"],
    "depth": ["1", "2"],
    "steps": ["1", "2"],
    "calc": ["share = revenue / total(revenue)", "running = cumsum(revenue)"],
    "operation": ["aggregate", "drilldown", "rollup", "pivot", "members", "facts"],
    "totals": ["true", "false"],
    "period": ["2024", "2024-03"],
    "aggregates": ["revenue_sum", "record_count"],
}

REAL_BODY_VALUES: dict[str, list[Any]] = {
    **{name: values for name, values in REAL_QUERY_VALUES.items() if name not in ("calc", "limit", "offset")},
    "calculations": REAL_QUERY_VALUES["calc"],
    "limit": [1, 10],
    "offset": [0, 5],
    "depth": [1, 2],
    "steps": [1, 2],
    "totals": [True, False],
    "explain": [True, False],
    "mode": ["full", "append", "replace"],
}


@pytest.fixture(scope="module")
def served(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The app as served (keys required, a built store, no rate limit) and a reader's key."""
    project = store_project(tmp_path_factory.mktemp("fuzz"), telecom_data)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    configured = Settings(rate_limit_per_minute=0)
    roles = RoleBook(roles_path(configured, project.root)).roles()
    _, key = KeyStore(keys_path(configured, project.root)).create("fuzzer", ["reader"], roles)
    access = AccessControl.from_settings(configured, project.root)
    app = create_app(open_engine(project, configured), project=project, access=access, settings=configured)
    with TestClient(app):
        yield app, key


@pytest.fixture(scope="module")
def schema(served: tuple[Any, str]) -> Any:
    app, _ = served
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def no_server_error(ctx: Any, response: Any, case: Any) -> bool:
    """A 500 is a bug; 503 and 504 are deliberate answers (and declared)."""
    status = response.status_code
    assert status < 500 or status in DELIBERATE_5XX, f"{case.method} {case.path}: {status} {response.text[:500]}"
    return True


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def fuzz(operation: Any, credential: Callable[[Any], dict[str, str]], examples: int) -> int:
    """Send ``examples`` generated requests for ``operation`` and check each answer; the number sent."""
    sent = 0
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        nonlocal sent
        with_real_values(case, data)
        for name in [name for name in (case.headers or {}) if name.lower() in CREDENTIAL_HEADERS]:
            del case.headers[name]
        headers = credential(data)
        response = case.call(headers=headers)
        sent += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    return sent


def with_real_values(case: Any, data: st.DataObject) -> None:
    """Real names in place of generated ones: half the path parameters, a quarter of the query and body fields."""
    for name, values in REAL_PATH_VALUES.items():
        if case.path_parameters and name in case.path_parameters and data.draw(st.booleans()):
            case.path_parameters[name] = data.draw(st.sampled_from(values))
    for name, values in REAL_QUERY_VALUES.items():
        if data.draw(st.integers(0, 3)) == 0:
            case.query = {**(case.query or {}), name: data.draw(st.sampled_from(values))}
    if isinstance(case.body, dict):
        for name, values in REAL_BODY_VALUES.items():
            if data.draw(st.integers(0, 3)) == 0:
                case.body[name] = data.draw(st.sampled_from(values))
    whole = (case.query or {}).get("format") in WHOLE_LISTINGS
    if is_slicer_path(case.path) and (whole or data.draw(st.booleans())):
        # a whole export of the 60,000 facts takes seconds (and a JSON answer holds 1,000); a page shows the shape
        case.query = {**(case.query or {}), "page": data.draw(st.sampled_from(["0", "3"])), "pagesize": "20"}


def key_header(key: str) -> Callable[[Any], dict[str, str]]:
    def credential(data: st.DataObject) -> dict[str, str]:
        if data.draw(st.booleans()):
            return {"X-API-Key": key}
        return {"Authorization": f"Bearer {key}"}

    return credential


def takes_input(document: dict[str, Any], method: str, path: str) -> bool:
    operation = document["paths"][path][method.lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


def floor(examples: int, document: dict[str, Any], method: str, path: str) -> int:
    """The fewest requests an operation must have been sent: one when it takes no input to vary."""
    return examples * 9 // 10 if takes_input(document, method, path) else 1


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_operation_answers_as_declared_with_a_key(
    schema: Any, served: tuple[Any, str], method: str, path: str
) -> None:
    _, key = served
    sent = fuzz(schema[path][method], key_header(key), EXAMPLES)
    assert sent >= floor(EXAMPLES, schema.raw_schema, method, path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_operation_answers_as_declared_without_a_key(schema: Any, method: str, path: str) -> None:
    sent = fuzz(schema[path][method], lambda data: {}, ANONYMOUS_EXAMPLES)
    assert sent >= floor(ANONYMOUS_EXAMPLES, schema.raw_schema, method, path)


def test_the_fuzz_sends_at_least_2000_requests() -> None:
    """The per-operation floors asserted above add up to at least the 2,000 requests the issue asks for."""
    document = create_app().openapi()
    total = sum(floor(EXAMPLES, document, *op) + floor(ANONYMOUS_EXAMPLES, document, *op) for op in OPERATIONS)
    assert total >= MINIMUM_REQUESTS, total


# ---- what the fuzzing found, kept as fixed cases ----------------------------------------------------------------
FOUND = [
    # the request guard's refusals were undeclared: 414 (a long URL), 413 (a large body), in each surface's shape
    ("GET", "/v1/cubes/{cube}/facts", {"cube": CUBE}, {"fields": "x" * 17_000}, None, 414),
    ("GET", "/cube/{cube}/aggregate", {"cube": CUBE}, {"cut": "x" * 17_000}, None, 414),
    ("POST", "/v1/cubes/{cube}/query", {"cube": CUBE}, None, {"cut": ["x" * 19_000] * 60}, 413),
    # /version needs a key like every Slicer route, and its 401 was undeclared
    ("GET", "/version", {}, None, None, 401),
    # the Slicer listings answer CSV and JSON lines, declared as JSON only; POST query answers CSV and Arrow
    ("GET", "/cube/{cube}/facts", {"cube": CUBE}, {"format": "csv", "page": "0", "pagesize": "5"}, None, 200),
    ("GET", "/cube/{cube}/members/{dimension}", {"cube": CUBE, "dimension": "time"}, {"format": "json_lines"}, None,
     200),  # fmt: skip
    ("GET", "/cube/{cube}/aggregate", {"cube": CUBE}, {"drilldown": "time", "format": "csv"}, None, 200),
    ("POST", "/v1/cubes/{cube}/query", {"cube": CUBE}, None, {"drilldown": "time:year", "format": "csv"}, 200),
    ("POST", "/v1/cubes/{cube}/query", {"cube": CUBE}, None, {"drilldown": "time:year", "format": "arrow"}, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "path_parameters", "query", "body", "status"),
    FOUND,
    ids=[f"{method} {path} {status}" for method, path, *_, status in FOUND],
)
def test_what_the_fuzzing_found_is_declared(
    schema: Any,
    served: tuple[Any, str],
    method: str,
    path: str,
    path_parameters: dict[str, str],
    query: dict[str, str] | None,
    body: Any,
    status: int,
) -> None:
    _, key = served
    operation = schema[path][method]
    extra = {} if body is None else {"body": body, "media_type": "application/json"}
    case = operation.Case(path_parameters=path_parameters, query=query, **extra)
    headers = {} if status == 401 else {"X-API-Key": key}
    response = case.call(headers=headers)
    assert response.status_code == status, response.text[:300]
    case.validate_response(response, checks=CHECKS, headers=headers)
