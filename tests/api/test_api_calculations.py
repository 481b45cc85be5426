"""Analyst calculations over HTTP: ``calc=`` on the cell operations, ``calculations`` in the POST body,
their columns in JSON (exact decimals), CSV and Arrow, explain's lookups, and 400s in the envelope.

The numbers themselves are checked against SQL in ``tests/cube_server/test_calculations.py``; here every
answer is compared digit for digit with what :class:`CubeEngine` returns for the same query.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from conftest import CUBE, assert_error
from fastapi.testclient import TestClient

from cube_server.calculations import parse_calculations
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import OrderItem, Query

BASE = f"/v1/cubes/{CUBE}"
CUT = "time:2025,1"
DRILLDOWN = "time:month|product:line"
CALCULATIONS = "growth(revenue, previous)|ytd(revenue)|share(revenue, parent)|rank(revenue)|moving_avg(revenue, 3)"
NAMES = [
    "revenue__growth_previous",
    "revenue__ytd",
    "revenue__share_parent",
    "revenue__rank",
    "revenue__moving_avg_3",
]


def decoded(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def exact(value: Any) -> Any:
    """Decimals as their digits (Decimal('1.0') == Decimal('1.00') would hide a lost scale)."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [exact(item) for item in value]
    return value


def engine_answer(engine: CubeEngine, calculations: str = CALCULATIONS, **extra: Any) -> Any:
    query = Query(
        CUBE,
        parse_cuts(CUT),
        parse_drilldown(DRILLDOWN),
        ("revenue",),
        calculations=parse_calculations(calculations),
        **extra,
    )
    return engine.aggregate(query)


def test_aggregate_with_calc_answers_the_engines_cells_exactly(client: TestClient, engine: CubeEngine) -> None:
    params = {"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calc": CALCULATIONS}
    body = decoded(client.get(f"{BASE}/aggregate", params=params))
    expected = engine_answer(engine)
    assert exact(body["cells"]) == exact(expected.cells)
    assert exact(body["summary"]) == exact(expected.summary) == exact({"revenue": body["summary"]["revenue"]})
    assert body["measures"] == ["revenue"] and body["total_cell_count"] == len(body["cells"]) > 0
    assert body["meta"]["calculations"] == NAMES
    assert body["meta"]["lookups"] == {"reference:time": "facts", "parent:product": "facts"}
    growth = [cell["revenue__growth_previous"] for cell in body["cells"]]
    assert all(isinstance(g, Decimal) and -g.as_tuple().exponent == 6 for g in growth if g is not None)


def test_calc_may_be_repeated_or_pipe_separated_and_posted(client: TestClient) -> None:
    params = {"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue"}
    joined = decoded(client.get(f"{BASE}/aggregate", params={**params, "calc": CALCULATIONS}))
    repeated = decoded(client.get(f"{BASE}/aggregate", params={**params, "calc": CALCULATIONS.split("|")}))
    posted = decoded(
        client.post(
            f"{BASE}/query",
            json={"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calculations": CALCULATIONS.split("|")},
        )
    )
    for body in (repeated, posted):
        assert exact(body["cells"]) == exact(joined["cells"])
        assert body["meta"]["calculations"] == joined["meta"]["calculations"]


def test_drilldown_and_slice_carry_calculations(client: TestClient, engine: CubeEngine) -> None:
    drilled = decoded(
        client.get(
            f"{BASE}/drilldown",
            params={
                "cut": "time:2025",
                "dimension": "time",
                "measures": "revenue",
                "calc": "growth(revenue, last_year)",
            },
        )
    )
    quarters = engine.aggregate(
        Query(CUBE, parse_cuts("time:2025"), parse_drilldown("time:quarter"), ("revenue",),
              calculations=parse_calculations("growth(revenue, last_year)"))
    )  # fmt: skip
    assert exact(drilled["cells"]) == exact(quarters.cells) and len(drilled["cells"]) == 4
    sliced = decoded(
        client.get(
            f"{BASE}/slice",
            params={"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calc": "top(1, revenue)"},
        )
    )
    assert {cell["revenue__top_1"] for cell in sliced["cells"]} == {1}
    assert len(sliced["cells"]) == 3  # one line per month


