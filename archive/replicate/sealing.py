"""Sealing the store's contents into units, and reading units back, authenticated.

The sealed form of a manifest carries what recovery without arkeep needs: licence secrets in
clear (the bundle's encryption protects them) and, for each artifact, the unit that holds it.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.crypto.keys import SecretBox
from archive.errors import IntegrityError
from archive.replicate.units import MANIFEST_KINDS, UnitNamer, UnitRef
from archive.seal.engine import SealError, SealResult, UnsealResult, seal, unseal
from archive.storage.writeback import WritebackWriter
from archive.system import durable
from manifests.codec import license_to_toml, parse_license, parse_release, release_to_toml
from manifests.model import License, Release, Secret
from manifests.stamp import revision_of, stamp

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

Progress = Callable[[int], None]


def _stamped(text: str, revision: int) -> bytes:
    """A manifest written before revisions (0) keeps the sealed form it always had."""
    return (stamp(text, revision) if revision else text).encode("utf-8")


def sealed_release_bytes(release: Release, namer: UnitNamer, revision: int = 0) -> bytes:
    arts = tuple(replace(a, unit=namer.object(a.blake3).name) for a in release.artifacts)
    return _stamped(release_to_toml(replace(release, artifacts=arts)), revision)


def sealed_revision(data: bytes) -> int:
    """The revision a sealed manifest carries (its digest line is checked when it is parsed)."""
    return revision_of(data)


def sealed_license_bytes(lic: License, box: SecretBox, revision: int = 0) -> bytes:
    def clear(s: Secret | None) -> Secret | None:
        return None if s is None else Secret(plain=box.open(s.token) if s.token else s.plain)
    opened = replace(lic, key=clear(lic.key), account_hint=clear(lic.account_hint),
                     extra_keys=tuple(clear(k) for k in lic.extra_keys))  # type: ignore[misc]
    return _stamped(license_to_toml(opened), revision)


def local_release_from_sealed(data: bytes, source: str) -> Release:
    release = parse_release(data, source)
    return replace(release, artifacts=tuple(replace(a, unit=None) for a in release.artifacts))


def local_license_from_sealed(data: bytes, source: str, box: SecretBox) -> License:
    lic = parse_license(data, source, allow_plain_secrets=True)

    def lock(s: Secret | None) -> Secret | None:
        return None if s is None else Secret(token=s.token or box.seal(s.plain or ""))
    return replace(lic, key=lock(lic.key), account_hint=lock(lic.account_hint),
                   extra_keys=tuple(lock(k) for k in lic.extra_keys))  # type: ignore[misc]


def seal_unit(src: BinaryIO, size: int, unit: UnitRef, dst: BinaryIO, keyring: Keyring,
              progress: Progress | None = None) -> SealResult:
    """Seal what `unit` holds into `dst`. A manifest is always stored (as every manifest unit
    has been); for an object the engine decides whether deflate is worth it."""
    return seal(src, dst, password=keyring.zip_password, entry_name=unit.entry_name, size=size,
                compress=False if unit.kind in MANIFEST_KINDS else None, progress=progress)


def check_unsealed(result: UnsealResult, unit: UnitRef, expected_digest: str | None, label: str) -> None:
    """The entry must be the one this unit should hold, with the digest we expect."""
    if result.entry_name != unit.entry_name:
        raise IntegrityError(f"{label}: the bundle holds another entry than its name says")
    if expected_digest is not None and result.blake3 != expected_digest:
        raise IntegrityError(f"{label}: content does not match its BLAKE3")


def unseal_unit(src: BinaryIO, unit: UnitRef, keyring: Keyring, dst: BinaryIO | None,
                expected_digest: str | None, label: str, max_size: int | None = None,
                progress: Progress | None = None) -> UnsealResult:
    try:
        result = unseal(src, dst, password=keyring.zip_password, max_size=max_size, progress=progress)
    except SealError as exc:
        raise type(exc)(f"{label}: {exc}") from None
    check_unsealed(result, unit, expected_digest, label)
    return result


def unseal_unit_bytes(src: BinaryIO, unit: UnitRef, keyring: Keyring, label: str,
                      max_size: int = 4 * 1024 * 1024) -> bytes:
    out = io.BytesIO()
    unseal_unit(src, unit, keyring, out, None, label, max_size=max_size)
    return out.getvalue()


def unseal_unit_to_file(src: BinaryIO, unit: UnitRef, keyring: Keyring, dest: Path, expected_digest: str,
                        label: str, progress: Progress | None = None,
                        max_size: int | None = None, sync_dir: bool = True) -> None:
    """Write the plaintext to a temp file next to `dest`; it takes `dest`'s name (read-only)
    only if it checks out, and durably (`sync_dir=False` for a file in the store's tmp/ that
    `Store.adopt` moves on, durably).

    `max_size`: the size the manifest gives the file. A bundle that declares more is refused
    before a byte is written (a zip bomb would otherwise fill the disk before its digest fails)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with durable.atomic_writer(dest, mode=0o444, prefix=".arkeep-unseal-", sync_dir=sync_dir) as out:
        # WritebackWriter: the pages go to disk as they are written, so the fsync is quick.
        unseal_unit(src, unit, keyring, WritebackWriter(out), expected_digest, label,
                    max_size=max_size, progress=progress)
