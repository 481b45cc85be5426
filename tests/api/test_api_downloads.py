"""Downloads: RFC 4180 CSV with awkward text, typed Arrow IPC streams, file names, and streamed row pages.

A small shop cube holds the awkward values (commas, quotes, line breaks, non-ASCII labels, a date key,
a timestamp and a decimal); the telecom session data gives pages large enough to stream in batches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from decimal import Decimal
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import CUBE, assert_error
from fastapi.testclient import TestClient

from api.app import create_app
from api.encoding import content_disposition, download_name
from cube_server.backend import DuckDBBackend, compile_statement
from cube_server.engine import CubeEngine
from cube_server.errors import QueryTimeoutError
from cube_server.project import load_project, open_engine
from cube_server.query import FactsQuery, MembersQuery
from cube_server.settings import Settings

ARROW = "application/vnd.apache.arrow.stream"
SHOP = "/v1/cubes/shop_sales"
LABELS = ["Widget, large", 'The "quoted" one', "Two\nlines", "北京烤鸭 — ünïcode"]
SHOP_MODEL = {
    "name": "shop",
    "dimensions": [
        {
            "name": "product",
            "levels": [
                {"name": "product", "attributes": ["product", "product_label"], "label_attribute": "product_label"}
            ],
        },
        {"name": "day", "role": "time", "levels": [{"name": "day"}]},
    ],
    "cubes": [
        {
            "name": "shop_sales",
            "fact": "sales",
            "key": "order_id",
            "dimensions": ["product", "day"],
            "measures": [{"name": "amount"}],
            "aggregates": [
                {"name": "amount_sum", "function": "sum", "measure": "amount"},
                {"name": "record_count", "function": "count"},
            ],
            "details": ["shipped_at", "note"],
            "mappings": {
                "product.product": "product_code",
                "product.product_label": "product_label",
                "day.day": "sold_on",
            },
        }
    ],
}


def write_shop(directory: Path) -> Path:
    (directory / "data").mkdir(parents=True)
    facts = pa.table(
        {
            "order_id": pa.array([1, 2, 3, 4], pa.int64()),
            "product_code": ["w,1", 'q"2', "n\n3", "bj"],
            "product_label": LABELS,
            "sold_on": pa.array([dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 2), None], pa.date32()),
            "shipped_at": pa.array(
                [dt.datetime(2025, 1, 1, 10, 30), None, dt.datetime(2025, 1, 3, 8, 0, 5), dt.datetime(2025, 1, 4)],
                pa.timestamp("us"),
            ),
            "amount": pa.array([Decimal("10.50"), Decimal("3.00"), None, Decimal("7.25")], pa.decimal128(10, 2)),
            "note": ["a,b", 'say "hi"', "x\r\ny", None],
        }
    )
    pq.write_table(facts, directory / "data" / "sales.parquet")
    (directory / "model.json").write_text(json.dumps(SHOP_MODEL), encoding="utf-8")
    (directory / "cube-server.toml").write_text(
        'model = "model.json"\n[data]\nroot = "data"\n[tables]\nsales = "sales.parquet"\n', encoding="utf-8"
    )
    return directory


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    project = load_project(write_shop(tmp_path_factory.mktemp("shop")))
    return TestClient(create_app(open_engine(project, Settings())))


def as_json(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def as_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def as_arrow(response: Any) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return ipc.open_stream(response.content).read_all()


def text(value: Any) -> str:
    """A JSON value as CSV writes it: exact decimal digits, empty for NULL."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def json_value(value: Any) -> Any:
    """An Arrow value as the JSON answer writes it (dates and timestamps as ISO text)."""
    return str(value) if isinstance(value, (dt.date, dt.datetime)) else value


# ---- CSV: RFC 4180 quoting of awkward text -------------------------------------------------------
def test_members_csv_quotes_commas_quotes_line_breaks_and_keeps_unicode(shop: TestClient) -> None:
    body = as_json(shop.get(f"{SHOP}/members/product"))
    response = shop.get(f"{SHOP}/members/product", params={"format": "csv"})
    rows = as_csv(response)
    assert rows[0] == body["columns"] == ["product.product", "product.product.label"]
    assert rows[1:] == [[text(row[name]) for name in body["columns"]] for row in body["rows"]]
    assert sorted(row[1] for row in rows[1:]) == sorted(LABELS)
    raw = response.content.decode("utf-8")
    assert '"Widget, large"' in raw and '"The ""quoted"" one"' in raw and '"Two\nlines"' in raw
    assert "北京烤鸭 — ünïcode" in raw  # UTF-8, not escaped
    assert raw.endswith("\r\n") and raw.count("\r\n") == 5, "one CRLF per record; the embedded LF is data"


