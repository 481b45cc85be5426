"""The client's requests without a server: Python arguments become the ``/v1`` parameters the server parses.

Each cut written by the client is parsed back with the server's own parser, so the two sides agree by
construction; error answers become the typed exceptions.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.client import (
    AnyOf,
    ConflictError,
    CubeClientError,
    ForbiddenError,
    GoneError,
    InvalidQueryError,
    Not,
    NotFoundError,
    NotReadyError,
    QueryTimeoutError,
    Range,
    RateLimitedError,
    ResultTooLargeError,
    ServerError,
)
from api.client.arguments import cut_parameter, drilldown_parameter, order_parameter
from api.client.calls import MAX_QUERY_STRING, Call, CubeOperations
from api.client.errors import error_from_response
from api.operations import cuts_of, drilldown_of, order_of
from cube_server.query import DrilldownItem, OrderItem, PointCut, RangeCut, SetCut


class Recorder(CubeOperations[Call, Call]):
    """The operations, returning the call each would send."""

    def _table(self, call: Call) -> Call:
        return call

    def _json(self, call: Call) -> Call:
        return call


calls = Recorder()


# ---- cuts --------------------------------------------------------------------------------------
def test_a_mapping_of_cuts_parses_back_to_the_cuts_meant() -> None:
    text = cut_parameter(
        {
            "time": [2025, 3],
            "geography": ["international", "asia", None],
            "time@weekly": (2025, 1),
            "product": "a-b,c|d:e;f\\g",
            "day": dt.date(2025, 1, 2),
            "channel": Not(AnyOf("web_portal", ("call_centre_1000",))),
            "customer": Range(None, ["key", "c9"]),
            "organisation": Not(Not(Range("hq"))),
            "segment": {"b", "a", ("c", "d")},
        }
    )
    assert cuts_of(text) == (
        PointCut("time", ("2025", "3")),
        PointCut("geography", ("international", "asia", None)),
        PointCut("time", ("2025", "1"), hierarchy="weekly"),
        PointCut("product", ("a-b,c|d:e;f\\g",)),
        PointCut("day", ("2025-01-02",)),
        SetCut("channel", (("web_portal",), ("call_centre_1000",)), invert=True),
        RangeCut("customer", None, ("key", "c9")),
        RangeCut("organisation", ("hq",), None),
        SetCut("segment", (("a",), ("b",), ("c", "d"))),
    )


member = st.one_of(st.none(), st.integers(), st.text(min_size=1, max_size=8).filter(lambda t: "\x00" not in t))


@given(st.lists(member, min_size=1, max_size=4), st.booleans())
def test_any_member_path_round_trips_through_the_servers_parser(path: list[Any], negate: bool) -> None:
    value = Not(path) if negate else path
    expected = tuple(None if m is None else str(m) for m in path)
    assert cuts_of(cut_parameter({"dim": value})) == (PointCut("dim", expected, invert=negate),)


def test_cut_strings_and_cut_objects_are_sent_as_they_are() -> None:
    assert cut_parameter("time:2025|!channel:web_portal") == "time:2025|!channel:web_portal"
    assert cut_parameter([PointCut("time", ("2025",)), SetCut("channel", (("a",), ("b",)))]) == "time:2025|channel:a;b"
    assert cut_parameter(None) is None and cut_parameter({}) is None


@pytest.mark.parametrize(
    ("cut", "error"),
    [
        ({"time": Range()}, ValueError),
        ({"time": []}, ValueError),
        ({"time": set()}, ValueError),
        ({"time": 2.5}, TypeError),
        ({"time": True}, TypeError),
        ([("time", 2025)], TypeError),
    ],
)
def test_malformed_cut_arguments_fail_before_any_request(cut: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        calls.aggregate("c", cut=cut)


# ---- levels, orders, names -----------------------------------------------------------------------
def test_drilldown_items_parse_back_to_the_levels_meant() -> None:
    params = drilldown_parameter(["time", "customer:segment", ("geography", "province"), ("time", "weekly", "isoweek")])
    assert drilldown_of(params) == (
        DrilldownItem("time"),
        DrilldownItem("customer", None, "segment"),
        DrilldownItem("geography", None, "province"),
        DrilldownItem("time", "weekly", "isoweek"),
    )
    assert drilldown_parameter(("geography", "city")) == ["geography:city"]
    assert drilldown_parameter("time") == ["time"]


def test_order_items_parse_back_to_the_order_meant() -> None:
    assert order_of(order_parameter(["time.month", ("revenue", "desc"), "arpu:asc"])) == (
        OrderItem("time.month"),
        OrderItem("revenue", descending=True),
        OrderItem("arpu"),
    )
    assert order_parameter(("revenue", "desc")) == ["revenue:desc"]
    with pytest.raises(ValueError, match="asc"):
        order_parameter([("revenue", "down")])


# ---- calls ---------------------------------------------------------------------------------------
def test_each_operation_calls_its_route_with_arrow_and_only_the_parameters_given() -> None:
    call = calls.drilldown(
        "sales",
        "geography",
        depth=2,
        cut={"time": 2025},
        measures=["revenue", "record_count"],
        order=[("revenue", "desc")],
        limit=10,
        version="v7",
    )
    assert call.path == "/v1/cubes/sales/drilldown"
    assert call.params == {
        "dimension": "geography",
        "depth": 2,
        "cut": "time:2025",
        "measures": ["revenue", "record_count"],
        "order": ["revenue:desc"],
        "limit": 10,
        "offset": 0,
        "version": "v7",
        "format": "arrow",
    }
    assert calls.rollup("sales", "time", steps=2).params == {
        "dimension": "time",
        "steps": 2,
        "offset": 0,
        "format": "arrow",
    }
    assert (
        calls.members("sales", "geo graphy", level="city", search="北").path == "/v1/cubes/sales/members/geo%20graphy"
    )
    assert calls.facts("sales", fields=["charge_id"]).params["fields"] == ["charge_id"]
    pivot = calls.pivot("sales", rows=[("product", "line")], columns="channel", totals=False)
    assert pivot.params == {"rows": ["product:line"], "columns": ["channel"], "totals": False, "format": "arrow"}
    assert calls.slice("a/b").path == "/v1/cubes/a%2Fb/slice"
    assert calls.cubes().path == "/v1/cubes" and calls.model("sales").path == "/v1/cubes/sales"


def test_calculations_pass_through_as_calc_parameters() -> None:
    names = ["share_of_total(revenue)", "growth(revenue, time, 1)"]
    assert calls.aggregate("sales", calculations=names).params["calc"] == names
    assert calls.explain("sales", "drilldown", dimension="time", calculations=names).params["calc"] == names
    assert "calc" not in calls.aggregate("sales").params
    long_cut = {"geography": AnyOf(*[f"province_{i}" for i in range(800)])}
    method, _, _, body = calls.drilldown("sales", "time", cut=long_cut, calculations=names).as_request()
    assert method == "POST" and body is not None and body["calculations"] == names and "calc" not in body


def test_explain_takes_the_operations_python_arguments() -> None:
    call = calls.explain("sales", "aggregate", cut={"time": [2025, 1]}, drilldown=[("product", "line")], limit=5)
    assert call.path == "/v1/cubes/sales/explain"
    assert call.params == {"operation": "aggregate", "cut": "time:2025,1", "drilldown": ["product:line"], "limit": 5}


def test_a_long_query_goes_as_a_json_body_with_the_same_parameters() -> None:
    short = calls.members("sales", "geography", cut={"geography": AnyOf("a", "b")})
    assert short.as_request()[0] == "GET"
    many = AnyOf(*[("domestic", f"province_{i}") for i in range(400)])
    long_call = calls.members("sales", "geography", level="province", cut={"geography": many})
    method, path, params, body = long_call.as_request()
    assert (method, path, params) == ("POST", "/v1/cubes/sales/query", None)
    assert body is not None and len(body["cut"]) > MAX_QUERY_STRING
    assert body == {"operation": "members", "dimension": "geography", **long_call.params}
    assert cuts_of(body["cut"])[0].paths[399] == ("domestic", "province_399")


# ---- error answers -------------------------------------------------------------------------------
def envelope(code: str, status: int) -> tuple[int, bytes]:
    body = {"error": {"code": code, "message": f"{code} happened", "details": {"x": 1}, "request_id": "r1"}}
    return status, json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "invalid_cut", InvalidQueryError),
        (400, "unknown_level", InvalidQueryError),
        (400, "result_too_large", ResultTooLargeError),
        (403, "forbidden", ForbiddenError),
        (404, "cube_not_found", NotFoundError),
        (409, "build_in_progress", ConflictError),
        (410, "version_unavailable", GoneError),
        (413, "body_too_large", InvalidQueryError),
        (414, "url_too_long", InvalidQueryError),
        (429, "rate_limited", RateLimitedError),
        (500, "internal_error", ServerError),
        (503, "not_ready", NotReadyError),
        (504, "query_timeout", QueryTimeoutError),
        (502, "http_error", ServerError),
        (418, "teapot", CubeClientError),
    ],
)
def test_envelopes_become_typed_exceptions(status: int, code: str, expected: type[CubeClientError]) -> None:
    error = error_from_response(*envelope(code, status), httpx.Headers({"Retry-After": "7"}))
    assert type(error) is expected
    assert (error.status, error.code, error.message, error.details, error.request_id) == (
        status,
        code,
        f"{code} happened",
        {"x": 1},
        "r1",
    )
    assert str(error) == f"HTTP {status} {code}: {code} happened"
    if expected is RateLimitedError:
        assert error.retry_after == 7.0  # type: ignore[attr-defined]


def test_an_answer_that_is_not_an_envelope_keeps_its_status() -> None:
    error = error_from_response(502, b"<html>Bad gateway</html>", httpx.Headers({"X-Request-ID": "p1"}))
    assert isinstance(error, ServerError) and error.code == "http_error" and error.status == 502
    assert "Bad gateway" in error.message and error.request_id == "p1"
