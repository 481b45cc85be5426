"""The URL grammar of cuts and drilldowns (Cubes' grammar), as round-trip parse/format pairs.

``|`` separates cuts, ``:`` dimension from value, ``,`` path elements, ``;`` set members and ``-``
range ends; ``!`` before the dimension negates a cut and ``@`` names a hierarchy. A backslash
escapes any of ``\\ ! | : ; , - _``; before other characters it is kept, as in Cubes. ``__null__``
is the NULL member.

>>> parse_cuts("time:2025,2-2025,5|!geography:international")
(RangeCut(dimension='time', from_path=('2025', '2'), to_path=('2025', '5'), hierarchy=None, invert=False), \
PointCut(dimension='geography', path=('international',), hierarchy=None, invert=True))
>>> format_cuts(parse_cuts("product@default:a\\\\-b;c"))
'product@default:a\\\\-b;c'
>>> parse_drilldown("time@weekly:isoweek|geography")
(DrilldownItem(dimension='time', hierarchy='weekly', level='isoweek'), DrilldownItem(dimension='geography', \
hierarchy=None, level=None))
"""

from __future__ import annotations

import re

from cube_server.errors import CutSyntaxError, DrilldownSyntaxError, InvalidParameterError
from cube_server.query import Cut, DrilldownItem, OrderItem, Path, PointCut, RangeCut, SetCut

NULL_ELEMENT = "__null__"
ESCAPABLE = set("\\!|:;,-_")
MAX_CUT_STRING = 20_000
_DIMSPEC = re.compile(r"(!)?([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z_][A-Za-z0-9_]*))?")
_DRILLDOWN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z_][A-Za-z0-9_]*))?(?::([A-Za-z_][A-Za-z0-9_]*))?")

# A token is (character, escaped): separators only count when not escaped.
Token = tuple[str, bool]


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in ESCAPABLE:
            tokens.append((text[index + 1], True))
            index += 2
            continue
        tokens.append((char, False))
        index += 1
    return tokens


def _split(tokens: list[Token], separator: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    for char, escaped in tokens:
        if char == separator and not escaped:
            parts.append([])
        else:
            parts[-1].append((char, escaped))
    return parts


def _has(tokens: list[Token], separator: str) -> bool:
    return any(char == separator and not escaped for char, escaped in tokens)


def _element(tokens: list[Token]) -> str | None:
    text = "".join(char for char, _ in tokens)
    if text == NULL_ELEMENT and not any(escaped for _, escaped in tokens):
        return None
    return text


def _path(tokens: list[Token]) -> Path:
    return tuple(_element(part) for part in _split(tokens, ","))


def _escape(element: str | None) -> str:
    if element is None:
        return NULL_ELEMENT
    escaped = "".join("\\" + char if char in "\\!|:;,-" else char for char in element)
    if element == NULL_ELEMENT:
        # The literal text "__null__" (not the NULL member) keeps one escaped underscore.
        escaped = "\\" + escaped
    return escaped


def format_path(path: Path) -> str:
    return ",".join(_escape(element) for element in path)


def parse_cut(text: str) -> Cut:
    tokens = _tokens(text)
    parts = _split(tokens, ":")
    if len(parts) != 2:
        raise CutSyntaxError(f"wrong cut {text!r}: expected dimension:value", cut=text)
    spec = "".join(char for char, _ in parts[0])
    match = _DIMSPEC.fullmatch(spec)
    if match is None or any(escaped for _, escaped in parts[0]):
        raise CutSyntaxError(f"wrong dimension in cut {text!r}", cut=text)
    invert, dimension, hierarchy = bool(match.group(1)), match.group(2), match.group(3)
    value = parts[1]
    if not _has(value, ";") and not _has(value, "-"):
        return PointCut(dimension, _path(value), hierarchy, invert)
    if _has(value, ";") and not _has(value, "-"):
        return SetCut(dimension, tuple(_path(p) for p in _split(value, ";")), hierarchy, invert)
    ends = _split(value, "-")
    if len(ends) != 2 or _has(value, ";"):
        raise CutSyntaxError(f"unknown cut format {text!r} (a range has exactly one unescaped '-')", cut=text)
    low, high = (_path(end) if end else None for end in ends)
    if low is None and high is None:
        raise CutSyntaxError(f"a range needs at least one end: {text!r}", cut=text)
    return RangeCut(dimension, low, high, hierarchy, invert)


def parse_cuts(text: str | None) -> tuple[Cut, ...]:
    """Parse a ``|``-separated cut string (empty or None gives no cuts)."""
    if not text:
        return ()
    if len(text) > MAX_CUT_STRING:
        raise CutSyntaxError(f"cut string longer than {MAX_CUT_STRING} characters")
    if "\x00" in text:
        raise CutSyntaxError("cut string contains a NUL character")
    pieces = _split(_tokens(text), "|")
    return tuple(parse_cut(_untokenize(piece)) for piece in pieces)


def _untokenize(tokens: list[Token]) -> str:
    return "".join("\\" + char if escaped else char for char, escaped in tokens)


def format_cut(cut: Cut) -> str:
    spec = ("!" if cut.invert else "") + cut.dimension + (f"@{cut.hierarchy}" if cut.hierarchy else "")
    if isinstance(cut, PointCut):
        value = format_path(cut.path)
    elif isinstance(cut, SetCut):
        value = ";".join(format_path(path) for path in cut.paths)
    else:
        low = format_path(cut.from_path) if cut.from_path is not None else ""
        high = format_path(cut.to_path) if cut.to_path is not None else ""
        value = f"{low}-{high}"
    return f"{spec}:{value}"


def format_cuts(cuts: tuple[Cut, ...] | list[Cut]) -> str:
    return "|".join(format_cut(cut) for cut in cuts)


def parse_drilldown(text: str | None) -> tuple[DrilldownItem, ...]:
    """Parse ``dim[@hierarchy][:level]`` items separated by ``|``."""
    if not text:
        return ()
    if len(text) > MAX_CUT_STRING:
        raise DrilldownSyntaxError(f"drilldown longer than {MAX_CUT_STRING} characters")
    items = []
    for piece in text.split("|"):
        match = _DRILLDOWN.fullmatch(piece.strip())
        if match is None:
            raise DrilldownSyntaxError(
                f"wrong drilldown item {piece!r}: expected dimension[@hierarchy][:level]", drilldown=piece
            )
        items.append(DrilldownItem(match.group(1), match.group(2), match.group(3)))
    return tuple(items)


def format_drilldown(items: tuple[DrilldownItem, ...] | list[DrilldownItem]) -> str:
    return "|".join(
        item.dimension + (f"@{item.hierarchy}" if item.hierarchy else "") + (f":{item.level}" if item.level else "")
        for item in items
    )


def parse_order(text: str | None) -> tuple[OrderItem, ...]:
    """``ref[:asc|:desc]`` items, separated by ``,`` (or Cubes' ``|``).

    >>> parse_order("revenue:desc, geography.province")
    (OrderItem(ref='revenue', descending=True), OrderItem(ref='geography.province', descending=False))
    """
    items = []
    for part in (piece.strip() for piece in (text or "").replace("|", ",").split(",")):
        if not part:
            continue
        ref, _, direction = part.partition(":")
        direction = direction.lower()
        if direction and not (direction.startswith("asc") or direction.startswith("desc")):
            raise InvalidParameterError(f"order direction must be asc or desc, not {direction!r}", order=part)
        items.append(OrderItem(ref, descending=direction.startswith("desc")))
    return tuple(items)
