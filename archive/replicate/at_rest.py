"""Which objects the store keeps encrypted at rest, and the work that follows from it.

The rule (docs/FORMAT.md, docs/THREATS.md): every artifact that is not an installer (licence
files, invoices, receipts, docs, other files) is a document a purchase left behind, and such
documents print the key, the buyer's name and address and the order number; an object that any
such artifact names is kept encrypted (archive/storage/objcrypt.py). Installers are kept plain: they are
the vendor's public bytes, often gigabytes, and `b3sum` checks them by hand. A role decides, not
the content, so `rebuild` and `repair` make the same choice without reading the bytes; `add`
also refuses a small file given as an installer that holds a known key in clear.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.errors import UsageError
from archive.replicate.units import UnitRef
from archive.storage.hashing import Progress
from archive.storage.store import Store
from archive.system import oscompat
from manifests.model import Release

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

PLAIN_ROLES = frozenset({"installer", "signature"})   # public, as the file a signature signs
# Installers up to this size are searched for the licence key before they are archived plain
# (a `serial.txt` or `.reg` file given as an installer); bigger ones are vendor images.
KEY_SEARCH_MAX = 64 * 1024 * 1024
MIN_KEY_LENGTH = 6
_READ = 1024 * 1024


def kept_encrypted(role: str) -> bool:
    return role not in PLAIN_ROLES


def encrypted_digests(releases: Iterable[Release]) -> set[str]:
    """The objects that must be encrypted at rest: those named by any non-installer artifact."""
    return {a.blake3 for r in releases for a in r.artifacts if kept_encrypted(a.role)}


def key_patterns(keys: Iterable[str]) -> list[bytes]:
    """How a key appears in a file: UTF-8 and UTF-16-LE (Windows .reg and .msg text)."""
    out: list[bytes] = []
    for key in keys:
        key = key.strip()
        if len(key) >= MIN_KEY_LENGTH:
            out += [key.encode("utf-8"), key.encode("utf-16-le")]
    return out


def file_holds(path: Path, patterns: list[bytes]) -> bool:
    """Does the file contain any pattern? Read in pieces that overlap by the longest pattern."""
    if not patterns:
        return False
    keep = max(len(p) for p in patterns) - 1
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(_READ):
            window = tail + chunk
            if any(p in window for p in patterns):
                return True
            tail = window[-keep:] if keep else b""
    return False


def refuse_keys_in_installers(installers: Iterable[Path], keys: Iterable[str]) -> None:
    patterns = key_patterns(keys)
    for path in installers:
        if patterns and os.path.getsize(path) <= KEY_SEARCH_MAX and file_holds(path, patterns):
            raise UsageError(f"{path.name} holds the licence key in clear; archive it with "
                             "--license-file (kept encrypted), not as an installer")


def plain_documents(store: Store, releases: Iterable[Release]) -> list[str]:
    """Objects that should be encrypted but are still plain (stores from before 2026-12)."""
    return sorted(d for d in encrypted_digests(releases)
                  if not store.is_encrypted(d) and store.object_path(d).is_file())


def encrypt_documents(store: Store, releases: Iterable[Release], keyring: Keyring) -> int:
    """Encrypt every plain object that the rule says to keep encrypted; return how many."""
    todo = plain_documents(store, releases)
    for digest in todo:
        store.encrypt_object(digest, keyring)
    return len(todo)


def unseal_into_store(store: Store, src: BinaryIO, unit: UnitRef, keyring: Keyring, digest: str,
                      label: str, progress: Progress | None, max_size: int, encrypt: bool) -> None:
    """Bring an object back from its sealed unit (rebuild, repair): checked against its BLAKE3
    before it takes its name; a document is encrypted on the way in, so its plaintext never
    touches the disk."""
    from archive.replicate.sealing import unseal_unit, unseal_unit_to_file
    from archive.storage.objcrypt import EncryptingWriter

    if not encrypt:
        with tempfile.TemporaryDirectory(dir=store.tmp_dir) as tmpdir:
            tmp = Path(tmpdir) / "object"
            unseal_unit_to_file(src, unit, keyring, tmp, digest, label, progress, max_size=max_size,
                                sync_dir=False)
            store.adopt(tmp, digest)
        return
    fd, tmp = tempfile.mkstemp(dir=store.tmp_dir, prefix="fetch-")
    try:
        try:
            writer = EncryptingWriter(fd, keyring.documents, max_size)
            unseal_unit(src, unit, keyring, writer, digest, label,  # type: ignore[arg-type]
                        max_size=max_size, progress=progress)
            writer.close()
            os.fsync(fd)
        finally:
            os.close(fd)
        store.adopt_encrypted(Path(tmp), digest)
    finally:
        oscompat.unlink(tmp, missing_ok=True)
