"""Cut and drilldown strings round-trip through parse and format, whatever the members contain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import cuts, identifiers

from cube_server.cut_syntax import format_cuts, format_drilldown, parse_cuts, parse_drilldown
from cube_server.query import DrilldownItem


@given(st.lists(cuts(), min_size=1, max_size=4))
def test_cuts_roundtrip(cut_list: list) -> None:  # type: ignore[type-arg]
    text = format_cuts(cut_list)
    assert parse_cuts(text) == tuple(cut_list)
    assert format_cuts(parse_cuts(text)) == text


@given(
    st.lists(
        st.builds(DrilldownItem, identifiers, st.none() | identifiers, st.none() | identifiers), min_size=1, max_size=5
    )
)
def test_drilldown_roundtrip(items: list[DrilldownItem]) -> None:
    assert parse_drilldown(format_drilldown(items)) == tuple(items)
