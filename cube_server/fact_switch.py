"""A refresh's commit: its new fact files and the store version built for them, switched in as one step.

A refresh writes its new fact files beside the old ones (``*.parquet.tmp``, which no table glob matches)
and its store version in a staging directory, whose manifest is stamped with the fingerprint the fact
files will have once renamed (a rename keeps a file's size and modification time). Then it writes the
journal (``.refresh-journal.json`` in the facts' directory): the renames, the store version to switch to
and the files to remove. The journal on disk is the commit point. Before it, nothing a reader sees has
changed; from it on, the refresh is rolled forward: the journal is applied at once, and a crash half-way
leaves it for whoever comes next (a refresh, a build, a server starting or already serving) to apply
again, every step being idempotent. So a kill at any point leaves either the previous facts with the
previous version or the new facts with the new version, never a mix.

Only the holder of the store's lock applies a journal. A reader that finds one while the lock is held
knows a live refresh is switching this moment, and keeps reading what it read before.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from aggregates.errors import BuildInProgressError, CuboidStoreError
from aggregates.store import CuboidStore, fsync_directory, write_durably

log = logging.getLogger("cube_server.refresh")

JOURNAL = ".refresh-journal.json"
STAGED_SUFFIX = ".parquet.tmp"


def commit_switch(
    directory: Path, moves: dict[Path, Path], removals: list[Path], store: CuboidStore, version: str
) -> None:
    """Write the journal (the commit point), then apply it: renames, the store version, removals."""
    journal = directory / JOURNAL
    entries = {
        "moves": [[str(a), str(b)] for a, b in moves.items()],
        "store": str(store.root),
        "version": version,
        "removals": [str(p) for p in removals],
    }
    write_durably(journal, json.dumps(entries))
    fsync_directory(directory)
    apply_journal(journal)


def apply_journal(journal: Path) -> None:
    """Do what the journal lists, skipping the steps done already; the caller holds the store's lock."""
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    for source, target in entries["moves"]:
        try:
            os.replace(source, target)
        except FileNotFoundError:
            pass  # moved already
    fsync_directory(journal.parent)
    if entries.get("version"):
        # The new facts are in place: switch to the version built for them before the old files go.
        try:
            CuboidStore(Path(entries["store"])).publish_prepared(entries["version"])
        except CuboidStoreError as error:
            # Its staging directory is gone (removed by hand): the facts are switched all the same, and the
            # store, now stale, is not used until the next build. Stopping here would leave them half switched.
            log.error("refresh journal %s: %s; run cube-server build", journal, error.message)
    for path in entries["removals"]:
        Path(path).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)
    fsync_directory(journal.parent)


def pending_journals(directories: Iterable[Path]) -> list[Path]:
    return [directory / JOURNAL for directory in sorted(set(directories)) if (directory / JOURNAL).is_file()]


def finish_switches(directories: Iterable[Path]) -> bool:
    """Apply the journals a crash left behind (the caller holds the store's lock); True if there were any."""
    journals = pending_journals(directories)
    for journal in journals:
        apply_journal(journal)
    return bool(journals)


def remove_staged_leftovers(directories: Iterable[Path]) -> list[Path]:
    """Staged fact files of refreshes killed before their commit (the caller holds the lock, no journal is left)."""
    removed = []
    for directory in set(directories):
        for path in directory.glob(f"*{STAGED_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def settle_switches(directories: Iterable[Path], store: CuboidStore) -> bool:
    """Whether the facts are settled: True when no switch is pending (one a crash left is finished here).

    False while a live refresh holds the lock mid-switch: the caller keeps reading what it read before.
    """
    directories = list(directories)
    if not pending_journals(directories):
        return True
    try:
        with store.lock():
            finish_switches(directories)
    except BuildInProgressError:
        return False
    return True
