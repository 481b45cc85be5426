"""The contract suite's Spark on 127.0.0.1 (:mod:`spark_cluster`), each started once for the session.

``spark``: a session on a local cluster, in this process. ``spark_connect``: the ``sc://`` URL of a Spark Connect
server running as a process of its own, for commands given ``--spark-master``.

Where Spark cannot start (pyspark or a Java runtime missing), the tests that need it fail under CI
(``CI=true``: scripts/test installs both) and are skipped elsewhere, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
from spark_cluster import running_spark, running_spark_connect

from cube_server.errors import SparkBuildError


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        with running_spark() as session:
            yield session
    except SparkBuildError as exc:
        _cannot_start(exc)


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with running_spark_connect(tmp_path_factory.mktemp("spark-connect")) as url:
            yield url
    except SparkBuildError as exc:
        _cannot_start(exc)


def _cannot_start(exc: SparkBuildError) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI builds the store with Spark, which cannot start here: {exc}")
    pytest.skip(f"Spark cannot start here ({exc}); scripts/test installs pyspark and a Java runtime")
