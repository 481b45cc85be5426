"""The high-cardinality guard: which drilled levels need paging or a cut, and the error it raises."""

from __future__ import annotations

import pytest

from cube_models import model_from_dict
from cube_server.cardinality import check_low_cardinality, high_cardinality_levels
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.errors import HighCardinalityError
from cube_server.resolve import bind_cuts, bind_drilldown

CUBE = model_from_dict(
    {
        "dimensions": [
            {
                "name": "date",
                "levels": ["year", "month", {"name": "day", "cardinality": "high"}],
                "hierarchies": [
                    {"name": "ymd", "levels": ["year", "month", "day"]},
                    {"name": "yd", "levels": ["year", "day"]},
                ],
            },
            {"name": "customer", "cardinality": "high", "levels": ["segment", "customer"]},
            {"name": "product", "levels": ["category"]},
        ],
        "cubes": [
            {
                "name": "sales",
                "dimensions": ["date", "customer", "product"],
                "aggregates": [{"name": "n", "function": "count"}],
                "mappings": {
                    "date.year": "year",
                    "date.month": "month",
                    "date.day": "day",
                    "customer.segment": "segment",
                    "customer.customer": "customer",
                    "product.category": "category",
                },
            }
        ],
    }
).cube("sales")


def guarded(cut: str, drilldown: str) -> list[str]:
    cuts = bind_cuts(CUBE, parse_cuts(cut))
    drills = bind_drilldown(CUBE, parse_drilldown(drilldown), cuts)
    return [level.ref for level in high_cardinality_levels(cuts, drills)]


def test_low_cardinality_levels_pass() -> None:
    assert guarded("", "date:month|product") == []


def test_a_high_level_or_dimension_needs_a_cut() -> None:
    assert guarded("", "date:day") == ["date.day"]
    # every level of a high-cardinality dimension counts, the top one included
    assert guarded("", "customer:segment") == ["customer.segment"]
    assert guarded("", "customer:customer") == ["customer.segment", "customer.customer"]


def test_point_and_set_cuts_down_to_the_level_fix_it() -> None:
    assert guarded("date:2025,1,3", "date:day") == []
    assert guarded("date:2025,1,3;2025,1,4", "date:day") == []
    # the cut in another hierarchy still names the day
    assert guarded("date@yd:2025,3", "date:day") == []
    assert guarded("customer:smb", "customer:customer") == ["customer.customer"]


def test_cuts_that_do_not_reach_the_level_do_not_fix_it() -> None:
    assert guarded("date:2025,1", "date:day") == ["date.day"]
    assert guarded("date:2025,1,3;2025,1", "date:day") == ["date.day"]  # one path stops at the month
    assert guarded("date:2025,1,1-2025,1,3", "date:day") == ["date.day"]  # a range is not a list of members
    assert guarded("!date:2025,1,3", "date:day") == ["date.day"]


def test_check_raises_unless_paged() -> None:
    cuts = bind_cuts(CUBE, ())
    drills = bind_drilldown(CUBE, parse_drilldown("date:day"), cuts)
    with pytest.raises(HighCardinalityError, match=r"date\.day") as raised:
        check_low_cardinality(cuts, drills, is_paged=False)
    assert raised.value.details == {"levels": ["date.day"]}
    check_low_cardinality(cuts, drills, is_paged=True)
