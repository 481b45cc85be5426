"""The Spark session a build runs on: a cluster's master URL, local threads, or a Spark Connect endpoint.

``spark://host:7077`` (a standalone cluster), ``yarn``, ``k8s://…``, ``local[N]`` or ``local-cluster[W,C,MB]``
start a driver in this process that joins the cluster; ``sc://host:15002`` talks to a Spark Connect server,
whose driver runs over there. pyspark is imported here, and only when a Spark build or refresh asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cube_server.errors import SparkBuildError

# Extracted date parts must not depend on where the driver runs: fact timestamps are naive, as DuckDB reads them.
SESSION_DEFAULTS = {"spark.sql.session.timeZone": "UTC"}


def parse_conf(items: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options (``--spark-conf spark.executor.memory=4g``) as a mapping."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SparkBuildError(f"a Spark option is KEY=VALUE, not {item!r}")
        conf[key.strip()] = value.strip()
    return conf


def open_session(master: str, conf: Mapping[str, str] | None = None, app_name: str = "cube-server build") -> Any:
    """A SparkSession on ``master`` with ``conf`` (raises :class:`SparkBuildError` when none can be had)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkBuildError("building with Spark needs pyspark: pip install 'cube-server[spark]'") from exc
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
    for key, value in {**SESSION_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # a JVM that does not start, a master that does not answer: one message either way
        raise SparkBuildError(f"cannot start a Spark session on {master}: {exc}") from exc


@contextmanager
def spark_session(master: str, conf: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A session for one command, stopped at the end (unless this process had it running already)."""
    running = _active_session()
    session = open_session(master, conf)
    try:
        yield session
    finally:
        if session is not running:
            session.stop()


def _active_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()
