"""A JSON file read again when it changes on disk, so a running server follows edits without a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from cube_server.errors import AccessConfigError

T = TypeVar("T")


class WatchedFile(Generic[T]):
    """``parse(body)`` of the JSON at ``path``; ``parse(None)`` while the file is absent."""

    def __init__(self, path: Path, parse: Callable[[Any], T]) -> None:
        self.path = path
        self._parse = parse
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._value = parse(None)

    def current(self) -> T:
        """The file as it is now (read again only when its time, size or inode changed)."""
        with self._lock:
            try:
                stat = self.path.stat()
                stamp: tuple[int, int, int] | None = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._value = self._parse(self._read() if stamp is not None else None)
                self._stamp = stamp
            return self._value

    def _read(self) -> Any:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AccessConfigError(f"cannot read {self.path}: {exc}") from exc