def test_facts_csv_round_trips_every_value_in_the_results_column_order(shop: TestClient) -> None:
    params = {"order": "order_id"}
    body = as_json(shop.get(f"{SHOP}/facts", params=params))
    rows = as_csv(shop.get(f"{SHOP}/facts", params={**params, "format": "csv"}))
    assert rows[0] == body["columns"]
    assert body["columns"] == [
        "order_id",
        "product.product",
        "product.product_label",
        "day.day",
        "amount",
        "shipped_at",
        "note",
    ]
    assert rows[1:] == [[text(row[name]) for name in body["columns"]] for row in body["rows"]]
    notes = [row[-1] for row in rows[1:]]
    assert notes == ["a,b", 'say "hi"', "x\r\ny", ""], "a CRLF inside a field survives quoting"
    assert [row[4] for row in rows[1:]] == ["10.50", "3.00", "", "7.25"], "decimals keep their digits"


def test_aggregate_csv_columns_follow_the_drilldown_then_the_requested_measures(shop: TestClient) -> None:
    params = {"drilldown": "product", "measures": "record_count,amount_sum", "order": "product.product"}
    body = as_json(shop.get(f"{SHOP}/aggregate", params=params))
    rows = as_csv(shop.get(f"{SHOP}/aggregate", params={**params, "format": "csv"}))
    assert rows[0] == ["product.product", "product.product.label", "record_count", "amount_sum"]
    assert rows[1:] == [[text(cell[name]) for name in rows[0]] for cell in body["cells"]]


# ---- Arrow: typed columns ----------------------------------------------------------------------
def test_facts_arrow_types_dates_timestamps_and_decimals(shop: TestClient) -> None:
    params = {"order": "order_id"}
    body = as_json(shop.get(f"{SHOP}/facts", params=params))
    table = as_arrow(shop.get(f"{SHOP}/facts", params={**params, "format": "arrow"}))
    schema = table.schema
    assert schema.names == body["columns"]
    assert schema.field("order_id").type == pa.int64()
    assert schema.field("day.day").type == pa.date32()
    assert pa.types.is_timestamp(schema.field("shipped_at").type)
    assert schema.field("amount").type == pa.decimal128(10, 2)
    assert table.column("shipped_at").to_pylist()[0] == dt.datetime(2025, 1, 1, 10, 30)
    assert [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()] == body["rows"]


def test_aggregate_arrow_by_day_keeps_the_date_type(shop: TestClient) -> None:
    params = {"drilldown": "day", "measures": "amount_sum,record_count"}
    body = as_json(shop.get(f"{SHOP}/aggregate", params=params))
    table = as_arrow(shop.get(f"{SHOP}/aggregate", params={**params, "format": "arrow"}))
    assert table.schema.field("day.day").type == pa.date32()
    assert pa.types.is_decimal128(table.schema.field("amount_sum").type)
    assert [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()] == body["cells"]
    assert table.column("day.day").to_pylist() == [dt.date(2025, 1, 1), dt.date(2025, 1, 2), None]


def test_an_empty_page_is_a_header_only_csv_and_a_schema_only_arrow_stream(shop: TestClient) -> None:
    params = {"cut": "product:nothing"}
    rows = as_csv(shop.get(f"{SHOP}/facts", params={**params, "format": "csv"}))
    assert rows == [as_json(shop.get(f"{SHOP}/facts", params=params))["columns"]]
    table = as_arrow(shop.get(f"{SHOP}/facts", params={**params, "format": "arrow"}))
    assert table.num_rows == 0 and table.schema.field("day.day").type == pa.date32()


