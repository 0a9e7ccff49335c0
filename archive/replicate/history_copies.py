"""Earlier versions of manifests on remotes: `history/<name>.zip`, one bundle per kept version.

The catalog keeps every manifest file as it was before a change or removal replaced it
(`manifests/history/<kind>s/<id>/<revision>.toml`, `arkeep log --versions`). Those files are
written once and never change, so sync sends each one once: a bundle like every unit (the same
AES zip, the same password) holding the file's bytes as one entry `<name>.toml`, `name` being
the keyed BLAKE3 of the store's log id (archive/replicate/audit_copy.py), the kind, the id and
the file name, so two stores of one archive never take each other's name. Licence records keep
their secret values encrypted there, as in the store. `rebuild` brings every version back into
the history folder of its manifest (kind, id and revision read from the file itself), skipping
bytes already kept; nothing is ever deleted, on the remote or in the store.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import IntegrityError
from archive.replicate.audit_copy import own_copy_name
from archive.seal.engine import SealError, seal, unseal
from backends.errors import BackendError
from manifests.codec import parse_license, parse_release, parse_table
from manifests.errors import ManifestInvalid

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.storage.store import Store
    from backends.base import Backend

PREFIX = "history/"
MAX_VERSION = 4 * 1024 * 1024
_KEY = re.compile(r"history/([0-9a-f]{64})\.zip")
_KINDS = ("release", "license")


def kept_versions(store: Store) -> Iterator[tuple[str, str, Path]]:
    """(kind, id, file) of every kept earlier version in the store."""
    for kind in _KINDS:
        folder = store.catalog.root / "history" / f"{kind}s"
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and not sub.is_symlink():
                for path in sorted(sub.glob("*.toml")):
                    if path.is_file() and not path.name.startswith("."):
                        yield kind, sub.name, path


def push_history(store: Store, keyring: Keyring, backend: Backend) -> int:
    """Send the kept versions the remote lacks (one listing); returns how many were sent."""
    versions = list(kept_versions(store))
    if not versions:
        return 0
    lineage = own_copy_name(store, keyring, create=True)
    present = {info.key for info in backend.list(PREFIX)}
    sent = 0
    for kind, ident, path in versions:
        name = keyring.unit_name("history", f"{lineage}\0{kind}\0{ident}\0{path.name}")
        key = f"{PREFIX}{name}.zip"
        if key in present:
            continue
        data = path.read_bytes()
        with backend.open_write(key) as raw:
            seal(io.BytesIO(data), raw, password=keyring.zip_password, entry_name=f"{name}.toml",
                 size=len(data))
        sent += 1
    return sent


def take_history(store: Store, keyring: Keyring, backend: Backend) -> tuple[int, list[str]]:
    """Every kept version on the replica into the store's history; (how many were added, the
    problems: a version that does not authenticate or cannot be placed)."""
    added, problems = 0, []
    for info in backend.list(PREFIX):
        m = _KEY.fullmatch(info.key)
        if m is None:
            continue
        label = f"{info.key} on {backend.name}"
        try:
            data = _unsealed(backend, keyring, info.key, m.group(1))
            kind, ident = _kind_and_id(data, label)
        except (IntegrityError, ManifestInvalid, BackendError) as exc:
            problems.append(f"{label} (an earlier version of a manifest): {str(exc).split(': ')[-1]}; "
                            "not taken")
            continue
        try:
            added += store.catalog.add_version(kind, ident, data)
        except ValueError as exc:           # an id no manifest of ours could have
            problems.append(f"{label} (an earlier version of a manifest): {exc}; not taken")
    return added, problems


def _unsealed(backend: Backend, keyring: Keyring, key: str, name: str) -> bytes:
    out = io.BytesIO()
    try:
        with backend.open_read(key) as f:
            result = unseal(f, out, password=keyring.zip_password, max_size=MAX_VERSION)
    except SealError as exc:
        raise IntegrityError(str(exc)) from None
    if result.entry_name != f"{name}.toml":
        raise IntegrityError("holds another entry than its name says")
    return out.getvalue()


def _kind_and_id(data: bytes, label: str) -> tuple[str, str]:
    kind = parse_table(data, label).get("kind")
    if kind == "release":
        return "release", parse_release(data, label).id
    if kind == "license":
        return "license", parse_license(data, label, allow_plain_secrets=True).id
    raise IntegrityError(f"kind {kind!r} is not a manifest's")
