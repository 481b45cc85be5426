"""The ``cube-server`` command line, run in-process through ``api.cli.main`` (and once as a real process)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest
from conftest import CUBE, ROOT, write_project

from api.cli import main
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import Query

EXAMPLE = ROOT / "examples" / "telecom"
MODEL = EXAMPLE / "model.json"


@pytest.fixture(scope="module")
def project_dir(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("cli-project"), telecom_data)


def parse_table(text: str) -> tuple[list[str], list[list[str]], str]:
    """The CLI's table: a header line, a dashed rule, rows, then a '(n cell(s), ...)' footer."""
    lines = [line for line in text.splitlines() if line.strip()]
    rule = lines[1]
    assert set(rule.replace(" ", "")) == {"-"}, text
    # Column boundaries come from the dashed rule.
    spans, start = [], None
    for index, char in enumerate(rule + " "):
        if char == "-" and start is None:
            start = index
        elif char != "-" and start is not None:
            spans.append((start, index))
            start = None
    split = lambda line: [line[a : b if i < len(spans) - 1 else None].strip() for i, (a, b) in enumerate(spans)]  # noqa: E731
    return split(lines[0]), [split(line) for line in lines[2:-1]], lines[-1]


def text_of(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def broken_model() -> dict[str, Any]:
    model = json.loads(MODEL.read_text(encoding="utf-8"))
    broken = copy.deepcopy(model)
    cube = broken["cubes"][0]
    cube["aggregates"][0]["function"] = "median_of_everything"
    cube["dimensions"].append("weather")
    cube["mappings"]["time.year"]["extract"] = "fortnight"
    broken["dimensions"][0]["hierarchies"][1]["levels"].append("fortnight")
    cube["joins"][0]["master"] = "nowhere.geography_code"
    return broken


# ---- validate --------------------------------------------------------------------------------
def test_validate_example_project_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{MODEL}: valid"


def test_validate_model_file_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(MODEL)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_broken_model_lists_every_problem_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken_model()), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    problems = [line.strip() for line in lines[1:] if line.strip()]
    assert lines[0] == f"{path}: {len(problems)} problem(s)"
    expected = {
        "$.cubes[0].aggregates[0].function": "median_of_everything",
        "$.cubes[0].dimensions[6]": "weather",
        "$.dimensions[0].hierarchies[1].levels[3]": "fortnight",
        "$.cubes[0].joins[0].master": "nowhere",
    }
    for json_path, word in expected.items():
        assert any(f"{path}: {json_path}: " in line and word in line for line in problems), (json_path, out)
    assert any("mappings" in line and "extract" in line and "fortnight" in line for line in problems), out
    assert len(problems) >= 5


def test_validate_reports_no_phantom_problem_for_a_present_but_invalid_aggregate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = json.loads(MODEL.read_text(encoding="utf-8"))
    model["cubes"][0]["aggregates"][0]["function"] = "bogus"  # revenue, which arpu's formula uses
    path = tmp_path / "one-problem.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}: 1 problem(s)", out


