"""Named reports: several cell queries a finance team runs for a month or a year, read from JSON files.

A report file (``reports/<name>.json`` in a project)::

    {"title": "Monthly revenue by province", "cube": "fixed_line_revenue", "period": "month",
     "queries": [{"name": "by_province", "title": "Revenue by province",
                  "cut": "time:{period}", "drilldown": "geography:province",
                  "measures": ["revenue"], "calculations": ["growth(revenue, previous)"],
                  "order": "revenue:desc"}]}

``period`` is what the report is run for: ``month`` (``2025-06``) or ``year`` (``2025``). Cut strings may
name the period with ``{year}``, ``{quarter}``, ``{month}`` and ``{period}``, the period's path in a
year → quarter → month hierarchy (``2025,2,6`` or ``2025``). Every query of one run reads the same store
version, so the sheets of a report agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cube_server.calculations.syntax import parse_calculations
from cube_server.cut_syntax import parse_cuts, parse_drilldown, parse_order
from cube_server.errors import InvalidParameterError, NotFoundError, ReportError
from cube_server.query import Query
from cube_server.result import CellSet

PERIOD_KINDS = ("month", "year")
MAX_REPORT_BYTES = 1_000_000
MAX_QUERIES = 50
# Excel caps sheet names at 31 characters and forbids a few; report and query names become file and sheet names.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{1,2}))?$")
QUERY_KEYS = {"name", "title", "cut", "drilldown", "measures", "calculations", "order", "limit"}
REPORT_KEYS = {"title", "description", "cube", "period", "queries"}


@dataclass(frozen=True, slots=True)
class Period:
    """What a report is run for: a year, or a month of a year."""

    year: int
    month: int | None = None

    @property
    def kind(self) -> str:
        return "year" if self.month is None else "month"

    @property
    def label(self) -> str:
        return str(self.year) if self.month is None else f"{self.year}-{self.month:02d}"

    def placeholders(self) -> dict[str, str]:
        values = {"year": str(self.year), "period": str(self.year)}
        if self.month is not None:
            values |= {"month": str(self.month), "quarter": str((self.month - 1) // 3 + 1)}
            values["period"] = f"{self.year},{values['quarter']},{self.month}"
        return values


def parse_period(text: str) -> Period:
    """``2025`` or ``2025-06``.

    >>> parse_period("2025-06")
    Period(year=2025, month=6)
    >>> parse_period("2025").label
    '2025'
    """
    match = _PERIOD.match(text.strip())
    if not match:
        raise InvalidParameterError(
            f"a period is a year (2025) or a month (2025-06), not {text[:40]!r}", period=text[:40]
        )
    year, month = int(match.group(1)), match.group(2)
    if month is not None and not 1 <= int(month) <= 12:
        raise InvalidParameterError(f"no month {month} in {text!r}", period=text)
    return Period(year, int(month) if month is not None else None)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    name: str
    title: str
    cut: tuple[str, ...]
    drilldown: tuple[str, ...]
    measures: tuple[str, ...]
    calculations: tuple[str, ...]
    order: tuple[str, ...]
    limit: int | None


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: str
    description: str
    cube: str
    period: str
    queries: tuple[ReportQuery, ...]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "cube": self.cube,
            "period": self.period,
            "queries": [{"name": query.name, "title": query.title} for query in self.queries],
        }


@dataclass(frozen=True, slots=True)
class Sheet:
    query: ReportQuery
    cells: CellSet


@dataclass(frozen=True, slots=True)
class ReportRun:
    report: Report
    period: Period
    version: str
    sheets: tuple[Sheet, ...]


def load_reports(directory: Path | None) -> dict[str, Report]:
    """Every ``*.json`` report of a directory, by name (the file's stem); none when it does not exist."""
    if directory is None or not directory.is_dir():
        return {}
    reports = {}
    for path in sorted(directory.glob("*.json")):
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(f"{path.name}: a report file is at most {MAX_REPORT_BYTES:,} bytes", report=path.stem)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReportError(f"{path.name}: not JSON: {exc}", report=path.stem) from exc
        reports[path.stem] = report_from_dict(path.stem, raw)
    return reports


def report_from_dict(name: str, raw: Any) -> Report:
    """Validate a report definition; every complaint names the report (and the query)."""
    where = f"report {name!r}"
    if not _NAME.match(name):
        raise ReportError(f"{where}: a report name is a letter then up to 30 letters, digits or _", report=name)
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: a report is a JSON object", report=name)
    _no_unknown_keys(raw, REPORT_KEYS, where, name)
    cube = _text(raw, "cube", where, name, required=True)
    period = _text(raw, "period", where, name, required=True)
    if period not in PERIOD_KINDS:
        raise ReportError(f"{where}: period is one of {', '.join(PERIOD_KINDS)}, not {period!r}", report=name)
    queries_raw = raw.get("queries")
    if not isinstance(queries_raw, list) or not 1 <= len(queries_raw) <= MAX_QUERIES:
        raise ReportError(f"{where}: queries is a list of 1 to {MAX_QUERIES} queries", report=name)
    queries = tuple(_query(item, f"{where}, query {index + 1}", name) for index, item in enumerate(queries_raw))
    names = [query.name for query in queries]
    duplicates = sorted({item for item in names if names.count(item) > 1})
    if duplicates:
        raise ReportError(f"{where}: query names repeat: {', '.join(duplicates)}", report=name)
    return Report(
        name,
        _text(raw, "title", where, name) or name,
        _text(raw, "description", where, name),
        cube,
        period,
        queries,
    )


def _query(raw: Any, where: str, report: str) -> ReportQuery:
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: a query is a JSON object", report=report)
    _no_unknown_keys(raw, QUERY_KEYS, where, report)
    name = _text(raw, "name", where, report, required=True)
    if not _NAME.match(name):
        raise ReportError(f"{where}: a query name is a letter then up to 30 letters, digits or _", report=report)
    limit = raw.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ReportError(f"{where}: limit is a positive integer", report=report)
    query = ReportQuery(
        name,
        _text(raw, "title", where, report) or name,
        _strings(raw, "cut", where, report),
        _strings(raw, "drilldown", where, report),
        _strings(raw, "measures", where, report),
        _strings(raw, "calculations", where, report),
        _strings(raw, "order", where, report),
        limit,
    )
    for text in query.cut:  # placeholders are checked now, with a sample period of the report's kind
        _fill(text, Period(2000, 1), where, report)
    for text in query.drilldown:
        parse_drilldown(text)
    return query


def _no_unknown_keys(raw: dict[str, Any], known: set[str], where: str, report: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ReportError(f"{where}: unknown keys {', '.join(map(repr, unknown))}", report=report)


def _text(raw: dict[str, Any], key: str, where: str, report: str, required: bool = False) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ReportError(f"{where}: {key} is {'a non-empty' if required else 'a'} string", report=report)
    return value


def _strings(raw: dict[str, Any], key: str, where: str, report: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReportError(f"{where}: {key} is a string or a list of strings", report=report)
    return tuple(value)


def _fill(text: str, period: Period, where: str, report: str) -> str:
    values = period.placeholders()

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            known = ", ".join("{" + name + "}" for name in ("year", "month", "quarter", "period"))
            raise ReportError(f"{where}: unknown placeholder {{{key}}} (known: {known})", report=report)
        return values[key]

    return _PLACEHOLDER.sub(substitute, text)


def build_query(report: Report, query: ReportQuery, period: Period, version: str | None) -> Query:
    """The engine query of one sheet, for one period (cut placeholders filled in)."""
    where = f"report {report.name!r}, query {query.name!r}"
    cuts = []
    for text in query.cut:
        cuts.extend(parse_cuts(_fill(text, period, where, report.name)))
    drilldown = []
    for text in query.drilldown:
        drilldown.extend(parse_drilldown(text))
    order = []
    for text in query.order:
        order.extend(parse_order(text))
    calculations = tuple(spec for text in query.calculations for spec in parse_calculations(text))
    return Query(
        cube=report.cube,
        cuts=tuple(cuts),
        drilldown=tuple(drilldown),
        measures=query.measures,
        order=tuple(order),
        limit=query.limit,
        version=version,
        calculations=calculations,
    )


def run_report(engine: Any, report: Report, period: Period) -> ReportRun:
    """Run every query of ``report`` for ``period`` against one store version (the first query's)."""
    if period.kind != report.period:
        example = "2025-06" if report.period == "month" else "2025"
        raise InvalidParameterError(
            f"report {report.name!r} is run for a {report.period} (e.g. {example}), not {period.label!r}",
            period=period.label,
        )
    sheets: list[Sheet] = []
    version: str | None = None
    for query in report.queries:
        cells = engine.aggregate(build_query(report, query, period, version))
        version = version or cells.meta.version
        sheets.append(Sheet(query, cells))
    return ReportRun(report, period, version or "", tuple(sheets))


def find_report(reports: dict[str, Report], name: str) -> Report:
    try:
        return reports[name]
    except KeyError:
        known = ", ".join(sorted(reports)) or "none"
        raise NotFoundError(f"no report {name!r} (reports: {known})", report=name) from None


__all__ = [
    "Period",
    "Report",
    "ReportQuery",
    "ReportRun",
    "Sheet",
    "build_query",
    "find_report",
    "load_reports",
    "parse_period",
    "report_from_dict",
    "run_report",
]
