"""Which files the admin API may read: only those inside one directory (``CUBE_ADMIN_FILES``).

A refresh over HTTP names a file on the server's machine. Without a bound, a caller holding an admin key could
make the server read any file it can (another project's facts, ``/proc``, a device that never ends) and append
it to the facts. So a name is taken relative to that directory (an absolute name must lie inside it), every
link and ``..`` is resolved first, and what the refresh reads is the resolved file, so a link swapped in after
the check cannot lead elsewhere. The command line (``cube-server refresh``) reads what its user names.
"""

from __future__ import annotations

from pathlib import Path

from cube_models.errors import ForbiddenError
from cube_server.errors import InvalidParameterError
from cube_server.settings import Settings


def admin_files_dir(settings: Settings, project_root: Path) -> Path:
    """``CUBE_ADMIN_FILES`` (relative paths start at the project directory), resolved."""
    return (project_root / Path(settings.admin_files).expanduser()).resolve()


def admin_file(settings: Settings, project_root: Path, name: str) -> Path:
    """The file ``name`` names inside the admin files directory, resolved; refused when it lies outside."""
    if "\x00" in name:
        raise InvalidParameterError("a file name cannot hold a NUL character")
    directory = admin_files_dir(settings, project_root)
    try:
        resolved = (directory / name).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links, a name too long for the file system
        raise InvalidParameterError(f"cannot resolve the file name {name!r}: {exc}", file=name) from None
    if not resolved.is_relative_to(directory):
        raise ForbiddenError(
            f"the admin API reads files only inside {directory} (CUBE_ADMIN_FILES); {name!r} is outside it",
            file=name,
        )
    return resolved
