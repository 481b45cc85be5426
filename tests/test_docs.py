"""Documentation drift checks: every setting and every CLI command is described in the README."""

from __future__ import annotations

from pathlib import Path

from api.cli import _parser
from cube_server.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    for name, description in Settings.descriptions().items():
        assert description, name
        assert f"CUBE_{name.upper()}" in README, f"setting {name} is missing from the README"


def test_every_command_is_documented() -> None:
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        assert f"cube-server {command}" in README, f"command {command} is missing from the README"
