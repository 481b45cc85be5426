"""Members and fact pages read the facts without joining every fact row to the dimensions.

Found by the load test at 10M facts (docs/reliability.md): members of a level grouped every fact row joined
to its dimension (seconds, and query timeouts under load), and a page of 50 facts joined every row the cuts
kept to all five dimensions before paging. Members now group the distinct codes of the fact columns they
read, and a page of facts is cut from the fact rows before the dimensions are joined to it. The answers
are the oracle's (tests/contract/test_oracle.py); here, the statements' shape and their agreement with the
plain formulation on the session data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from conftest import CUBE

from cube_server.calendar_period import period_of
from cube_server.cut_syntax import parse_cuts
from cube_server.engine import CubeEngine
from cube_server.query import FactsQuery, MembersQuery, OrderItem


def statement_sql(engine: CubeEngine, plan: Any, name: str) -> str:
    return engine.backend.compile(plan.statements[name]).sql


def test_members_group_the_distinct_codes_of_the_facts(engine: CubeEngine) -> None:
    plan = engine.plan_members(MembersQuery(CUBE, "geography", level="province", limit=10))
    sql = " ".join(statement_sql(engine, plan, "members").split())
    assert "SELECT DISTINCT" in sql and "charges.geography_code" in sql
    # the same members as grouping every joined fact row by the level's path
    star = engine.star(CUBE)
    path = [f"geography.{level}" for level in ("scope", "continent", "country", "region", "province")]
    paths = sa.select(*(star.attribute(ref) for ref in path)).select_from(star.from_clause_for(set(path)))
    every_row = set(engine.backend.run_statement(engine.backend.compile_literal(paths.distinct())))
    members = engine.members(MembersQuery(CUBE, "geography", level="province", limit=1000))
    assert {tuple(row[ref] for ref in path) for row in members.rows} == every_row
    assert members.total_count == len(every_row) == len(members.rows)


def test_a_fact_page_is_cut_before_the_dimensions_are_joined(engine: CubeEngine) -> None:
    cuts = parse_cuts("time:2025,1,3")
    query = FactsQuery(CUBE, cuts, order=(OrderItem("revenue", descending=True),), limit=7, offset=3)
    sql = " ".join(statement_sql(engine, engine.plan_facts(query), "facts").split())
    assert sql.index("LIMIT") < sql.index("LEFT OUTER JOIN"), sql
    page = engine.facts(query)
    everything = engine.facts(FactsQuery(CUBE, cuts, order=query.order, limit=10_000))
    assert everything.total_count == page.total_count and len(everything.rows) == page.total_count
    revenues = [row["revenue"] for row in everything.rows]
    assert [row["revenue"] for row in page.rows] == revenues[3:10]
    keys = {row["charge_id"]: row for row in everything.rows}
    assert all(keys[row["charge_id"]] == row for row in page.rows)


def test_a_cut_on_extracted_calendar_parts_also_ranges_the_timestamp(engine: CubeEngine) -> None:
    # Found with the fact pages above: year(charged_at) = 2025 AND month(...) = 3 hides from the scan which
    # row groups can hold March 2025; charged_at >= '2025-03-01' AND charged_at < '2025-04-01' does not.
    assert period_of([("year", "2025"), ("quarter", "1"), ("month", "3")]) == (
        dt.datetime(2025, 3, 1),
        dt.datetime(2025, 4, 1),
    )
    assert period_of([("year", "2024"), ("quarter", "4")]) == (dt.datetime(2024, 10, 1), dt.datetime(2025, 1, 1))
    assert period_of([("year", "2025"), ("quarter", "1"), ("month", "3"), ("day", "31"), ("hour", "23")]) == (
        dt.datetime(2025, 3, 31, 23),
        dt.datetime(2025, 4, 1),
    )
    assert period_of([("year", "2025"), ("quarter", "2"), ("month", "3")]) is None  # no such month
    assert period_of([("year", "2025"), ("month", "2"), ("day", "30")]) is None
    assert period_of([("isoyear", "2025"), ("week", "3")]) is None  # not the calendar
    plan = engine.plan_facts(FactsQuery(CUBE, parse_cuts("time:2025,1,3;2024,4,12"), limit=5))
    sql = " ".join(statement_sql(engine, plan, "count").split())
    assert sql.count("charges.charged_at >= CAST(") == 2 and sql.count("charges.charged_at < CAST(") == 2
    everything = engine.facts(FactsQuery(CUBE, parse_cuts("time:2025,1,3;2024,4,12"), limit=10_000))
    months = {(row["time.year"], row["time.month"]) for row in everything.rows}
    assert months == {(2025, 3), (2024, 12)} and everything.total_count == len(everything.rows)
