"""Report definitions: validation with messages that name the report and query, periods, placeholders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cube_models.errors import NotFoundError
from cube_server.errors import InvalidParameterError, ReportError
from cube_server.query import PointCut, RangeCut
from cube_server.reports import Period, build_query, find_report, load_reports, parse_period, report_from_dict

EXAMPLE_REPORTS = Path(__file__).resolve().parents[2] / "examples" / "telecom" / "reports"


def _report(**changes: Any) -> dict[str, Any]:
    query = {"name": "by_province", "cut": "time:{period}", "drilldown": "geography:province", "measures": ["revenue"]}
    raw: dict[str, Any] = {"title": "T", "cube": "fixed_line_revenue", "period": "month", "queries": [query]}
    raw.update(changes)
    return raw


def test_periods() -> None:
    assert parse_period("2025-06") == Period(2025, 6)
    assert parse_period(" 2024 ") == Period(2024)
    assert Period(2025, 6).placeholders() == {"year": "2025", "period": "2025,2,6", "month": "6", "quarter": "2"}
    assert Period(2025).placeholders() == {"year": "2025", "period": "2025"}
    for bad in ("2025-13", "2025-00", "25", "2025/06", "june", "2025-06-01", "'; drop table x; --"):
        with pytest.raises(InvalidParameterError):
            parse_period(bad)


def test_placeholders_fill_the_cut() -> None:
    report = report_from_dict("monthly", _report())
    query = build_query(report, report.queries[0], Period(2025, 6), None)
    assert query.cuts == (PointCut("time", ("2025", "2", "6")),)
    ranged = report_from_dict(
        "ytd", _report(queries=[{"name": "q", "cut": "time:{year},1,1-{year},{quarter},{month}"}])
    )
    assert build_query(ranged, ranged.queries[0], Period(2025, 3), "v1").cuts == (
        RangeCut("time", ("2025", "1", "1"), ("2025", "1", "3")),
    )
    assert build_query(ranged, ranged.queries[0], Period(2025, 3), "v1").version == "v1"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"period": "week"}, "period is one of month, year"),
        ({"queries": []}, "queries is a list of 1 to"),
        ({"queries": [{"name": "a"}, {"name": "a"}]}, "query names repeat: a"),
        ({"queries": [{"name": "bad name"}]}, "a query name is a letter"),
        ({"queries": [{"name": "x" * 32}]}, "a query name is a letter"),
        ({"queries": [{"name": "a", "cut": "time:{day}"}]}, "unknown placeholder {day}"),
        ({"queries": [{"name": "a", "limit": 0}]}, "limit is a positive integer"),
        ({"queries": [{"name": "a", "measures": [1]}]}, "measures is a string or a list of strings"),
        ({"queries": [{"name": "a", "sql": "select 1"}]}, "unknown keys 'sql'"),
        ({"colour": "red"}, "unknown keys 'colour'"),
        ({"cube": ""}, "cube is a non-empty string"),
    ],
)
def test_bad_definitions_name_report_and_query(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ReportError) as raised:
        report_from_dict("monthly", _report(**changes))
    assert fragment in raised.value.message
    assert "report 'monthly'" in raised.value.message


def test_bad_report_names_and_files(tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        report_from_dict("../etc", _report())
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="broken.json: not JSON"):
        load_reports(tmp_path)
    assert load_reports(tmp_path / "absent") == {}
    assert load_reports(None) == {}


def test_find_report_lists_known_names(tmp_path: Path) -> None:
    (tmp_path / "monthly.json").write_text(json.dumps(_report()), encoding="utf-8")
    reports = load_reports(tmp_path)
    assert find_report(reports, "monthly").title == "T"
    with pytest.raises(NotFoundError, match="reports: monthly"):
        find_report(reports, "yearly")


def test_the_telecom_reports_load() -> None:
    reports = load_reports(EXAMPLE_REPORTS)
    assert len(reports) >= 3
    assert {report.period for report in reports.values()} == {"month", "year"}
    for report in reports.values():
        assert report.cube == "fixed_line_revenue"
        assert report.title and report.description
