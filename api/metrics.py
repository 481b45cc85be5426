"""Prometheus metrics of one app: requests, cell answers by source, refreshes, and the store serving.

Each app has its own ``CollectorRegistry`` (a process may hold several apps, as the tests do). Labels are
bounded: a route is its template (``/v1/cubes/{cube}/aggregate``, never the path asked for), a method one of
the HTTP methods or ``other``, a cube a name of the model. The store's metrics are read when scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cube_server.engine import CubeEngine

PREFIX = "cube_server"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Queries take milliseconds to seconds; exports and reports up to minutes.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Refreshes take seconds (an appended day) to hours (a rebuild of a large store).
REFRESH_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)


class ServerMetrics:
    def __init__(self, engine_of: Callable[[], CubeEngine | None]) -> None:
        """``engine_of``: the app's engine when it has loaded (None before), read at each scrape."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{PREFIX}_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by method, route template and status",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.cell_answers = Counter(
            f"{PREFIX}_cell_answers",
            "Cell answers (aggregate, drilldown, rollup, slice, pivot) by cube and source: a cuboid or the facts; "
            "the cuboid hit ratio is cuboid / (cuboid + facts)",
            ["cube", "source"],
            registry=self.registry,
        )
        self.refreshes = Counter(
            f"{PREFIX}_refreshes",
            "Store refreshes asked of POST /v1/admin/refresh, by mode (full, append, replace) and outcome",
            ["mode", "outcome"],
            registry=self.registry,
        )
        self.refresh_duration = Histogram(
            f"{PREFIX}_refresh_duration_seconds",
            "Duration of the store refreshes and rebuilds POST /v1/admin/refresh completed, by mode",
            ["mode"],
            buckets=REFRESH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StoreCollector(engine_of))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method if method in METHODS else "other", route, str(status))
        self.requests.labels(*labels).inc()
        self.request_duration.labels(*labels).observe(seconds)

    def observe_refresh(self, mode: str, status: int, seconds: float) -> None:
        outcome = "ok" if status < 400 else ("refused" if status < 500 else "failed")
        self.refreshes.labels(mode, outcome).inc()
        if outcome == "ok":
            self.refresh_duration.labels(mode).observe(seconds)


class StoreCollector(Collector):
    """The store version serving now, read at each scrape (a build by ``cube-server build`` in another
    process switches it without this process seeing the build itself)."""

    def __init__(self, engine_of: Callable[[], CubeEngine | None]) -> None:
        self._engine_of = engine_of

    def describe(self) -> list[Metric]:
        return []  # the families depend on the engine, loaded later: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        engine = self._engine_of()
        ready = GaugeMetricFamily(f"{PREFIX}_ready", "1 once the engine has loaded its project, else 0")
        ready.add_metric([], 1 if engine is not None else 0)
        yield ready
        if engine is None:
            return
        snapshot = engine.snapshot()
        info = GaugeMetricFamily(
            f"{PREFIX}_store_info",
            "The store version queries read (1); status serving, or why the store is not used (facts answer)",
            labels=["version", "status"],
        )
        manifest = snapshot.manifest if snapshot.status == "serving" else None
        info.add_metric([manifest.version if manifest is not None else "", snapshot.status], 1)
        yield info
        if manifest is None:
            return
        built = GaugeMetricFamily(
            f"{PREFIX}_store_built_timestamp_seconds",
            "When the store version serving was built (Unix time), by version",
            labels=["version"],
        )
        built_at = _unix_time(manifest.built_at)
        if built_at is not None:
            built.add_metric([manifest.version], built_at)
        yield built
        cuboids = GaugeMetricFamily(
            f"{PREFIX}_store_cuboids", "Cuboids in the store version serving, by cube", labels=["cube"]
        )
        counts: dict[str, int] = {}
        for cuboid in manifest.cuboids:
            counts[cuboid.cube] = counts.get(cuboid.cube, 0) + 1
        for cube, count in sorted(counts.items()):
            cuboids.add_metric([cube], count)
        yield cuboids


def _unix_time(text: str) -> float | None:
    """An ISO-8601 instant as Unix time (a naive one read as UTC); None if it is not one.

    >>> _unix_time("2025-01-01T00:00:00Z"), _unix_time("2025-01-01T00:00:00+00:00"), _unix_time("soon")
    (1735689600.0, 1735689600.0, None)
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
