"""Slicer query parameters: parsed once, at the edge, into the engine's vocabulary.

Parameters may repeat (``cut=a&cut=b`` is ``a|b``); paging is 0-based and applies only when both
``page`` and ``pagesize`` are given, as in Cubes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from api.operations import drilldown_of as parse_drilldown_params
from api.operations import names_of, order_of
from api.slicer.refs import WireRefs
from cube_models import Cube
from cube_server.cut_syntax import parse_cuts
from cube_server.errors import InvalidParameterError
from cube_server.query import Cut, DrilldownItem, OrderItem
from cube_server.relative_time import resolve_relative_cuts
from cube_server.settings import Settings

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")
HEADERS = ("labels", "names", "none")
MAX_PAGE = 2**40


@dataclass(frozen=True, slots=True)
class Paging:
    page: int | None = None
    pagesize: int | None = None

    @property
    def is_paged(self) -> bool:
        return self.page is not None and self.pagesize is not None

    def window(self, record_limit: int | None) -> tuple[int | None, int]:
        """(limit, offset) for the engine: the page if paged, capped at the record limit when there is one."""
        if self.is_paged:
            assert self.page is not None and self.pagesize is not None
            limit = self.pagesize if record_limit is None else min(self.pagesize, record_limit)
            return limit, self.page * self.pagesize
        return record_limit, 0


def integer(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.removeprefix("-").isdigit()):  # int() takes " 7", "1_0", other scripts' digits
        raise InvalidParameterError(f"'{name}' should be a number", parameter=name, value=text)
    value = int(text)
    if not 0 <= value <= MAX_PAGE:
        raise InvalidParameterError(f"'{name}' should be between 0 and {MAX_PAGE}", parameter=name, value=text)
    return value


def paging_of(page: str | int | None, pagesize: str | int | None) -> Paging:
    parsed = Paging(integer(_text(page), "page"), integer(_text(pagesize), "pagesize"))
    if parsed.is_paged and parsed.pagesize == 0:
        raise InvalidParameterError("'pagesize' should be at least 1", parameter="pagesize")
    return parsed


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def format_of(text: str | None, allowed: tuple[str, ...]) -> str:
    fmt = (text or "json").lower()
    if fmt not in allowed:
        raise InvalidParameterError(f"Parameter 'format' should be one of: {', '.join(allowed)}", format=text)
    return fmt


def header_of(text: str | None) -> str:
    header = (text or "labels").lower()
    if header not in HEADERS:
        raise InvalidParameterError(f"Parameter 'header' should be one of: {', '.join(HEADERS)}", header=text)
    return header


def is_true(text: str | None) -> bool:
    """Cubes' boolean words; anything else is false."""
    return text is not None and text.strip().lower() in TRUE_WORDS


def record_limit(settings: Settings) -> int:
    """Most rows of a JSON array: the configured limit, within the largest page the engine reads."""
    return min(settings.slicer_json_record_limit, settings.max_page_size)


def now_of(request: Request, settings: Settings) -> datetime:
    """The calendar's wall-clock time (naive), which relative time cuts count from.

    A callable in ``app.state.slicer_clock`` replaces the system clock (tests pin the date with it).
    """
    clock: Callable[[], datetime] | None = getattr(request.app.state, "slicer_clock", None)
    if clock is not None:
        return clock()
    return datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)


def cuts_of(cube: Cube, texts: list[str], settings: Settings, now: datetime) -> tuple[Cut, ...]:
    """Cut strings (repeated ``cut=`` are AND-ed), relative time resolved against ``now``."""
    cuts: list[Cut] = []
    for text in texts:
        cuts.extend(parse_cuts(text))
    return resolve_relative_cuts(cube, tuple(cuts), now, settings.first_weekday)


def drilldown_of(texts: list[str]) -> tuple[DrilldownItem, ...]:
    return parse_drilldown_params(texts)


def aggregates_of(texts: list[str]) -> tuple[str, ...]:
    return names_of(texts)


def measures_filter(cube: Cube, texts: list[str]) -> tuple[str, ...]:
    """``measures=``: the aggregates over the named fact measures (Cubes documents it; 1.1 ignored it)."""
    wanted = set(names_of(texts))
    for name in wanted:
        cube.fact_column(name)  # an unknown measure is an error
    aggregates = tuple(m.name for m in cube.measures if m.column in wanted)
    if wanted and not aggregates:
        raise InvalidParameterError(f"no aggregate of cube {cube.name!r} is over {', '.join(sorted(wanted))}")
    return aggregates


def aggregate_order_of(refs: WireRefs, texts: list[str]) -> tuple[OrderItem, ...]:
    """``order=`` for cells: aggregate names or attribute refs, each with an optional ``:asc``/``:desc``."""
    return tuple(OrderItem(refs.order_ref(item.ref), item.descending) for item in order_of(texts))


def fact_order_of(refs: WireRefs, texts: list[str]) -> tuple[OrderItem, ...]:
    return tuple(OrderItem(refs.fact_field_internal(item.ref), item.descending) for item in order_of(texts))


def fields_of(refs: WireRefs, texts: list[str]) -> tuple[str, ...]:
    """``fields=``: comma-separated wire refs of fact fields, in the engine's names."""
    return tuple(refs.fact_field_internal(name) for name in names_of(texts))


def depth_and_level(depth: str | int | None, level: str | None) -> tuple[int | None, str | None]:
    if depth not in (None, "") and level:
        raise InvalidParameterError("Both depth and level provided, use only one (preferably level)")
    if depth in (None, ""):
        return None, level or None
    try:
        value = int(str(depth))
    except ValueError:
        raise InvalidParameterError("depth should be an integer", depth=depth) from None
    if value < 1:
        raise InvalidParameterError("depth should be at least 1", depth=depth)
    return value, None
