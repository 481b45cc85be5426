"""Spark on 127.0.0.1 for the tests, started once per test session (a JVM takes seconds to start).

- :func:`running_spark`: a session on a ``local-cluster``, a master and a worker inside the driver's JVM that
  launches its executor as a JVM of its own, so rows cross processes through Spark's shuffle as on a real
  cluster.
- :func:`running_spark_connect`: a Spark Connect server (pyspark's own, ``local[2]`` behind it) as a process
  group of its own, for commands given ``--spark-master sc://127.0.0.1:PORT``.

Both with the UI off, four shuffle partitions, and the driver and executors bound to the loopback address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cube_server.errors import SparkBuildError
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


CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_MASTER = "local[2]"  # the machine's two cores, in the server's JVM
CONNECT_START_S = 180.0  # a JVM on a shared 2-core machine: it answered in about 20 s under a load of 12
CONNECT_STOP_S = 30.0


@contextlib.contextmanager
def running_spark_connect(directory: Path) -> Iterator[str]:
    """A Spark Connect server on a free port of 127.0.0.1, as its ``sc://`` URL, stopped at the end.

    Launched as docs/deploy.md tells (the package's ``bin/spark-submit`` and the server class), in a process
    group of its own, working and logging in ``directory``. Raises :class:`SparkBuildError` with the end of the
    server's log when it exits or does not accept a session in time (no pyspark, no Java runtime, a port taken).
    """
    try:
        import pyspark
    except ImportError as exc:
        raise SparkBuildError("a Spark Connect server needs pyspark: pip install 'cube-server[spark]'") from exc
    spark_home = Path(pyspark.__file__).parent
    port = _free_port()
    conf = {
        **CONF,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    }
    command = [str(spark_home / "bin" / "spark-submit"), "--class", CONNECT_SERVER, "--master", CONNECT_MASTER]
    command += ["--name", "cube-server tests (Spark Connect)"]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command.append("spark-internal")
    log = directory / "spark-connect-server.log"
    environment = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            cwd=directory,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: spark-submit's shell and the JVM end together
        )
    try:
        url = f"sc://127.0.0.1:{port}"
        _wait_for_session(server, url, log)
        yield url
    finally:
        _stop_group(server)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_session(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll until the server opens a session (and release it), or raise with its log."""
    try:
        from pyspark.sql.connect.client import SparkConnectClient
    except ImportError as exc:
        raise SparkBuildError(
            f"the Spark Connect client cannot be imported ({exc}): pip install 'pyspark[connect]'"
        ) from exc
    deadline = time.monotonic() + CONNECT_START_S
    refused: Exception | None = None
    while True:
        if server.poll() is not None:
            raise SparkBuildError(f"the Spark Connect server exited with status {server.returncode}:\n{_tail(log)}")
        # no retries inside the client (its default waits up to 10 minutes): this loop polls
        client = SparkConnectClient(url, retry_policy={"max_retries": 0})
        try:
            with warnings.catch_warnings():  # the client warns when it gives up, as told, after one try
                warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
                client.get_configs("spark.master")
            client.release_session()
            return
        except Exception as exc:  # gRPC's UNAVAILABLE while the server starts, whatever it is wrapped in
            refused = exc
        finally:
            client.close()
        if time.monotonic() > deadline:
            raise SparkBuildError(
                f"the Spark Connect server on {url} accepted no session within {CONNECT_START_S:.0f} s "
                f"({refused}):\n{_tail(log)}"
            )
        time.sleep(0.5)


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _stop_group(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (Spark's shutdown hooks remove its temporary files), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=CONNECT_STOP_S)
    with contextlib.suppress(ProcessLookupError):  # whatever is left of the group, the JVM if it did not stop
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()
