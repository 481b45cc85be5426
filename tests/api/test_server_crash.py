"""``cube-server serve`` killed with SIGKILL while it answers: restarted on the same store, it answers exactly the same.

A module fixture builds the store of the session's generated data into a temporary project. A real server
process answers a fixed set of questions (cuboid and fact reads, a pivot, members, a fact page, the Slicer
aggregate); then, several times, eight clients ask those questions as fast as they can, the server is
killed with SIGKILL after a seeded random delay while they wait for answers, and a new server is started on
the same port, project and store. Every answer given before a kill, and every answer after a restart, equals
the first answers byte for byte but for the timing; the store version and the store on disk are unchanged.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CUBE, write_project
from server_process import start_server, stop_server

from aggregates.store import CuboidStore
from cube_server.build import build_store
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings

pytestmark = pytest.mark.e2e

SEED = 20251124
KILLS = 3
CLIENTS = 8
V1 = f"/v1/cubes/{CUBE}"
QUESTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "years": (f"{V1}/aggregate", {"drilldown": "time:year", "measures": "revenue,record_count,subscribers"}),
    "segment_branch": (
        f"{V1}/aggregate",
        {"cut": "time:2025", "drilldown": "customer:segment|organisation:city_branch", "measures": "subscribers"},
    ),
    "cities_from_facts": (f"{V1}/aggregate", {"cut": "time:2024,2", "drilldown": "geography:city", "limit": "20"}),
    "pivot": (f"{V1}/pivot", {"rows": "product:line", "columns": "time:year", "measures": "revenue,record_count"}),
    "members": (f"{V1}/members/geography", {"level": "province", "limit": "10", "offset": "3"}),
    "facts": (f"{V1}/facts", {"cut": "time:2025,1,3", "limit": "20", "offset": "5"}),
    "slicer": (f"/cube/{CUBE}/aggregate", {"cut": "time:2025", "drilldown": "product:line"}),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, telecom_data: Path) -> Project:
    directory = write_project(tmp_path_factory.mktemp("server-crash"), telecom_data)
    config = directory / "cube-server.toml"
    store = directory / "store-for-crashes"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{store}"\n', encoding="utf-8")
    project = load_project(directory)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    return project


def without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_timing(item) for key, item in value.items() if key != "elapsed_ms"}
    if isinstance(value, list):
        return [without_timing(item) for item in value]
    return value


def answer(http: httpx.Client, name: str) -> tuple[int, Any]:
    path, params = QUESTIONS[name]
    response = http.get(path, params=params)
    return response.status_code, without_timing(response.json())


def store_files(project: Project) -> dict[str, int]:
    """Every file of the store but the query log (which the server appends to) with its size."""
    root = project.store_dir
    return {
        str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file() and "query-log" not in p.name
    }


def ask_until_gone(base: str, seed: int, answered: list[tuple[str, tuple[int, Any]]], failed: list[str]) -> None:
    """Ask random questions one after another until the server goes away."""
    ask = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as http:
        while True:
            name = ask.choice(list(QUESTIONS))
            try:
                answered.append((name, answer(http, name)))
            except httpx.TransportError:
                failed.append(name)  # the kill cut this one off (or the server is gone)
                return


def test_kill_9_while_answering_then_restart_answers_exactly_the_same(project: Project, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    store = CuboidStore(project.store_dir)
    version = store.current_version()
    files = store_files(project)
    process, base = start_server(project.root, log)
    port = int(base.rsplit(":", 1)[1])
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            first = {name: answer(http, name) for name in QUESTIONS}
        assert all(status == 200 for status, _ in first.values()), first
        assert {body["meta"]["version"] for name, (_, body) in first.items() if name != "slicer"} == {version}
        assert first["years"][1]["meta"]["source"].startswith("cuboid:")
        assert first["cities_from_facts"][1]["meta"]["source"] == "facts"

        rng = random.Random(SEED)
        for attempt in range(KILLS):
            answered: list[tuple[str, tuple[int, Any]]] = []
            failed: list[str] = []

            seeds = [SEED * 100 + attempt * CLIENTS + n for n in range(CLIENTS)]
            clients = [threading.Thread(target=ask_until_gone, args=(base, s, answered, failed)) for s in seeds]
            for client in clients:
                client.start()
            started = time.monotonic()
            while len(answered) < CLIENTS and time.monotonic() - started < 60:
                time.sleep(0.01)  # every client is answered at least once: the server is busy answering
            delay = rng.uniform(0.05, 1.0)
            time.sleep(delay)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            for client in clients:
                client.join(timeout=60)
            context = f"kill {attempt} after {delay:.2f} s (seed {SEED})"
            assert answered and failed, context  # it was killed while answering
            for name, given in answered:
                assert given == first[name], f"{context}: {name}"
            assert store.current_version() == version and store_files(project) == files, context

            process, base = start_server(project.root, log, port=port)
            with httpx.Client(base_url=base, timeout=60) as http:
                assert http.get("/ready").json()["status"] == "ready"
                again = {name: answer(http, name) for name in QUESTIONS}
            for name in QUESTIONS:
                assert again[name] == first[name], f"{context}: {name} after the restart"
    finally:
        stop_server(process)
