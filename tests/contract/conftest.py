"""The contract suite's Spark: one local cluster on 127.0.0.1 for the session (:mod:`spark_cluster`).

Where Spark cannot start (pyspark or a Java runtime missing), the tests that need it fail under CI
(``CI=true``: scripts/test installs both) and are skipped elsewhere, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from spark_cluster import running_spark

from cube_server.errors import SparkBuildError


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        with running_spark() as session:
            yield session
    except SparkBuildError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI builds the store with Spark, which cannot start here: {exc}")
        pytest.skip(f"Spark cannot start here ({exc}); scripts/test installs pyspark and a Java runtime")