# ---- file names ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params", "filename"),
    [
        ("aggregate", {"format": "csv"}, "shop_sales-aggregate.csv"),
        ("drilldown", {"dimension": "product", "format": "csv"}, "shop_sales-drilldown.csv"),
        ("rollup", {"dimension": "product", "drilldown": "product", "format": "arrow"}, "shop_sales-rollup.arrows"),
        ("slice", {"cut": "product:bj", "format": "csv"}, "shop_sales-slice.csv"),
        ("pivot", {"rows": "product", "columns": "day", "format": "csv"}, "shop_sales-pivot.csv"),
        ("members/product", {"format": "arrow"}, "shop_sales-members-product.arrows"),
        ("facts", {"format": "csv"}, "shop_sales-facts.csv"),
    ],
)
def test_downloads_are_attachments_named_after_cube_and_operation(
    shop: TestClient, path: str, params: dict[str, str], filename: str
) -> None:
    response = shop.get(f"{SHOP}/{path}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_post_query_names_the_download_after_its_operation(shop: TestClient) -> None:
    response = shop.post(f"{SHOP}/query", json={"operation": "drilldown", "dimension": "product", "format": "csv"})
    assert response.headers["Content-Disposition"] == 'attachment; filename="shop_sales-drilldown.csv"'


def test_json_answers_are_not_attachments(shop: TestClient) -> None:
    assert "Content-Disposition" not in shop.get(f"{SHOP}/facts").headers


def test_non_ascii_names_get_an_ascii_fallback_and_an_rfc5987_filename() -> None:
    header = content_disposition(download_name("ventes_été", "members", "北京"), "csv")
    assert header.isascii()
    assert header.endswith("; filename*=UTF-8''ventes_%C3%A9t%C3%A9-members-%E5%8C%97%E4%BA%AC.csv")
    message = Message()  # a mail parser reads the same RFC 2231/5987 parameters a browser does
    message["Content-Disposition"] = header
    assert message.get_content_disposition() == "attachment"
    names = [
        collapse_rfc2231_value(value)
        for key, value in message.get_params(header="Content-Disposition")
        if key == "filename"
    ]
    assert names == ["ventes_ete-members.csv", "ventes_été-members-北京.csv"]


@pytest.mark.parametrize("part", ['a"b', "x\r\nSet-Cookie: y", "../../etc/passwd", "a;b", "\\\\share\\f", "  ", ""])
def test_download_names_cannot_break_the_header_or_name_a_path(part: str) -> None:
    name = download_name("cube", part)
    assert all(ch.isalnum() or ch in "._-" for ch in name), name
    assert not name.startswith(".") and "/" not in name
    header = content_disposition(name, "csv")
    assert "\r" not in header and "\n" not in header and header.count('"') == 2


# ---- streaming ----------------------------------------------------------------------------------
def test_engine_streams_a_facts_page_in_record_batches(engine: CubeEngine) -> None:
    query = FactsQuery(CUBE, fields=("charge_id", "time.year", "geography.city", "revenue"), limit=4_500)
    stream = engine.stream_facts(query, batch_rows=1_000)
    assert stream.schema.names == list(query.fields)
    assert [column.name for column in stream.columns] == list(query.fields)
    assert stream.total_count == 60_000 and stream.meta.cube == CUBE and stream.meta.source == "facts"
    batches = list(stream.batches)
    assert [batch.num_rows for batch in batches] == [1_000, 1_000, 1_000, 1_000, 500]
    assert pa.Table.from_batches(batches, stream.schema).to_pylist() == engine.facts(query).rows


def test_engine_streams_members_like_it_pages_them(engine: CubeEngine) -> None:
    query = MembersQuery(CUBE, "geography", level="city", limit=50)
    stream = engine.stream_members(query, batch_rows=16)
    batches = list(stream.batches)
    assert len(batches) > 1 and all(batch.num_rows <= 16 for batch in batches)
    expected = engine.members(query)
    assert pa.Table.from_batches(batches, stream.schema).to_pylist() == expected.rows
    assert stream.total_count == expected.total_count and stream.meta.extra["level"] == "city"


@pytest.mark.parametrize("fmt", ["csv", "arrow"])
def test_facts_downloads_are_streamed_chunked_and_match_json(client: TestClient, fmt: str) -> None:
    params = {"order": "charge_id:desc", "limit": 3_000, "cut": "time:2025"}
    body = as_json(client.get(f"/v1/cubes/{CUBE}/facts", params=params))
    response = client.get(f"/v1/cubes/{CUBE}/facts", params={**params, "format": fmt})
    assert "content-length" not in response.headers, "a streamed body has no length up front"
    assert int(response.headers["X-Cube-Total-Count"]) == body["total_count"]
    assert json.loads(response.headers["X-Cube-Meta"])["version"] == body["meta"]["version"]
    if fmt == "arrow":
        table = as_arrow(response)
        assert table.schema.names == body["columns"]
        assert table.to_pylist() == body["rows"]
    else:
        rows = as_csv(response)
        assert rows[0] == body["columns"]
        assert rows[1:] == [[text(row[name]) for name in body["columns"]] for row in body["rows"]]


@pytest.mark.parametrize("fmt", ["csv", "arrow"])
def test_a_bad_streamed_query_is_an_error_envelope_not_a_broken_stream(client: TestClient, fmt: str) -> None:
    response = client.get(f"/v1/cubes/{CUBE}/facts", params={"fields": "charge_id,nope", "format": fmt})
    assert_error(response, 400, "unknown_attribute")
    response = client.get(f"/v1/cubes/{CUBE}/members/nope", params={"format": fmt})
    assert_error(response, 400, "unknown_dimension")


def test_backend_stream_is_interrupted_at_the_deadline() -> None:
    backend = DuckDBBackend([], Settings())
    numbers = sa.select(sa.column("range").label("n")).select_from(sa.func.range(10**10))
    stream = backend.stream(compile_statement(numbers), time.monotonic() + 0.3, 1_000)
    batches = iter(stream)
    assert next(batches).num_rows == 1_000
    time.sleep(0.6)
    with pytest.raises(QueryTimeoutError):
        for count, _ in enumerate(batches):
            assert count < 1_000, "the stream outlived its deadline"
    ordered = sa.select(sa.column("range").label("n")).select_from(sa.func.range(3))
    again = backend.stream(compile_statement(ordered), time.monotonic() + 10, 1_000)
    assert [batch.column(0).to_pylist() for batch in again] == [[0, 1, 2]], "the backend serves the next query"
    backend.close()


def test_a_deadline_already_passed_never_starts_the_stream() -> None:
    backend = DuckDBBackend([], Settings())
    with pytest.raises(QueryTimeoutError):
        backend.stream(compile_statement(sa.select(sa.literal(1))), time.monotonic() - 1, 10)
    backend.close()
