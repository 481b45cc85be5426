"""What the edge learns while serving one request, beyond its ASGI scope: its id and where its cells came from.

:class:`api.observation.RequestObserver` opens a :class:`RequestContext` for each request; code deep in a
route (the encoders) notes the source of each cell answer into it, for the metrics and the request log.
A context variable carries it there: routes run in worker threads, which start with a copy of the request's
context, so they share the one mutable record.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from cube_server.result import Meta

CUBOID, FACTS = "cuboid", "facts"


@dataclass(slots=True)
class RequestContext:
    request_id: str
    answers: list[tuple[str, str]] = field(default_factory=list)  # (cube, meta.source) of each cell answer

    @property
    def source(self) -> str | None:
        """The first cell answer's source (``cuboid:<name>`` or ``facts``), if there was one."""
        return self.answers[0][1] if self.answers else None


CURRENT: ContextVar[RequestContext | None] = ContextVar("cube_server_request", default=None)


def note_cell_answer(meta: Meta) -> None:
    """Record that a cell answer (aggregate, drilldown, rollup, slice, pivot) came from ``meta.source``."""
    context = CURRENT.get()
    if context is not None:
        context.answers.append((meta.cube, meta.source))


def source_kind(source: str) -> str:
    """``cuboid`` or ``facts``: the metric label (a cuboid's name would make one series per cuboid and build).

    >>> source_kind("cuboid:by_month"), source_kind("facts")
    ('cuboid', 'facts')
    """
    return CUBOID if source.startswith(f"{CUBOID}:") else FACTS


def current_request_id() -> str | None:
    context = CURRENT.get()
    return context.request_id if context is not None else None
