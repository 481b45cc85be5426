"""The store on disk: versions of cuboid files, a manifest per version, and an atomic pointer to the current one.

Layout::

    STORE/CURRENT                       {"version": "..."}: replaced atomically (write, fsync, rename)
    STORE/versions/<version>/manifest.json
    STORE/versions/<version>/<cube>/<cuboid>/[time__year=2025/]data_0.parquet
    STORE/build.lock                    held (flock) by the one build or refresh that may run at a time

A build writes a whole new version beside the current one and only then switches ``CURRENT``; readers
read ``CURRENT`` once per query and use that version's manifest from start to end, so a crash at any point
leaves the previous version serving. The previous version is kept for readers still on it; older ones go.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aggregates.errors import BuildInProgressError, CuboidStoreError
from aggregates.lattice import CuboidSpec

FORMAT = 1


@dataclass(frozen=True, slots=True)
class BuiltCuboid:
    name: str
    cube: str
    grain: tuple[tuple[str, str, str], ...]
    levels: tuple[str, ...]
    measures: tuple[str, ...]
    path: str  # relative to the version directory
    rows: int
    bytes: int
    built_at: str
    built_from: str  # "facts" or the name of the cuboid it was rolled up from
    partition_level: str | None = None
    partitions: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def spec(self) -> CuboidSpec:
        return CuboidSpec(self.name, self.grain, frozenset(self.levels), self.measures)


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    built_at: str
    model_hash: str
    facts_version: str
    cuboids: tuple[BuiltCuboid, ...]
    format: int = FORMAT

    def cuboids_of(self, cube: str) -> list[BuiltCuboid]:
        return [cuboid for cuboid in self.cuboids if cuboid.cube == cube]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise CuboidStoreError(f"unsupported store format {raw.get('format')!r}")
        cuboids = tuple(
            BuiltCuboid(
                **{
                    **item,
                    "grain": tuple(tuple(level) for level in item["grain"]),
                    "levels": tuple(item["levels"]),
                    "measures": tuple(item["measures"]),
                }
            )
            for item in raw["cuboids"]
        )
        return cls(raw["version"], raw["built_at"], raw["model_hash"], raw["facts_version"], cuboids, raw["format"])


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


DEFAULT_GRACE_S = 600


class CuboidStore:
    """``grace_s``: how long a version switched away from stays on disk for requests that pinned it."""

    def __init__(self, root: Path, grace_s: float = DEFAULT_GRACE_S) -> None:
        self.root = root
        self.grace_s = grace_s

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def version_dir(self, version: str) -> Path:
        return self.root / "versions" / version

    def _pointer(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.pointer.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CuboidStoreError(f"cannot read {self.pointer}: {exc}") from exc
        return raw if isinstance(raw, dict) else {}

    def current_version(self) -> str | None:
        version = self._pointer().get("version")
        return version if isinstance(version, str) else None

    def previous_version(self) -> str | None:
        """The version that served before the current one (queries in flight may still read it)."""
        version = self._pointer().get("previous")
        return version if isinstance(version, str) else None

    def retired(self) -> dict[str, float]:
        """Versions switched away from, with when (seconds since the epoch)."""
        raw = self._pointer().get("retired")
        if not isinstance(raw, dict):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float))}

    def is_kept(self, version: str) -> bool:
        """Whether ``version`` may still be read: the current one, or one retired less than the grace ago."""
        if not version or "/" in version or version.startswith("."):
            return False
        if version == self.current_version():
            return True
        retired_at = self.retired().get(version)
        return retired_at is not None and time.time() - retired_at < self.grace_s and self.version_dir(version).is_dir()

    def pointer_stamp(self) -> tuple[int, int] | None:
        """A cheap fingerprint of ``CURRENT`` (changes when a new version is switched in)."""
        try:
            stat = self.pointer.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_ino)

    def load(self, version: str) -> Manifest:
        path = self.version_dir(version) / "manifest.json"
        try:
            return Manifest.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CuboidStoreError(f"cannot read {path}: {exc}") from exc

    def current(self) -> Manifest | None:
        version = self.current_version()
        return self.load(version) if version else None

    def new_version(self) -> str:
        return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]

    def staging_dir(self, version: str) -> Path:
        return self.root / "versions" / f".staging-{version}"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's build lock, or raise :class:`BuildInProgressError` at once."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "build.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise BuildInProgressError("another build or refresh of this store is running") from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish(self, manifest: Manifest) -> None:
        """Move a finished staging version into place and switch ``CURRENT`` to it atomically."""
        self.prepare(manifest)
        self.publish_prepared(manifest.version)

    def prepare(self, manifest: Manifest) -> None:
        """Write a finished staging version's manifest: it can be published from now on, even by another process."""
        write_durably(self.staging_dir(manifest.version) / "manifest.json", manifest.to_json())

    def publish_prepared(self, version: str) -> None:
        """Publish a prepared version; steps done already are skipped (a refresh's journal may apply it twice)."""
        staging = self.staging_dir(version)
        final = self.version_dir(version)
        if staging.is_dir():
            os.replace(staging, final)
            fsync_directory(final.parent)
        if not (final / "manifest.json").is_file():
            raise CuboidStoreError(f"store version {version} was never prepared, or is gone")
        previous = self.current_version()
        if previous == version:
            return
        now = time.time()
        retired = {v: at for v, at in self.retired().items() if now - at < self.grace_s}
        if previous:
            retired[previous] = now
        pointer = {"version": version, "previous": previous, "retired": retired}
        write_durably(self.root / "CURRENT.tmp", json.dumps(pointer))
        os.replace(self.root / "CURRENT.tmp", self.pointer)
        fsync_directory(self.root)
        self.collect_garbage()

    def collect_garbage(self) -> list[str]:
        """Remove staging leftovers of crashed builds and versions older than the kept ones."""
        versions_dir = self.root / "versions"
        if not versions_dir.is_dir():
            return []
        # Keep what serves, what served just before, and what was switched away from less than the grace
        # ago (requests may pin it), by the pointer, never by name or age: a build killed after writing its
        # version but before switching leaves a version nobody ever served.
        now = time.time()
        keep = {version for version in (self.current_version(), self.previous_version()) if version}
        keep |= {version for version, at in self.retired().items() if now - at < self.grace_s}
        removed = []
        for path in versions_dir.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


def write_durably(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def store_summary(cuboid: BuiltCuboid) -> dict[str, Any]:
    return {
        "name": cuboid.name,
        "grain": [f"{d}@{h}:{level}" for d, h, level in cuboid.grain],
        "levels": sorted(cuboid.levels),
        "measures": list(cuboid.measures),
        "rows": cuboid.rows,
        "bytes": cuboid.bytes,
        "built_at": cuboid.built_at,
        "built_from": cuboid.built_from,
        "partition_level": cuboid.partition_level,
    }
