"""The key file: API keys, stored only as SHA-256 digests, each with an id, a name, roles and a creation time.

A key reads ``ck_<id>_<secret>``: the id is public (it names the key in listings and revocations), the
secret is 32 bytes from :mod:`secrets`. The file keeps the SHA-256 digest of the whole key, never the
key. A fast hash is enough here: with 256 random bits there is nothing to guess, so a slow password
hash (scrypt, PBKDF2) would only add latency to every request without adding safety.

Verification hashes the presented key and compares digests with :func:`hmac.compare_digest`; an
unknown or revoked id is compared against a dummy digest, so every attempt costs the same.

The file is re-read when it changes on disk, so a key revoked with ``cube-server keys revoke`` stops
working on a running server at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cube_server.access.watched import WatchedFile
from cube_server.errors import AccessConfigError

KEYS_FILE_NAME = "cube-server-keys.json"
KEY_PREFIX = "ck"
_DUMMY_DIGEST = hashlib.sha256(b"no key has this digest").hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    roles: tuple[str, ...]
    created: str
    sha256: str
    revoked: str | None = None

    def describe(self) -> dict[str, Any]:
        """What ``keys list`` shows: never the digest."""
        return {"id": self.id, "name": self.name, "roles": list(self.roles), "created": self.created,
                "revoked": self.revoked}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {**self.describe(), "sha256": self.sha256}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """``ck_<id>_<secret>`` -> id; None for anything else."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    return key_id


class KeyStore:
    """The key file at ``path`` (absent: no keys)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = WatchedFile(path, lambda body: _parse(path, body))

    def records(self) -> dict[str, KeyRecord]:
        """Every key of the file, revoked ones included, by id."""
        return self._file.current()

    def verify(self, key: str) -> KeyRecord | None:
        """The live key record whose digest equals ``key``'s, compared in constant time; else None."""
        key_id = key_id_of(key)
        record = self.records().get(key_id) if key_id is not None else None
        live = record is not None and record.revoked is None
        expected = record.sha256 if live and record is not None else _DUMMY_DIGEST
        matches = hmac.compare_digest(digest(key), expected)
        return record if matches and live else None

    def create(self, name: str, roles: list[str], defined_roles: Collection[str]) -> tuple[KeyRecord, str]:
        """A new key: its record (kept) and the key itself (returned once, never stored)."""
        name = name.strip()
        if not name:
            raise AccessConfigError("a key needs a name")
        defined = ", ".join(sorted(defined_roles))
        if not roles:
            raise AccessConfigError(f"a key needs at least one role (defined: {defined})")
        unknown = [role for role in roles if role not in defined_roles]
        if unknown:
            raise AccessConfigError(f"unknown role(s) {', '.join(unknown)}; defined: {defined}")
        records = self.records()
        key_id = secrets.token_hex(6)
        while key_id in records:
            key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        created = datetime.now(UTC).isoformat(timespec="seconds")
        record = KeyRecord(key_id, name, tuple(dict.fromkeys(roles)), created, digest(key))
        self._write([*records.values(), record])
        return record, key

    def revoke(self, key_id: str) -> KeyRecord:
        """Mark a key revoked (kept in the file, so the listing shows who had access until when)."""
        records = self.records()
        record = records.get(key_id)
        if record is None:
            raise AccessConfigError(f"no key with id {key_id!r}")
        if record.revoked is not None:
            return record
        revoked = KeyRecord(record.id, record.name, record.roles, record.created, record.sha256,
                            datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
        self._write([revoked if key.id == key_id else key for key in records.values()])
        return revoked

    def _write(self, records: list[KeyRecord]) -> None:
        """Written whole to a private (0600) file beside it, then renamed over it: never half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"keys": [record.to_json() for record in records]}, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, self.path)


def _parse(path: Path, body: Any) -> dict[str, KeyRecord]:
    if body is None:
        return {}
    if not isinstance(body, dict) or set(body) != {"keys"} or not isinstance(body["keys"], list):
        raise AccessConfigError(f'the key file {path} must be an object {{"keys": [...]}}')
    records = [_record(path, item) for item in body["keys"]]
    return {record.id: record for record in records}


def _record(path: Path, item: Any) -> KeyRecord:
    try:
        return KeyRecord(
            str(item["id"]), str(item["name"]), tuple(str(role) for role in item["roles"]), str(item["created"]),
            str(item["sha256"]), None if item.get("revoked") is None else str(item["revoked"]),
        )  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise AccessConfigError(f"a key of {path} lacks {exc}: each has id, name, roles, created, sha256") from exc
