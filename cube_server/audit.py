"""The audit log: who ran which admin operation and who read which cube, one JSON object per line.

The server appends a line for every admin request and every request that reads a cube; ``cube-server build``,
``refresh`` and ``keys create``/``revoke`` append theirs, naming the operating-system user. Several processes
may append at once (a server and the command line): each line is written whole under an exclusive lock on
the file. Entries hold names, ids, paths and outcomes, never a key, a token or an error's internals.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cube_server.settings import Settings

try:  # POSIX: an exclusive lock between processes; elsewhere the lock below serialises this process only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

AUDIT_FILE_NAME = "cube-server-audit.jsonl"


def audit_path(settings: Settings, project_root: Path | None) -> Path | None:
    """``CUBE_AUDIT_LOG`` if set (relative paths start at the project directory), else the project's own.

    None when ``CUBE_AUDIT`` is off, or when there is no project directory and no absolute path (an app
    embedded without a project writes no audit unless told where).
    """
    if not settings.audit:
        return None
    path = Path(settings.audit_log or AUDIT_FILE_NAME).expanduser()
    if path.is_absolute():
        return path
    return project_root / path if project_root is not None else None


def os_user() -> str:
    """Who runs a command-line operation: the login name, else the numeric user id."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Appends audit entries to one JSON-lines file (created with its directory when first written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_project(cls, settings: Settings, project_root: Path | None) -> AuditLog | None:
        path = audit_path(settings, project_root)
        return cls(path) if path is not None else None

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append ``{"time", "event", **fields}`` (fields that are None are left out); return the entry."""
        entry = {
            "time": utc_now(),
            "event": event,
            **{key: value for key, value in fields.items() if value is not None},
        }
        line = json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened for each entry, so a rotated or removed file is followed by a new one.
            with self.path.open("a", encoding="utf-8") as sink:
                if fcntl is not None:
                    fcntl.flock(sink.fileno(), fcntl.LOCK_EX)
                try:
                    sink.write(line)
                    sink.flush()
                finally:
                    if fcntl is not None:
                        fcntl.flock(sink.fileno(), fcntl.LOCK_UN)
        return entry

    @contextmanager
    def operation(self, action: str, principal: str, **details: Any) -> Iterator[dict[str, Any]]:
        """Record ``action`` once it ends: outcome ``ok``, or ``failed`` with the error's class (not its text,
        which may quote files or values); the yielded dict takes results to record (a version, counts)."""
        results: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield results
        except BaseException as error:
            failure = {"outcome": "failed", "error": type(error).__name__, "duration_ms": _ms_since(started)}
            self.record("admin", action=action, principal=principal, **failure, **details)
            raise
        self.record(
            "admin",
            action=action,
            principal=principal,
            outcome="ok",
            duration_ms=_ms_since(started),
            **details,
            **results,
        )

    def entries(self) -> list[dict[str, Any]]:
        """Every entry written so far (for tests and tooling; the file may be large)."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@contextmanager
def command_line_operation(
    settings: Settings, project_root: Path, action: str, **details: Any
) -> Iterator[dict[str, Any]]:
    """Audit a ``cube-server`` command run by the operating-system user (no-op when the audit log is off)."""
    audit = AuditLog.for_project(settings, project_root)
    if audit is None:
        yield {}
        return
    with audit.operation(action, os_user(), via="cli", **details) as results:
        yield results