def test_order_and_page_apply_after_the_calculations(client: TestClient, engine: CubeEngine) -> None:
    params = {
        "cut": CUT,
        "drilldown": DRILLDOWN,
        "measures": "revenue",
        "calc": CALCULATIONS,
        "order": "revenue__share_parent:desc",
        "limit": 2,
        "offset": 1,
    }
    body = decoded(client.get(f"{BASE}/aggregate", params=params))
    expected = engine_answer(engine, order=(OrderItem("revenue__share_parent", descending=True),))
    assert exact(body["cells"]) == exact(expected.cells[1:3])
    assert body["total_cell_count"] == len(expected.cells)


def test_csv_has_the_calculation_columns_after_the_measures(client: TestClient, engine: CubeEngine) -> None:
    params = {"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calc": CALCULATIONS, "format": "csv"}
    response = client.get(f"{BASE}/aggregate", params=params)
    assert response.status_code == 200, response.text
    reader = csv.reader(io.StringIO(response.text, newline=""))
    header = next(reader)
    assert header == [
        "time.year",
        "time.quarter",
        "time.month",
        "product.line",
        "product.line.label",
        "revenue",
        *NAMES,
    ]
    lines = list(reader)
    cells = engine_answer(engine).cells
    assert len(lines) == len(cells)
    for line, cell in zip(lines, cells, strict=True):
        assert line[-5:] == ["" if cell[name] is None else (format(cell[name], "f")) for name in NAMES[:3]] + [
            str(cell["revenue__rank"]),
            format(cell["revenue__moving_avg_3"], "f"),
        ]


def test_arrow_types_calculation_columns(client: TestClient, engine: CubeEngine) -> None:
    params = {"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calc": CALCULATIONS, "format": "arrow"}
    response = client.get(f"{BASE}/aggregate", params=params)
    assert response.status_code == 200, response.text
    table = ipc.open_stream(response.content).read_all()
    assert table.schema.field("revenue__growth_previous").type == pa.decimal128(38, 6)
    assert table.schema.field("revenue__ytd").type == pa.decimal128(38, 2)
    assert table.schema.field("revenue__rank").type == pa.int64()
    assert table.to_pylist() == engine_answer(engine).cells


def test_explain_lists_the_lookups(client: TestClient) -> None:
    params = {"cut": CUT, "drilldown": DRILLDOWN, "measures": "revenue", "calc": CALCULATIONS}
    body = decoded(client.get(f"{BASE}/explain", params=params))
    names = [statement["name"] for statement in body["statements"]]
    assert "reference:time" in names and "parent:product" in names
    posted = decoded(
        client.post(
            f"{BASE}/query",
            json={"explain": True, "cut": CUT, "drilldown": DRILLDOWN, "calculations": "share(revenue, parent)"},
        )
    )
    assert "parent:product" in [statement["name"] for statement in posted["statements"]]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"drilldown": "product:line", "calc": "growth(revenue, previous)"}, "invalid_calculation"),
        ({"drilldown": "time:month", "calc": "growth(revenue)"}, "invalid_calculation"),
        ({"drilldown": "time:month", "calc": "ytd(subscribers)"}, "invalid_calculation"),
        ({"calc": "share(revenue, total)"}, "invalid_calculation"),
        ({"drilldown": "time:month", "calc": "ytd(profit)"}, "unknown_measure"),
        ({"drilldown": "time:month", "calc": "rank(revenue, nowhere)"}, "unknown_dimension"),
        ({"drilldown": "time:month", "calc": "ytd(revenue)", "order": "nothing"}, "invalid_parameter"),
    ],
)
def test_bad_calculations_are_400_in_the_envelope(client: TestClient, params: dict[str, str], code: str) -> None:
    error = assert_error(client.get(f"{BASE}/aggregate", params=params), 400, code)
    if code == "invalid_calculation":
        assert "calculation" in error["details"]


def test_calculations_on_other_operations_are_refused(client: TestClient) -> None:
    response = client.post(
        f"{BASE}/query", json={"operation": "pivot", "rows": "product:line", "calculations": "rank(revenue)"}
    )
    assert_error(response, 400, "invalid_parameter")


def test_openapi_documents_calc_and_the_error_code(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    parameters = {p["name"] for p in document["paths"]["/v1/cubes/{cube}/aggregate"]["get"]["parameters"]}
    assert "calc" in parameters
    assert "invalid_calculation" in json.dumps(document["paths"]["/v1/cubes/{cube}/aggregate"]["get"]["responses"])
