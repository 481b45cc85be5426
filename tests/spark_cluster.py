"""A Spark cluster on 127.0.0.1 for the tests: ``local-cluster`` mode, a master and a worker inside the driver's
JVM that launches its executor as a JVM of its own, so rows cross processes through Spark's shuffle as on a
real cluster. One session serves the whole test session (a JVM takes seconds to start): the UI off, four
shuffle partitions, the driver and executor bound to the loopback address.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from cube_server.spark_build.session import open_session

MASTER = "local-cluster[1,2,2048]"  # one worker with 2 cores and 2 GB: the machine's two cores
CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


@contextlib.contextmanager
def running_spark() -> Iterator[Any]:
    """A session on a local cluster (raises :class:`cube_server.errors.SparkBuildError` if none starts)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = open_session(MASTER, CONF, app_name="cube-server tests")
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        context = type(session.sparkContext)
        gateway = context._gateway
        session.stop()
        # Stopping leaves the JVM and pyspark's sockets to it open until the interpreter exits: close them,
        # and end the JVM (it exits when its standard input closes).
        gateway.shutdown()
        if gateway.proc is not None and gateway.proc.stdin is not None:
            gateway.proc.stdin.close()
            gateway.proc.wait(timeout=60)
        context._gateway = None
        context._jvm = None
