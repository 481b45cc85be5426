"""A real ``cube-server serve`` process on a free loopback port, for tests that speak real HTTP.

The process runs this checkout's code (``python -m api.cli`` with the repository on ``PYTHONPATH``),
whatever copy of the package is installed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(project: Path, log: Path, **settings: str) -> Iterator[str]:
    """Serve ``project`` with ``CUBE_*`` settings (``max_cells="100"``) until the block ends; yields its URL.

    Anonymous access is on unless ``anonymous="false"`` is given, as ``cube-server demo`` serves. The rate
    limit is off unless given: a test calls far faster than a person (the limits have tests of their own).
    """
    process, base = start_server(project, log, **settings)
    try:
        yield base
    finally:
        stop_server(process)


def start_server(
    project: Path, log: Path, port: int | None = None, **settings: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start serving ``project`` as :func:`running_server` does and wait until it is ready; the process and URL.

    The caller stops it (:func:`stop_server`, or kills it); ``port`` serves again where a killed one served.
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    defaults = {"anonymous": "true", "rate_limit_per_minute": "0"}
    env |= {f"CUBE_{name.upper()}": value for name, value in {**defaults, **settings}.items()}
    command = [sys.executable, "-m", "api.cli", "serve", str(project), "--port", str(port), "--log-level", "warning"]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        wait_until_ready(process, base, log)
    except BaseException:
        stop_server(process)
        raise
    return process, base


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def wait_until_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"cube-server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            try:
                if http.get(f"{base}/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"cube-server not ready after {READY_TIMEOUT_S} s:\n{log.read_text(errors='replace')}")
