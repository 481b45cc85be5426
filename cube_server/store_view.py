"""The engine's view of the cuboid store: the current version, reloaded when a build switches it.

Each query takes one :class:`Snapshot` and uses it from start to end. A store built for another model or
other facts is never used: answers would not match the facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aggregates.errors import CuboidStoreError
from aggregates.store import CuboidStore, Manifest
from cube_models import ModelCatalog
from cube_models.errors import CubeError
from cube_server.backends import Backend
from cube_server.cuboids import CuboidSource
from cube_server.errors import VersionUnavailableError

log = logging.getLogger("cube_server.store")
MAX_PINNED = 4  # earlier versions held open at once for pinned requests
STATE_READS = 3  # times a new state is read while a refresh keeps switching under it


@dataclass(frozen=True, slots=True)
class Snapshot:
    status: str  # "serving", "absent", or why the store is not used
    manifest: Manifest | None = None
    sources: dict[tuple[str, str], CuboidSource] = field(default_factory=dict)
    pinned: bool = False  # an earlier version a request asked for, not the current one

    def sources_of(self, cube: str) -> list[CuboidSource]:
        return [source for (owner, _), source in self.sources.items() if owner == cube]


class StoreView:
    def __init__(
        self,
        store: CuboidStore | None,
        catalog: ModelCatalog,
        backend: Backend,
        model_hash: str,
        facts_version: Callable[[], str],
        reopen_facts: Callable[[], object] | None = None,
        settle_facts: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self._reopen_facts = reopen_facts
        self._settle_facts = settle_facts
        self.catalog = catalog
        self.backend = backend
        self.model_hash = model_hash
        self.measure_types: dict[str, dict[str, str]] = {}  # cube -> measure -> SQL type of its fact input
        self._facts_version = facts_version
        self.facts_version = facts_version()
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # held by the one question loading a new state
        self.facts_generation = 0  # counts up twice each time the state is swapped (odd while swapping)
        self._stamp: object = object()
        self._snapshot = Snapshot("absent")
        self._views: dict[str, list[str]] = {}  # version -> its views, oldest first
        self._pending_views: dict[str, list[str]] = {}  # loaded, not yet swapped in
        self._pinned: dict[str, Snapshot] = {}  # earlier versions requests pinned, oldest first
        self._pinned_views: dict[str, list[str]] = {}

    def snapshot(self) -> Snapshot:
        """The version to read now: reloaded when a build switched versions or the facts changed under us.

        The question that first sees a change loads the new state (the new version's cuboids, some read into
        memory: seconds at millions of rows) while every other question keeps reading the previous state,
        old facts and old version together. Only then are the fact tables reopened and the snapshot swapped,
        so nobody waits behind a load and a question in flight across the swap is asked again.
        """
        stamp = self._read_stamp()
        if stamp is None or stamp == self._stamp:
            return self._snapshot
        if not self._loading.acquire(blocking=False):
            return self._snapshot  # another question is loading the new state; the previous one is whole
        try:
            for _ in range(STATE_READS):
                if stamp == self._stamp:  # loaded while we waited for the loading lock
                    return self._snapshot
                started = time.monotonic()
                loaded = self._load(stamp[1]) if self.store is not None else None
                again = self._read_stamp()
                if again == stamp:
                    self._swap(stamp, loaded)
                    _log_loaded(loaded, time.monotonic() - started)
                    return self._snapshot
                if again is None:
                    return self._snapshot
                # A refresh switched while we read: the version and the facts read may not belong together
                # (a stale store, answering everything from the facts, until the next look). Read again.
                stamp = again
            return self._snapshot  # still moving: keep the previous state, the next question looks again
        finally:
            self._loading.release()

    def _read_stamp(self) -> tuple[object, str] | None:
        """The store pointer's stamp and the facts' fingerprint now; None while a refresh is switching them.

        The facts are read first: a refresh renames its fact files before it switches the pointer, so a
        pointer read after them is never older than they are.
        """
        facts_version = self._facts_version()
        if facts_version != self.facts_version:
            if self._settle_facts is not None and not self._settle_facts():
                # A refresh is switching fact files and store version this moment: keep to what we read.
                return None
            facts_version = self._facts_version()  # settling may have finished a switch a crash left
        return (self.store.pointer_stamp() if self.store is not None else None, facts_version)

    def wait_for_load(self) -> None:
        """Return once no question is loading a new state (the next :meth:`snapshot` then reads it)."""
        with self._loading:
            pass

    def _swap(self, stamp: tuple[object, str], loaded: Snapshot | None) -> None:
        """Serve ``loaded``, reopening the fact tables first if they changed.

        When the facts change the generation counts up twice, so it is odd while the swap runs: a question
        that noted it before the swap sees it move and is asked again (CubeEngine._consistent); one that meets
        an odd one waits for the swap to end (:meth:`generation`). A store switch alone needs no such care:
        the previous version's cuboids stay readable while questions may still be on it.
        """
        facts_version = stamp[1]
        facts_moved = facts_version != self.facts_version
        with self._lock:
            if facts_moved:
                self.facts_generation += 1
            try:
                if facts_moved and self._reopen_facts is not None:
                    self._reopen_facts()
                self.facts_version = facts_version
                if loaded is not None:
                    self._snapshot = loaded
                self._stamp = stamp
            finally:
                if facts_moved:
                    self.facts_generation += 1
            if loaded is not None and loaded.status == "serving" and loaded.manifest is not None:
                views = self._pending_views.pop(loaded.manifest.version, [])
                self._forget_old_views(loaded.manifest.version, views)

    def generation(self) -> int:
        """The facts generation to note before a question: never an odd one, which a swap under way shows."""
        generation = self.facts_generation
        if generation % 2:
            with self._lock:  # held for the whole swap
                generation = self.facts_generation
        return generation

    def facts_changed(self) -> bool:
        """Whether the fact files are other than the ones the engine reads (a refresh switched them in since)."""
        return self._facts_version() != self.facts_version

    def _load(self, facts_version: str) -> Snapshot:
        assert self.store is not None
        try:
            manifest = self.store.current()
        except CuboidStoreError as error:
            log.error("the cuboid store cannot be read; answering from the facts: %s", error.message)
            return Snapshot(f"unreadable: {error.message}")
        if manifest is None:
            return Snapshot("absent")
        if manifest.model_hash != self.model_hash:
            return Snapshot("stale: built for another version of the model; run cube-server build", manifest)
        if manifest.facts_version != facts_version:
            return Snapshot("stale: the facts changed since the build; run cube-server build", manifest)
        opened = self._open(manifest)
        if isinstance(opened, Snapshot):
            return opened
        sources, views = opened
        self._pending_views[manifest.version] = views  # dropped two versions later, once it is swapped in
        return Snapshot("serving", manifest, sources)

    def _open(
        self, manifest: Manifest, prefix: str = "cuboid"
    ) -> Snapshot | tuple[dict[tuple[str, str], CuboidSource], list[str]]:
        """Views over a version's cuboids, or the snapshot saying why they cannot be read."""
        assert self.store is not None
        version_dir = self.store.version_dir(manifest.version)
        damaged = [c.name for c in manifest.cuboids if not self.backend.cuboid_intact(version_dir, c)]
        if damaged:
            log.error("cuboid files missing or changed in version %s: %s", manifest.version, ", ".join(damaged))
            return Snapshot(f"unreadable: files of {', '.join(damaged)} are missing or changed; run cube-server build")
        sources = {}
        views = []
        in_memory = _fitting(manifest, self.backend.settings.cuboid_memory_rows)
        try:
            for cuboid in manifest.cuboids:
                cube = self.catalog.cube(cuboid.cube)
                view = f"{prefix}_{manifest.version}_{cuboid.cube}_{cuboid.name}"
                table, created = self.backend.open_cuboid(
                    view, version_dir, cuboid, (cuboid.cube, cuboid.name) in in_memory
                )
                measure_types = self.measure_types.get(cuboid.cube, {})
                sources[(cuboid.cube, cuboid.name)] = CuboidSource(cube, cuboid, table, measure_types)
                if created is not None:
                    views.append(created)
        except CubeError as error:
            log.error("the cuboid store cannot be read; answering from the facts: %s", error.message)
            return Snapshot(f"unreadable: {error.message}")
        return sources, views

    def pinned(self, version: str) -> Snapshot:
        """An earlier version a request pinned, while the store keeps it (its grace period after a switch)."""
        if self.store is None or not self.store.is_kept(version):
            raise VersionUnavailableError(
                f"store version {version!r} is not kept (unknown, or switched away from more than "
                f"{self.store.grace_s if self.store else 0:g} s ago); ask again without version=",
                version=version,
            )
        with self._lock:
            if version in self._pinned:
                return self._pinned[version]
            try:
                manifest = self.store.load(version)
            except CuboidStoreError as error:
                raise VersionUnavailableError(f"store version {version!r} cannot be read", version=version) from error
            # Views of their own: the current version's views are dropped two switches later.
            opened = self._open(manifest, "pinned") if manifest.model_hash == self.model_hash else None
            if not isinstance(opened, tuple):
                raise VersionUnavailableError(f"store version {version!r} cannot be served", version=version)
            snapshot = Snapshot("serving", manifest, opened[0], pinned=True)
            self._pinned[version] = snapshot
            self._pinned_views[version] = opened[1]
            while len(self._pinned) > MAX_PINNED:
                oldest = next(iter(self._pinned))
                self._pinned.pop(oldest)
                for view in self._pinned_views.pop(oldest):
                    self.backend.drop_relation(view)
            return snapshot

    def _forget_old_views(self, version: str, views: list[str]) -> None:
        """Keep the views of this version and the one before (queries may still read it); drop older ones."""
        self._views.pop(version, None)
        self._views[version] = views
        while len(self._views) > 2:
            old_version = next(iter(self._views))
            for view in self._views.pop(old_version):
                self.backend.drop_relation(view)


def _log_loaded(loaded: Snapshot | None, seconds: float) -> None:
    if loaded is None or loaded.manifest is None:
        return
    if loaded.status == "serving":
        log.info(
            "serving cuboid store version %s (%d cuboids), loaded in %.2f s",
            loaded.manifest.version,
            len(loaded.sources),
            seconds,
        )
    else:
        log.warning("cuboid store version %s not used: %s", loaded.manifest.version, loaded.status)


def _fitting(manifest: Manifest, budget: int) -> set[tuple[str, str]]:
    """The smallest cuboids whose rows fit in the memory budget together."""
    chosen, used = set(), 0
    for cuboid in sorted(manifest.cuboids, key=lambda c: (c.rows, c.cube, c.name)):
        if used + cuboid.rows > budget:
            break
        chosen.add((cuboid.cube, cuboid.name))
        used += cuboid.rows
    return chosen
