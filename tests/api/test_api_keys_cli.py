"""``cube-server keys``: create (the key printed once), list (never a secret or digest), revoke, roles; and a real
``cube-server serve`` process that needs a key, takes one, and refuses it once revoked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import CUBE, ROOT, write_project
from server_process import free_port, running_server, wait_until_ready

from api.cli import demo_settings, main
from api.client import CubeClient
from api.config import settings_from_env


@pytest.fixture
def project(tmp_path: Path, telecom_data: Path) -> Path:
    directory = write_project(tmp_path / "project", telecom_data)
    shutil.copy(ROOT / "examples" / "telecom" / "cube-server-roles.json", directory)
    return directory


def create_key(project: Path, capsys: pytest.CaptureFixture[str], name: str, *roles: str) -> str:
    arguments = ["keys", "create", str(project), "--name", name]
    for role in roles:
        arguments += ["--role", role]
    assert main(arguments) == 0
    printed = capsys.readouterr()
    assert "shown only now" in printed.err
    return printed.out.strip()


def test_keys_create_list_revoke(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = create_key(project, capsys, "Head office", "head_office")
    branch = create_key(project, capsys, "Guangdong", "guangdong_branch", "reader")
    stored = (project / "cube-server-keys.json").read_text(encoding="utf-8")
    digests = [hashlib.sha256(key.encode()).hexdigest() for key in (head, branch)]
    for key in (head, branch):
        assert key not in stored and key.split("_", 2)[2] not in stored
    assert all(digest in stored for digest in digests)

    assert main(["keys", "list", str(project)]) == 0
    listing = capsys.readouterr().out
    head_id = head.split("_")[1]
    assert head_id in listing and "Head office" in listing and "guangdong_branch,reader" in listing
    for secret in (head, branch, *digests):
        assert secret not in listing

    assert main(["keys", "revoke", str(project), head_id]) == 0
    assert f"key {head_id} (Head office) revoked at" in capsys.readouterr().out
    keys = {item["id"]: item for item in json.loads((project / "cube-server-keys.json").read_text())["keys"]}
    assert keys[head_id]["revoked"] is not None and keys[branch.split("_")[1]]["revoked"] is None


def test_keys_refuses_unknown_roles_ids_and_directories(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", str(project), "--name", "x", "--role", "chief"]) == 2
    assert "unknown role(s) chief" in capsys.readouterr().err
    assert main(["keys", "revoke", str(project), "nope"]) == 2
    assert "no key with id 'nope'" in capsys.readouterr().err
    assert main(["keys", "list", str(tmp_path)]) == 2
    assert "not a project directory" in capsys.readouterr().err
    assert not (project / "cube-server-keys.json").exists()


def test_keys_roles_lists_built_in_and_project_roles(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "roles", str(project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    roles = {line.split()[0]: line for line in lines[2:]}
    assert set(roles) == {"reader", "admin", "head_office", "guangdong_branch", "shenzhen_branch"}
    assert "yes" in roles["head_office"] and "yes" not in roles["guangdong_branch"]
    assert " all " in roles["head_office"] and "fixed_line_revenue=organisation:hq,gd " in roles["guangdong_branch"]


def test_keys_file_setting_moves_the_key_file(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "secrets" / "keys.json"
    monkeypatch.setenv("CUBE_KEYS_FILE", str(elsewhere))
    create_key(project, capsys, "Shenzhen", "shenzhen_branch")
    assert elsewhere.is_file() and not (project / "cube-server-keys.json").exists()


def test_the_demo_turns_anonymous_access_on_and_serve_leaves_it_off() -> None:
    assert demo_settings({}).anonymous
    assert not demo_settings({"CUBE_ANONYMOUS": "false"}).anonymous
    assert not settings_from_env({}).anonymous


@pytest.mark.e2e
def test_a_served_project_needs_a_key_and_refuses_it_once_revoked(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = create_key(project, capsys, "Shenzhen", "shenzhen_branch")
    with running_server(project, tmp_path / "server.log", anonymous="false") as base, httpx.Client() as http:
        refused = http.get(f"{base}/v1/cubes")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert http.get(f"{base}/cubes").json()["error"] == "not_authenticated"
        answered = http.get(f"{base}/v1/cubes", headers={"Authorization": f"Bearer {key}"})
        assert [cube["name"] for cube in answered.json()] == [CUBE]
        assert http.get(f"{base}/cubes", headers={"X-API-Key": key}).status_code == 200
        with CubeClient(base, headers={"X-API-Key": key}) as client:
            assert [cube["name"] for cube in client.cubes()] == [CUBE]
        assert main(["keys", "revoke", str(project), key.split("_")[1]]) == 0
        after = http.get(f"{base}/v1/cubes", headers={"Authorization": f"Bearer {key}"})
        assert after.status_code == 401 and after.json()["error"]["code"] == "unauthenticated"


@pytest.mark.e2e
def test_the_demo_process_answers_without_a_key(project: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = {name: value for name, value in os.environ.items() if name != "CUBE_ANONYMOUS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "api.cli", "demo", "--project", str(project), "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_until_ready(process, base, log)
            with httpx.Client() as http:
                assert [cube["name"] for cube in http.get(f"{base}/v1/cubes").json()] == [CUBE]
                assert http.get(f"{base}/ready").json()["cubes"] == [CUBE]
                refused = http.get(f"{base}/v1/cubes", headers={"X-API-Key": "ck_0_wrong"})
                assert refused.status_code == 401  # a wrong key is refused, never taken as anonymous
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert "anonymous access is on (roles: reader)" in log.read_text(errors="replace")
