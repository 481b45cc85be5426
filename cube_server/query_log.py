"""The query log: which levels each aggregate query needed, so cuboid selection can weigh what is asked.

One JSON line per cell query (``{"cube": ..., "levels": [...]}``), appended by the server and read by
``cube-server plan`` and ``build``. Recording stops once the file reaches its size limit: a log that grows
without bound would fill the disk of a busy server, and the proportions it holds are already known.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from pathlib import Path

log = logging.getLogger("cube_server.query_log")

NAME = "query-log.jsonl"


class QueryLog:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._full = False

    def record(self, cube: str, levels: frozenset[str]) -> None:
        if self._full:
            return
        line = json.dumps({"cube": cube, "levels": sorted(levels)}, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as handle:
                    if handle.tell() + len(line) > self.max_bytes:
                        self._full = True
                        log.warning("query log %s reached %d bytes; no longer recording", self.path, self.max_bytes)
                        return
                    handle.write(line)
            except OSError as exc:  # the log is an aid to planning; a query never fails for it
                log.warning("cannot write the query log %s: %s", self.path, exc)


def read_query_log(path: Path) -> Counter[tuple[str, frozenset[str]]]:
    """How often each (cube, needed levels) was asked; unreadable lines (a torn last write) are skipped."""
    counts: Counter[tuple[str, frozenset[str]]] = Counter()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return counts
    for line in lines:
        try:
            entry = json.loads(line)
            counts[(str(entry["cube"]), frozenset(str(level) for level in entry["levels"]))] += 1
        except (ValueError, KeyError, TypeError):
            continue
    return counts
