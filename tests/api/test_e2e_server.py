"""End to end: a real ``cube-server serve`` process on a free port, queried over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from conftest import CUBE, write_project
from server_process import free_port, wait_until_ready

from cube_server.cut_syntax import parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import Query


def server_command() -> list[str]:
    beside = Path(sys.executable).with_name("cube-server")
    script = str(beside) if beside.is_file() else shutil.which("cube-server")
    return [script] if script else [sys.executable, "-m", "api.cli"]


@pytest.mark.e2e
def test_server_process_answers_json_csv_and_arrow_like_the_engine(
    tmp_path: Path, telecom_data: Path, engine: CubeEngine
) -> None:
    project = write_project(tmp_path / "p", telecom_data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    expected = engine.aggregate(Query(CUBE, (), parse_drilldown("time:year"), ("revenue", "record_count")))
    url = f"{base}/v1/cubes/{CUBE}/aggregate"
    params = {"drilldown": "time:year", "measures": "revenue,record_count"}

    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*server_command(), "serve", str(project), "--port", str(port), "--log-level", "warning"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=os.environ | {"CUBE_ANONYMOUS": "true"},  # as the demo serves; keys: tests/api/test_api_access.py
        )
        try:
            wait_until_ready(process, base, log)
            with httpx.Client(timeout=30) as http:
                ready = http.get(f"{base}/ready").json()
                assert ready == {"status": "ready", "version": engine.version, "cubes": [CUBE]}

                # JSON: exact decimals, the same cells and summary as the in-process engine.
                response = http.get(url, params=params)
                assert response.status_code == 200, response.text
                body = json.loads(response.text, parse_float=Decimal)
                assert body["cells"] == expected.cells
                assert [str(cell["revenue"]) for cell in body["cells"]] == [str(c["revenue"]) for c in expected.cells]
                assert body["summary"] == expected.summary and str(body["summary"]["revenue"]) == str(
                    expected.summary["revenue"]
                )
                assert body["total_cell_count"] == len(expected.cells) == 2
                assert body["meta"]["source"] == "facts" and body["meta"]["version"] == engine.version
                assert response.headers["X-Cube-Source"] == "facts"
                assert response.headers["Server-Timing"].startswith("engine;dur=")
                assert response.headers["X-Request-ID"]

                # CSV over the wire.
                response = http.get(url, params={**params, "format": "csv"})
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/csv; charset=utf-8"
                rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
                assert rows == [
                    {
                        "time.year": str(c["time.year"]),
                        "revenue": format(c["revenue"], "f"),
                        "record_count": str(c["record_count"]),
                    }
                    for c in expected.cells
                ]
                assert json.loads(response.headers["X-Cube-Summary"], parse_float=Decimal) == expected.summary

                # Arrow over the wire, negotiated by Accept.
                response = http.get(url, params=params, headers={"Accept": "application/vnd.apache.arrow.stream"})
                assert response.status_code == 200
                assert response.headers["content-type"] == "application/vnd.apache.arrow.stream"
                table = ipc.open_stream(response.content).read_all()
                assert pa.types.is_decimal128(table.schema.field("revenue").type)
                assert pa.types.is_integer(table.schema.field("record_count").type)
                assert table.to_pylist() == expected.cells

                # Errors keep their envelope over real HTTP too.
                response = http.get(url, params={"cut": "a:b:c"}, headers={"X-Request-ID": "e2e-1"})
                assert response.status_code == 400
                assert response.json()["error"]["code"] == "invalid_cut"
                assert response.json()["error"]["request_id"] == "e2e-1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
