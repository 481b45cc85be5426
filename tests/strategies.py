"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

from cube_server.query import Cut, PointCut, RangeCut, SetCut

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
# Any text but NUL (refused on purpose), with the grammar's separators and escapes well represented.
elements = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8),
    st.text(alphabet="\\!|:;,-_@ a1é中", max_size=6),
    st.just("__null__"),
)
paths = st.lists(elements, min_size=1, max_size=4).map(tuple)
# A range end that formats to the empty string would read back as an open end.
range_paths = paths.filter(lambda path: path != ("",))


def cuts() -> st.SearchStrategy[Cut]:
    common = {"dimension": identifiers, "hierarchy": st.none() | identifiers, "invert": st.booleans()}
    point = st.builds(PointCut, path=paths, **common)
    sets = st.builds(SetCut, paths=st.lists(paths, min_size=2, max_size=4).map(tuple), **common)
    ranges = st.builds(RangeCut, from_path=st.none() | range_paths, to_path=st.none() | range_paths, **common).filter(
        lambda cut: cut.from_path is not None or cut.to_path is not None
    )
    return st.one_of(point, sets, ranges)
