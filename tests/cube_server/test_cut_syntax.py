"""The cut grammar: Cubes' examples, escapes, NULL members and the errors it raises."""

from __future__ import annotations

import pytest

from cube_server.cut_syntax import format_cuts, parse_cuts, parse_drilldown
from cube_server.errors import CutSyntaxError, DrilldownError
from cube_server.query import DrilldownItem, PointCut, RangeCut, SetCut


def test_parse_point_set_and_range() -> None:
    assert parse_cuts("time:2025,2,5,17") == (PointCut("time", ("2025", "2", "5", "17")),)
    assert parse_cuts("geography:gd;bj") == (SetCut("geography", (("gd",), ("bj",))),)
    assert parse_cuts("time:2024,12-2025,2") == (RangeCut("time", ("2024", "12"), ("2025", "2")),)
    assert parse_cuts("time:-2025") == (RangeCut("time", None, ("2025",)),)
    assert parse_cuts("time:2025-") == (RangeCut("time", ("2025",), None),)


def test_parse_hierarchy_negation_and_several_cuts() -> None:
    cuts = parse_cuts("!geography:international|time@weekly:2025,1")
    assert cuts == (PointCut("geography", ("international",), invert=True), PointCut("time", ("2025", "1"), "weekly"))


def test_parse_null_member_and_escapes() -> None:
    assert parse_cuts("geography:international,asia,jp,__null__")[0].path[-1] is None
    assert parse_cuts(r"product:a\-b")[0].path == ("a-b",)
    assert parse_cuts(r"product:a\,b")[0].path == ("a,b",)
    assert parse_cuts(r"product:a,b\;c")[0].path == ("a", "b;c")
    # As in Cubes, a backslash before an ordinary character is kept.
    assert parse_cuts(r"city:Nové\ Mesto")[0].path == ("Nové\\ Mesto",)
    assert parse_cuts(r"product:\__null__")[0].path == ("__null__",)


def test_format_escapes_what_parse_needs() -> None:
    assert format_cuts([PointCut("p", ("a-b", None, "x|y"))]) == r"p:a\-b,__null__,x\|y"
    assert format_cuts([RangeCut("t", None, ("5",), invert=True)]) == "!t:-5"


@pytest.mark.parametrize("text", ["time", "time:1-2-3", "a:b:c", "ti me:1", "time:-", "time:1;2-3", "t:\x00"])
def test_parse_rejects_malformed_cuts(text: str) -> None:
    with pytest.raises(CutSyntaxError):
        parse_cuts(text)


def test_parse_drilldown_items() -> None:
    assert parse_drilldown("time@weekly:isoweek|geography") == (
        DrilldownItem("time", "weekly", "isoweek"),
        DrilldownItem("geography"),
    )


@pytest.mark.parametrize("text", ["time:month:day", "ti me", "time@", ":month"])
def test_parse_drilldown_rejects_malformed_items(text: str) -> None:
    with pytest.raises(DrilldownError):
        parse_drilldown(text)
