"""The cuboid store on disk: versions, the atomic ``CURRENT`` switch, garbage collection, the build lock, and
what the engine does with a store it must not use (unreadable, corrupt or stale): answer from the facts and say why.

Engine tests run on the Cubes tutorial's IBRD balance sheet (62 rows: a build takes milliseconds), copied
with its model into a temporary project so the tests can change the facts and the model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, write_project
from fastapi.testclient import TestClient

import aggregates.store as store_module
from aggregates.errors import BuildInProgressError, CuboidStoreError
from aggregates.store import BuiltCuboid, CuboidStore, Manifest
from api.app import create_app
from cube_server.build import build_store
from cube_server.engine import CubeEngine
from cube_server.project import Project, load_project, model_hash, open_engine
from cube_server.query import DrilldownItem, PointCut, Query
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

HELLO = ROOT / "examples" / "hello_world"
HELLO_DATA = (ROOT / ".." / "shared" / "datasets" / "cubes_hello_world" / "data.csv").resolve()
CUBE = "irbd_balance"
# a query the store answers (from the year cuboid) and one more with a cut
QUERIES = [
    Query(CUBE, (), (DrilldownItem("year"),), ()),
    Query(CUBE, (PointCut("year", ("2010",)),), (DrilldownItem("item", None, "category"),), ("amount_sum",)),
    Query(CUBE, (), (), ()),
]


# ---- pure store ----------------------------------------------------------------------------------
def cuboid(name: str = "c", partitions: dict[str, int] | None = None) -> BuiltCuboid:
    return BuiltCuboid(
        name=name,
        cube="cube",
        grain=(("time", "default", "month"), ("product", "default", "line")),
        levels=("product.line", "time.month", "time.quarter", "time.year"),
        measures=("revenue", "subscribers"),
        path=f"cube/{name}",
        rows=42,
        bytes=1234,
        built_at="2025-01-01T00:00:00Z",
        built_from="facts",
        partition_level="time.year" if partitions else None,
        partitions=partitions or {},
    )


def manifest(version: str, *cuboids: BuiltCuboid) -> Manifest:
    return Manifest(version, "2025-01-01T00:00:00Z", "model-hash", "facts-version", cuboids)


def publish(store: CuboidStore, version: str, *cuboids: BuiltCuboid) -> Manifest:
    """What a build does: write a staging version, then publish it."""
    staging = store.staging_dir(version)
    (staging / "cube").mkdir(parents=True)
    (staging / "cube" / "data.parquet").write_bytes(b"not really parquet")
    built = manifest(version, *cuboids)
    store.publish(built)
    return built


def versions(store: CuboidStore) -> list[str]:
    return sorted(path.name for path in (store.root / "versions").iterdir())


def test_publish_switches_current_and_manifest_round_trips(tmp_path: Path) -> None:
    store = CuboidStore(tmp_path / "store")
    assert store.current_version() is None and store.current() is None and store.pointer_stamp() is None
    first = publish(store, "20250101T000001-aaaaaaaa", cuboid("a", {"2024": 10, "2025": 32}), cuboid("b"))
    assert json.loads(store.pointer.read_text()) == {"version": first.version, "previous": None, "retired": {}}
    assert store.current_version() == first.version and store.previous_version() is None
    loaded = store.current()
    assert loaded == first
    # partitions do not take part in equality: compare them on their own
    assert [c.partitions for c in loaded.cuboids] == [{"2024": 10, "2025": 32}, {}]
    assert loaded.cuboids_of("cube") == list(first.cuboids) and loaded.cuboids_of("other") == []
    assert isinstance(loaded.cuboids[0].grain[0], tuple) and isinstance(loaded.cuboids[0].levels, tuple)
    # the staging directory became the version directory, with its files and the manifest
    assert not store.staging_dir(first.version).exists()
    assert (store.version_dir(first.version) / "cube" / "data.parquet").read_bytes() == b"not really parquet"
    assert (store.version_dir(first.version) / "manifest.json").is_file()
    assert not (store.root / "CURRENT.tmp").exists()

    stamp = store.pointer_stamp()
    second = publish(store, "20250101T000002-bbbbbbbb", cuboid("c"))
    assert store.current_version() == second.version and store.current() == second
    assert store.pointer_stamp() != stamp
    assert versions(store) == [first.version, second.version]


def test_manifest_json_round_trip_and_format_check() -> None:
    built = manifest("v1", cuboid("a", {"2024": 1}), cuboid("b"))
    again = Manifest.from_json(built.to_json())
    assert again == built and again.cuboids[0].partitions == {"2024": 1}
    assert again.cuboids[0].spec == built.cuboids[0].spec
    raw = json.loads(built.to_json())
    raw["format"] = 99
    with pytest.raises(CuboidStoreError, match="unsupported store format"):
        Manifest.from_json(json.dumps(raw))


def test_current_is_replaced_atomically_while_readers_read(tmp_path: Path) -> None:
    """A reader polling ``CURRENT`` during many publishes always sees a whole pointer to a published version."""
    store = CuboidStore(tmp_path / "store")
    published: list[str] = []
    publish(store, "20250101T000000-00000000")
    published.append("20250101T000000-00000000")
    stop = threading.Event()
    seen: list[str] = []
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                text = store.pointer.read_text(encoding="utf-8")
                version = json.loads(text)["version"]
            except Exception as exc:  # noqa: BLE001 - any failure to read a whole pointer is the finding
                problems.append(repr(exc))
                continue
            seen.append(version)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for index in range(1, 30):
            version = f"20250101T{index:06d}-{index:08x}"
            published.append(version)
            publish(store, version)
    finally:
        stop.set()
        reader.join()
    assert problems == []
    assert seen and set(seen) <= set(published)
    assert store.current_version() == published[-1]


def test_gc_removes_staging_leftovers_and_versions_older_than_the_previous(tmp_path: Path) -> None:
    store = CuboidStore(tmp_path / "store", grace_s=0)  # no grace: versions switched away from go at once
    names = [f"20250101T00000{i}-{i:08x}" for i in range(1, 5)]
    publish(store, names[0])
    publish(store, names[1])
    assert versions(store) == names[:2]
    # a build that crashed while writing leaves its staging directory behind
    crashed = store.staging_dir("20250101T000009-deadbeef")
    (crashed / "cube" / "c").mkdir(parents=True)
    (crashed / "cube" / "c" / "data.parquet").write_bytes(b"half written")
    assert crashed.name in versions(store)
    publish(store, names[2])
    publish(store, names[3])
    # the current version and the one before it stay; older versions and the leftover are gone
    assert versions(store) == names[2:]
    assert store.current_version() == names[3]
    # another leftover: the next collection (each build starts with one) removes it, and only it
    store.staging_dir("20250101T000010-feedface").mkdir(parents=True)
    assert store.collect_garbage() == [".staging-20250101T000010-feedface"]
    assert versions(store) == names[2:]
    assert store.collect_garbage() == []


def test_gc_never_removes_the_current_version(tmp_path: Path) -> None:
    store = CuboidStore(tmp_path / "store")
    for name in ("20250101T000001-00000001", "20250101T000002-00000002", "20250101T000003-00000003"):
        publish(store, name)
    # roll back by hand to the oldest kept version: GC keeps it though newer ones exist
    store.pointer.write_text(json.dumps({"version": "20250101T000002-00000002"}))
    store.collect_garbage()
    assert "20250101T000002-00000002" in versions(store)
    assert store.current_version() == "20250101T000002-00000002"


# ---- the build lock ------------------------------------------------------------------------------------
TRY_LOCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from aggregates.errors import BuildInProgressError
    from aggregates.store import CuboidStore
    try:
        with CuboidStore(Path(sys.argv[1])).lock():
            print("locked")
    except BuildInProgressError as error:
        print("BuildInProgressError:", error.message)
    """
)
HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from aggregates.store import CuboidStore
    with CuboidStore(Path(sys.argv[1])).lock():
        print("holding", flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


def _python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def test_lock_held_here_makes_another_process_fail(tmp_path: Path) -> None:
    store = CuboidStore(tmp_path / "store")
    with store.lock():
        output, _ = _python(TRY_LOCK, str(store.root)).communicate(timeout=60)
        assert output.startswith("BuildInProgressError: another build or refresh of this store is running"), output
        # a second holder in the same process is refused too (flock is per open file)
        with pytest.raises(BuildInProgressError), store.lock():
            pass
    output, _ = _python(TRY_LOCK, str(store.root)).communicate(timeout=60)
    assert output.strip() == "locked"


def test_lock_held_by_another_process_refuses_a_build_here(tmp_path: Path) -> None:
    project = hello_project(tmp_path)
    facts = open_engine(project, Settings(), use_store=False)
    store = CuboidStore(project.store_dir)
    build_store(facts, store)
    before = store.current_version()
    with _python(HOLD_LOCK, str(store.root), stdin=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(BuildInProgressError), store.lock():
            pass
        with pytest.raises(BuildInProgressError):
            build_store(facts, store)
        # the refused build touched nothing
        assert store.current_version() == before
        assert versions(store) == [before]
        holder.stdin.close()
        holder.wait(timeout=60)
    # the holder's exit released the lock
    build_store(facts, store)
    assert store.current_version() != before


# ---- the engine and a store it must not use ----------------------------------------------------------
def hello_project(directory: Path, data: Path | None = None) -> Project:
    """The IBRD balance sheet with its own copy of the model and the CSV, and a store under ``directory``."""
    if not HELLO_DATA.is_file():
        pytest.skip(f"the Cubes tutorial data is not at {HELLO_DATA}")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "model.json", directory / "model.json")
    data_dir = directory / "data"
    data_dir.mkdir(exist_ok=True)
    shutil.copy(data or HELLO_DATA, data_dir / "data.csv")
    text = (HELLO / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('root = "../../../shared/datasets/cubes_hello_world"', f'root = "{data_dir}"')
    assert f'root = "{data_dir}"' in text
    text += f'\n[store]\ndirectory = "{directory / "store"}"\n'
    (directory / "cube-server.toml").write_text(text, encoding="utf-8")
    return load_project(directory)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return hello_project(tmp_path / "project")


@pytest.fixture
def built(project: Project) -> Iterator[Manifest]:
    report = build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    yield report.manifest


def answers(engine: CubeEngine) -> list[tuple[str, list[dict[str, object]], dict[str, object]]]:
    return [(r.meta.source, r.cells, r.summary) for r in (engine.aggregate(q) for q in QUERIES)]


def assert_answers_from_facts(project: Project, engine: CubeEngine) -> None:
    facts = open_engine(project, Settings(), use_store=False)
    assert answers(engine) == answers(facts)
    assert {source for source, _, _ in answers(engine)} == {"facts"}


def assert_api_answers_from_facts(engine: CubeEngine, status_prefix: str) -> None:
    client = TestClient(create_app(engine))
    listing = client.get(f"/v1/cubes/{CUBE}/cuboids")
    assert listing.status_code == 200, listing.text
    assert listing.json()["status"].startswith(status_prefix) and listing.json()["cuboids"] == []
    response = client.get(f"/v1/cubes/{CUBE}/aggregate", params={"drilldown": "year"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Cube-Source"] == "facts" and response.json()["meta"]["source"] == "facts"


def test_a_good_store_is_served(project: Project, built: Manifest) -> None:
    engine = open_engine(project, Settings())
    snapshot = engine.snapshot()
    assert snapshot.status == "serving" and snapshot.manifest == built
    assert built.model_hash == model_hash(project.model_path) and built.facts_version == project.version()
    sources = [source for source, _, _ in answers(engine)]
    assert sources[0] == "cuboid:year_year" and sources[2] != "facts"
    facts = open_engine(project, Settings(), use_store=False)
    assert [a[1:] for a in answers(engine)] == [a[1:] for a in answers(facts)]
    assert open_engine(project, Settings(), use_store=False).snapshot().status == "absent"


def test_no_store_yet_is_absent(project: Project) -> None:
    engine = open_engine(project, Settings())
    assert engine.snapshot().status == "absent"
    assert_answers_from_facts(project, engine)


def _manifest_path(store: CuboidStore) -> Path:
    version = store.current_version()
    assert version is not None
    return store.version_dir(version) / "manifest.json"


CORRUPTIONS = {
    "manifest is not JSON": lambda s: _manifest_path(s).write_text("{{{ not json"),
    "manifest is truncated": lambda s: _manifest_path(s).write_text(_manifest_path(s).read_text()[:100]),
    "manifest is missing": lambda s: _manifest_path(s).unlink(),
    "manifest lacks a field": lambda s: _manifest_path(s).write_text(
        json.dumps({k: v for k, v in json.loads(_manifest_path(s).read_text()).items() if k != "cuboids"})
    ),
    "manifest of another format": lambda s: _manifest_path(s).write_text(
        json.dumps({**json.loads(_manifest_path(s).read_text()), "format": 2})
    ),
    "manifest cuboid has unknown fields": lambda s: _manifest_path(s).write_text(
        json.dumps(
            {
                **(raw := json.loads(_manifest_path(s).read_text())),
                "cuboids": [{**c, "colour": "blue"} for c in raw["cuboids"]],
            }
        )
    ),
    "CURRENT is not JSON": lambda s: s.pointer.write_text("garbage"),
    "CURRENT names a missing version": lambda s: s.pointer.write_text(json.dumps({"version": "20990101T000000-0"})),
    "version directory is gone": lambda s: shutil.rmtree(_manifest_path(s).parent),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_unreadable_store_answers_from_facts_and_says_why(project: Project, built: Manifest, corruption: str) -> None:
    store = CuboidStore(project.store_dir)
    CORRUPTIONS[corruption](store)
    engine = open_engine(project, Settings())  # no exception: the engine loads
    status = engine.snapshot().status
    assert status.startswith("unreadable: "), status
    # the reason names the file that cannot be read, or the format it does not support
    assert ("cannot read" in status and ("CURRENT" in status or "manifest.json" in status)) or (
        status == "unreadable: unsupported store format 2"
    ), status
    assert_answers_from_facts(project, engine)
    assert_api_answers_from_facts(engine, "unreadable")


def test_running_engine_falls_back_to_facts_when_the_switched_version_is_unreadable(
    project: Project, built: Manifest
) -> None:
    engine = open_engine(project, Settings())
    assert engine.aggregate(QUERIES[0]).meta.source == "cuboid:year_year"
    store = CuboidStore(project.store_dir)
    # CURRENT is switched (atomically) to a version whose manifest cannot be read
    broken = store.version_dir("20990101T000000-broken")
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{")
    (store.root / "CURRENT.tmp").write_text(json.dumps({"version": broken.name}))
    os.replace(store.root / "CURRENT.tmp", store.pointer)
    assert engine.snapshot().status.startswith("unreadable")
    assert_answers_from_facts(project, engine)
    # a new build heals it, without a restart
    report = build_store(open_engine(project, Settings(), use_store=False), store)
    assert engine.snapshot().status == "serving"
    result = engine.aggregate(QUERIES[0])
    assert result.meta.source == "cuboid:year_year" and result.meta.version == report.manifest.version


def test_store_with_missing_cuboid_files_answers_from_facts(project: Project, built: Manifest) -> None:
    store = CuboidStore(project.store_dir)
    shutil.rmtree(store.version_dir(built.version) / CUBE / "year_year")
    engine = open_engine(project, Settings())
    assert engine.snapshot().status != "serving"
    assert_answers_from_facts(project, engine)


def test_store_built_for_another_model_is_never_used(project: Project, built: Manifest) -> None:
    raw = json.loads(project.model_path.read_text(encoding="utf-8"))
    raw["cubes"][0]["aggregates"][0]["label"] = "Amount, relabelled"
    project.model_path.write_text(json.dumps(raw), encoding="utf-8")
    assert model_hash(project.model_path) != built.model_hash
    engine = open_engine(project, Settings())
    assert engine.snapshot().status == "stale: built for another version of the model; run cube-server build"
    assert_answers_from_facts(project, engine)
    assert_api_answers_from_facts(engine, "stale")
    # key order and whitespace are not a change of model
    project.model_path.write_text(json.dumps(json.loads(HELLO.joinpath("model.json").read_text()), indent=7))
    assert open_engine(project, Settings()).snapshot().status == "serving"


def test_store_built_for_other_facts_is_never_used(project: Project, built: Manifest) -> None:
    engine_before = open_engine(project, Settings())
    before = engine_before.aggregate(QUERIES[0])
    assert before.meta.source == "cuboid:year_year"
    # the facts change: one amount of 2010 doubles
    csv = project.data_root / "data.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.split(",")[5] == "2010")
    fields = lines[index].split(",")
    fields[-1] = str(int(fields[-1]) * 2 + 1)
    lines[index] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert project.version() != built.facts_version
    engine = open_engine(project, Settings())
    assert engine.snapshot().status == "stale: the facts changed since the build; run cube-server build"
    after = engine.aggregate(QUERIES[0])
    assert after.meta.source == "facts" and after.cells != before.cells  # the stale cuboid would give `before`
    assert_answers_from_facts(project, engine)
    assert_api_answers_from_facts(engine, "stale")
    # a rebuild for the new facts is used again, and agrees with them
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    fresh = open_engine(project, Settings())
    assert fresh.snapshot().status == "serving"
    rebuilt = fresh.aggregate(QUERIES[0])
    assert rebuilt.meta.source == "cuboid:year_year" and rebuilt.cells == after.cells


# ---- garbage collection with real builds -----------------------------------------------------------
def _named_versions(store: CuboidStore, names: list[str]) -> None:
    """Make the store's next versions take these names (the form ``new_version`` gives: second + random hex)."""
    queue = iter(names)
    store.new_version = lambda: next(queue)  # type: ignore[method-assign]


def test_build_that_dies_after_moving_its_version_leaves_the_previous_current(
    project: Project, built: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between moving the finished version into place and switching CURRENT: nothing switches."""
    store = CuboidStore(project.store_dir)
    real_replace = os.replace

    def dies_at_switch(source: object, target: object) -> None:
        if Path(str(target)).name == "CURRENT":
            raise KeyboardInterrupt("killed")
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.os, "replace", dies_at_switch)
    with pytest.raises(KeyboardInterrupt):
        build_store(open_engine(project, Settings(), use_store=False), store)
    monkeypatch.undo()
    assert store.current_version() == built.version
    engine = open_engine(project, Settings())
    assert engine.snapshot().manifest == built
    assert engine.aggregate(QUERIES[0]).meta.version == built.version


def test_gc_keeps_the_previous_serving_version_after_an_unswitched_version(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CuboidStore(project.store_dir)
    facts = open_engine(project, Settings(), use_store=False)
    _named_versions(store, ["20250101T000001-aaaaaaaa", "20250101T000002-bbbbbbbb", "20250101T000003-cccccccc"])
    first = build_store(facts, store).manifest.version
    real_replace = os.replace

    def dies_at_switch(source: object, target: object) -> None:
        if Path(str(target)).name == "CURRENT":
            raise KeyboardInterrupt("killed")
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.os, "replace", dies_at_switch)
    with pytest.raises(KeyboardInterrupt):
        build_store(facts, store)
    monkeypatch.undo()
    assert store.current_version() == first
    third = build_store(facts, store).manifest.version
    assert store.current_version() == third
    # the version that served until this switch is the previous one: queries in flight may still read it
    assert first in versions(store), versions(store)


def test_gc_keeps_the_previous_version_when_builds_share_a_second(project: Project) -> None:
    store = CuboidStore(project.store_dir)
    facts = open_engine(project, Settings(), use_store=False)
    # new_version() gives "<UTC second>-<8 random hex digits>": here two builds in the same second
    _named_versions(store, ["20250101T000005-f0000000", "20250101T000005-00000000", "20250101T000006-11111111"])
    built = [build_store(facts, store).manifest.version for _ in range(3)]
    assert store.current_version() == built[2]
    assert built[1] in versions(store), f"previous {built[1]} deleted; kept {versions(store)}"


# ---- facts that change under a running engine ---------------------------------------------------------
def telecom_project(directory: Path, seed: int) -> Project:
    """20,000 generated telecom rows (Parquet, read in place at every query) and a store under ``directory``."""
    generate_telecom(directory / "data", 20_000, seed, chunk_rows=25_000)
    project = write_project(directory / "project", directory / "data")
    config = project / "cube-server.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{directory / "store"}"\n')
    return load_project(project)


TELECOM_TOTAL = Query("fixed_line_revenue", (), (DrilldownItem("product", None, "line"),), ("revenue",))


def test_running_engine_does_not_serve_cuboids_of_facts_that_changed_under_it(tmp_path: Path) -> None:
    project = telecom_project(tmp_path, seed=1)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    engine = open_engine(project, Settings())
    assert engine.aggregate(TELECOM_TOTAL).meta.source == "cuboid:line_segment"
    generate_telecom(project.data_root, 20_000, 2, chunk_rows=25_000)  # the same files, other facts
    facts = open_engine(load_project(project.root), Settings(), use_store=False).aggregate(TELECOM_TOTAL)
    routed = engine.aggregate(TELECOM_TOTAL)
    # e.g. routed {'revenue': Decimal('764509.00')} from cuboid:line_segment, facts {'revenue': Decimal('854002.72')}
    assert (routed.cells, routed.summary) == (facts.cells, facts.summary), (routed.meta.source, routed.summary)


def test_running_engine_serves_a_build_for_facts_that_changed_under_it(tmp_path: Path) -> None:
    project = telecom_project(tmp_path, seed=1)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    engine = open_engine(project, Settings())
    generate_telecom(project.data_root, 20_000, 2, chunk_rows=25_000)
    changed = load_project(project.root)
    build_store(open_engine(changed, Settings(), use_store=False), CuboidStore(changed.store_dir))
    assert open_engine(changed, Settings()).snapshot().status == "serving"  # a restarted server uses it
    assert engine.snapshot().status == "serving", engine.snapshot().status
    assert engine.aggregate(TELECOM_TOTAL).meta.source == "cuboid:line_segment"