@pytest.mark.parametrize(("content", "message"), [('{"cubes": [', "invalid JSON"), ("[]", "$")])
def test_validate_unreadable_model_is_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "model.json"
    path.write_text(content, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: $" in out and message in out


# ---- query and explain -----------------------------------------------------------------------
def test_query_prints_a_table_matching_the_engine(
    project_dir: Path, engine: CubeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", str(project_dir), CUBE, "--drilldown", "product:line", "--measures", "revenue"]) == 0
    header, rows, footer = parse_table(capsys.readouterr().out)
    expected = engine.aggregate(Query(CUBE, (), parse_drilldown("product:line"), ("revenue",)))
    assert header == ["product.line", "product.line.label", "revenue"]
    assert rows == [[text_of(cell[name]) for name in header] for cell in expected.cells]
    assert footer.startswith(f"({len(expected.cells)} cell(s), ") and footer.endswith("source facts)")


def test_query_with_cut_and_order(project_dir: Path, engine: CubeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "query",
        str(project_dir),
        CUBE,
        "--cut",
        "time:2025",
        "--drilldown",
        "channel",
        "--measures",
        "revenue,record_count",
        "--order",
        "revenue:desc",
        "--limit",
        "2",
    ]
    assert main(argv) == 0
    header, rows, _ = parse_table(capsys.readouterr().out)
    everything = engine.aggregate(
        Query(CUBE, parse_cuts("time:2025"), parse_drilldown("channel"), ("revenue", "record_count"))
    )
    top = sorted(everything.cells, key=lambda cell: cell["revenue"], reverse=True)[:2]
    assert rows == [[text_of(cell[name]) for name in header] for cell in top]


def test_query_without_drilldown_prints_the_summary(
    project_dir: Path, engine: CubeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", str(project_dir), CUBE, "--measures", "revenue,record_count,arpu"]) == 0
    header, rows, footer = parse_table(capsys.readouterr().out)
    summary = engine.aggregate(Query(CUBE, measures=("revenue", "record_count", "arpu"))).summary
    assert header == ["revenue", "record_count", "arpu"]
    assert rows == [[text_of(summary[name]) for name in header]]
    assert footer.startswith("(1 cell(s), ")


def test_query_unknown_cube_exits_2_with_message(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(project_dir), "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: no cube named 'nope'" in captured.err


def test_query_bad_cut_exits_2_with_message(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(project_dir), CUBE, "--cut", "a:b:c"]) == 2
    assert "error:" in capsys.readouterr().err


def test_explain_prints_sql_with_bound_parameters(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "explain",
        str(project_dir),
        CUBE,
        "--cut",
        "product:value_added",
        "--drilldown",
        "time:year",
        "--measures",
        "revenue",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("source: facts\ngrain: ")
    assert "time.year" in out.splitlines()[1]
    assert [line for line in out.splitlines() if line.startswith("-- ") and "parameters" not in line] == [
        "-- cells",
    ]
    # Unpaged, the cells themselves are counted (fetching at most max_cells + 1), and a sum's summary is
    # merged from them: one statement.
    assert out.count("SELECT") >= 1 and "?" in out
    assert "'value_added'" in out.split("-- parameters:", 1)[1].splitlines()[0], "the cut value is a bound parameter"
    sql = "\n".join(line for line in out.splitlines() if not line.startswith("-- parameters:"))
    assert "value_added" not in sql


# ---- generate --------------------------------------------------------------------------------
def test_generate_writes_manifest_and_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "generated"
    assert main(["generate", "--rows", "2000", "--seed", "1", "--out", str(out)]) == 0
    assert "wrote 2,000 rows" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == 2000 and manifest["seed"] == 1
    facts = sorted((out / "facts").glob("*.parquet"))
    assert facts and sum(pq.read_metadata(path).num_rows for path in facts) == 2000
    for name in ("geography", "organisation", "product", "customer", "channel"):
        assert (out / f"{name}.parquet").is_file()


def test_generate_is_deterministic_for_a_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        assert main(["generate", "--rows", "500", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    first = pq.read_table(sorted((tmp_path / "a" / "facts").glob("*.parquet")))
    second = pq.read_table(sorted((tmp_path / "b" / "facts").glob("*.parquet")))
    assert first.equals(second)


# ---- schema ----------------------------------------------------------------------------------
def test_schema_is_a_valid_2020_12_schema_accepting_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    example = json.loads(MODEL.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(example)) == []
    broken = broken_model()
    paths = [list(error.absolute_path) for error in validator.iter_errors(broken)]
    assert any(path[:4] == ["cubes", 0, "aggregates", 0] for path in paths), paths


# ---- argument handling and the installed script ------------------------------------------------
def test_missing_subcommand_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "usage: cube-server" in capsys.readouterr().err


def _script() -> str:
    beside = Path(sys.executable).with_name("cube-server")
    found = str(beside) if beside.is_file() else shutil.which("cube-server")
    if found is None:
        pytest.skip("the cube-server script is not installed")
    return found


def test_installed_script_prints_help() -> None:
    result = subprocess.run([_script(), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cube-server")
    for command in ("demo", "serve", "generate", "validate", "query", "explain", "schema"):
        assert command in result.stdout
