"""``cube-server keys``: create, list and revoke the API keys of a project; list the roles they may hold.

A key is printed once, when it is created; the key file keeps only its SHA-256 digest, and ``keys list``
shows neither. Settings (``CUBE_KEYS_FILE``, ``CUBE_ROLES_FILE``) say where the files are, as for ``serve``.
Creating and revoking a key are written to the audit log, by id, name and roles (never the key).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from api.config import settings_from_env
from api.text_table import text_table
from cube_server.access import KeyStore, Role, RoleBook, keys_path, roles_path
from cube_server.audit import command_line_operation
from cube_server.project import CONFIG_NAME


def add_keys_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser("keys", help="create, list and revoke API keys; list the roles keys may hold")
    actions = keys.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a key and print it (once: only its digest is kept)")
    create.add_argument("project", type=Path)
    create.add_argument("--name", required=True, help="who or what holds the key")
    create.add_argument("--role", action="append", default=[], required=True, help="a role (repeat for more)")
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="list the keys (id, name, roles, created, revoked; never secrets)")
    listing.add_argument("project", type=Path)
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id (a running server refuses it at once)")
    revoke.add_argument("project", type=Path)
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)

    roles = actions.add_parser("roles", help="list the roles (built in and from the roles file)")
    roles.add_argument("project", type=Path)
    roles.set_defaults(handler=_roles)


def _project_root(path: Path) -> Path:
    if not (path / CONFIG_NAME).is_file():
        raise ValueError(f"{path} is not a project directory (it has no {CONFIG_NAME})")
    return path


def _store(args: argparse.Namespace) -> KeyStore:
    return KeyStore(keys_path(settings_from_env(), _project_root(args.project)))


def _role_book(args: argparse.Namespace) -> RoleBook:
    return RoleBook(roles_path(settings_from_env(), _project_root(args.project)))


def _audited(args: argparse.Namespace, action: str, **details: Any) -> AbstractContextManager[dict[str, Any]]:
    return command_line_operation(settings_from_env(), _project_root(args.project), action, **details)


def _create(args: argparse.Namespace) -> int:
    store = _store(args)
    with _audited(args, "keys.create", name=args.name, roles=args.role) as audited:
        record, key = store.create(args.name, args.role, _role_book(args).roles())
        audited["key_id"] = record.id
    print(key)
    print(
        f"created key {record.id} ({record.name}; roles {', '.join(record.roles)}) in {store.path}\n"
        "the key is shown only now: the file keeps its SHA-256 digest alone",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:

    records = _store(args).records().values()
    rows = [[r.id, r.name, ",".join(r.roles), r.created, r.revoked or ""] for r in records]
    print(text_table(["id", "name", "roles", "created", "revoked"], rows))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _audited(args, "keys.revoke", key_id=args.key_id) as audited:
        record = _store(args).revoke(args.key_id)
        audited["name"] = record.name
    print(f"key {record.id} ({record.name}) revoked at {record.revoked}")
    return 0


def _restrictions(role: Role) -> str:
    """``all``, or each restriction as ``cube=cuts``."""
    described = role.describe().get("restrict", {})
    return "; ".join(f"{cube}={cuts}" for cube, cuts in described.items()) or "all"


def _roles(args: argparse.Namespace) -> int:

    book = _role_book(args)
    rows = [
        [role.name, ",".join(sorted(role.cubes)), "yes" if role.admin else "", _restrictions(role), role.description]
        for role in book.roles().values()
    ]
    print(text_table(["role", "cubes", "admin", "rows", "description"], rows))
    return 0
