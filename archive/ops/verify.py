"""`arkeep verify` (local): every manifest valid, every reference resolvable, every object re-hashed.

Cheap checks run first (manifests, presence, sizes), digests last; every problem is collected and
named by release, file and what is wrong, as bagit does, rather than stopping at the first.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import IntegrityError
from archive.replicate.at_rest import plain_documents
from archive.replicate.units import KIND_LICENSE, KIND_RELEASE
from archive.storage import audit_log
from archive.storage.hashing import hash_file, hash_stream
from archive.storage.store import Store
from manifests.errors import ManifestInvalid
from manifests.model import Release

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring


@dataclass(frozen=True)
class Finding:
    """One problem: where (release, file, copy) and what."""

    what: str
    release: str | None = None
    filename: str | None = None
    copy: str = "local store"

    def __str__(self) -> str:
        where = " / ".join(x for x in (self.release, self.filename) if x)
        return f"{where}: {self.what} ({self.copy})" if where else f"{self.what} ({self.copy})"


@dataclass
class VerifyReport:
    releases: int = 0
    licenses: int = 0
    objects_checked: int = 0
    bytes_checked: int = 0
    problems: list[Finding] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)
    bad_objects: set[str] = field(default_factory=set)
    # Documents from before encryption at rest, still plain: `arkeep repair` encrypts them.
    plain_documents: int = 0
    # (kind, id, path) of every manifest that cannot be read as written: what repair mends.
    damaged_manifests: list[tuple[str, str, Path]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: Store, sample: float | None = None, keyring: Keyring | None = None,
                 progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> VerifyReport:
    report = VerifyReport()
    store.catalog.check_index()     # verify reads every manifest anyway; the index catches up
    releases = _check_manifests(store, report, keyring)
    wanted: dict[str, list[tuple[Release, str, int]]] = {}
    for release in releases:
        for art in release.artifacts:
            wanted.setdefault(art.blake3, []).append((release, art.filename, art.size))
    present = {digest for digest, _ in store.iter_objects()}
    report.unreferenced = sorted(present - set(wanted))
    to_hash = []
    for digest, uses in sorted(wanted.items()):
        if digest not in present:
            report.bad_objects.add(digest)
            for release, name, _ in uses:
                report.problems.append(Finding("object missing from the store", release.id, name))
            continue
        actual = _plain_size(store, digest)
        bad = [(r, n, s) for r, n, s in uses if s != actual]
        if bad:
            report.bad_objects.add(digest)
        for release, name, size in bad:
            what = (f"size is {actual} bytes, manifest says {size}" if actual is not None
                    else "encrypted copy damaged (its length fits no size)")
            report.problems.append(Finding(what, release.id, name))
        if not bad:
            to_hash.append((digest, uses, actual))
    if sample is not None and sample < 1.0:
        to_hash = random.sample(to_hash, k=max(1, round(len(to_hash) * sample))) if to_hash else []
    progress = progress_for(sum(s for *_, s in to_hash)) if progress_for else None
    for digest, uses, size in to_hash:
        what = _check_object(store, digest, keyring, progress)
        report.objects_checked += 1
        report.bytes_checked += size
        if what:
            report.bad_objects.add(digest)
            for release, name, _ in uses:
                report.problems.append(Finding(what, release.id, name))
    report.plain_documents = len(plain_documents(store, releases))
    for what in audit_log.check(store, keyring):
        report.problems.append(Finding(what, "audit log",
                                       f"{audit_log.LOG_DIR}/{audit_log.LOG_FILE}"))
    return report


def _plain_size(store: Store, digest: str) -> int | None:
    if store.is_encrypted(digest):
        from archive.storage.objcrypt import plain_size
        return plain_size(store.encrypted_path(digest))
    return store.object_path(digest).stat().st_size


def _check_object(store: Store, digest: str, keyring: Keyring | None,
                  progress: Callable[[int], None] | None) -> str | None:
    """What is wrong with one object, or None. An object kept encrypted is decrypted and
    re-hashed when the passphrase is at hand; without it, its bytes are checked against the
    BLAKE3 written at its end (rot shows; only the passphrase proves the plaintext)."""
    if not store.is_encrypted(digest):
        found = hash_file(store.object_path(digest), progress)
        return None if found == digest else f"content does not match its BLAKE3 (found {found[:16]}…)"
    from archive.storage.objcrypt import trailer_matches
    path = store.encrypted_path(digest)
    if keyring is None:
        return None if trailer_matches(path, progress) else \
            "encrypted copy damaged (its bytes no longer match the digest written with them)"
    try:
        with store.open_object(digest, keyring) as f:
            found, _ = hash_stream(f, 0, progress)
    except IntegrityError:
        return "encrypted copy damaged (does not authenticate)"
    return None if found == digest else f"content does not match its BLAKE3 (found {found[:16]}…)"


def _check_manifests(store: Store, report: VerifyReport, keyring: Keyring | None) -> list[Release]:
    releases: list[Release] = []
    catalog = store.catalog
    for path in catalog.release_files():
        try:
            releases.append(catalog.read_release_file(path))
        except ManifestInvalid as exc:
            report.damaged_manifests.append((KIND_RELEASE, path.stem, path))
            for problem in exc.problems:
                report.problems.append(Finding(f"manifest invalid: {problem.field or 'file'}: {problem.reason}",
                                               path.stem))
    report.releases = len(releases)
    box = None
    if keyring is not None:
        box = keyring.box
    for path in catalog.license_files():
        try:
            lic = catalog.read_license_file(path)
        except ManifestInvalid as exc:
            report.damaged_manifests.append((KIND_LICENSE, path.stem, path))
            for problem in exc.problems:
                report.problems.append(Finding(f"licence record invalid: {problem.field or 'file'}: "
                                               f"{problem.reason}", path.stem))
            continue
        report.licenses += 1
        if box is not None:
            for s in lic.secrets():
                try:
                    box.open(s.token or "")
                except Exception:  # noqa: BLE001 - any failure is the same finding
                    report.problems.append(Finding("a secret value cannot be decrypted", lic.id))
    for release in releases:
        for lid in release.licenses:
            if not catalog.has_license(lid):
                report.problems.append(Finding(f"links licence record {lid}, which is missing", release.id))
    return releases
