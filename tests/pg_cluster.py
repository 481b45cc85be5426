"""A throw-away PostgreSQL cluster on 127.0.0.1 for the tests: ``initdb`` and ``pg_ctl`` from Debian's package.

As root the server runs as the ``postgres`` user (``runuser``), in a temporary directory it owns; otherwise as
the current user. ``fsync=off`` and no synchronous commit: nothing here needs to survive a crash. The cluster
is created with the C locale and UTF-8, so text sorts by bytes as DuckDB sorts it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed here (or cannot be run)."""


def server_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not candidates:
        raise ClusterUnavailable("PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/pg_ctl)")
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    port: int
    directory: Path
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database (dropped first if it exists); its SQLAlchemy URL."""
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres") as connection:
            connection.autocommit = True
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster on a free port; stop it and remove its files at the end."""
    binaries = server_bin()
    if os.geteuid() == 0:
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ClusterUnavailable("there is no postgres user to run the server as") from exc
    directory = Path(tempfile.mkdtemp(prefix="cube-pg-"))
    data = directory / "data"
    try:
        if os.geteuid() == 0:
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        subprocess.run(
            _as_server_user(
                [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8", "--locale=C"]
            ),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off -c synchronous_commit=off"
        options += " -c full_page_writes=off"
        subprocess.run(
            _as_server_user(
                [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        raise ClusterUnavailable(f"cannot start PostgreSQL: {exc} {detail.decode(errors='replace')}") from exc
    try:
        yield Cluster(port, directory, user)
    finally:
        subprocess.run(
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


def with_engine(project_dir: Path, url: str, store: Path | None = None) -> Path:
    """Add ``[engine] url`` (and a store directory) to the project at ``project_dir``: only the URL differs."""
    config = project_dir / "cube-server.toml"
    text = config.read_text(encoding="utf-8") + f'\n[engine]\nurl = "{url}"\n'
    if store is not None:
        text += f'\n[store]\ndirectory = "{store}"\n'
    config.write_text(text, encoding="utf-8")
    return project_dir
