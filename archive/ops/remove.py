"""`arkeep remove` and `arkeep prune`: forget a release or licence record, then drop the
objects nothing refers to any more (restic's forget and prune).

`remove` deletes one manifest and nothing else: an object stays while any release names it,
and even when none does, until `prune` deletes it. Both note what left in the ledger's
`retired` table; the next sync deletes those units from each remote it reaches (retire.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from archive.errors import UsageError, environment_error
from archive.replicate.ledger import Ledger
from archive.replicate.units import KIND_LICENSE, KIND_OBJECT, KIND_RELEASE
from archive.storage.store import Store
from archive.system import oscompat
from archive.system.durable import fsync_dir
from manifests.model import Release


@dataclass(frozen=True)
class Removed:
    """What `remove` deleted, and the objects it left with no release naming them."""

    kind: str                          # release | license
    ref: str
    title: str
    unreferenced: tuple[str, ...] = ()   # object ids now named by no release
    unreferenced_bytes: int = 0


@dataclass(frozen=True)
class Pruned:
    objects: tuple[str, ...]
    size: int
    dry_run: bool


def referenced_objects(store: Store) -> set[str]:
    """Every object id some release names. A damaged manifest raises (its objects are unknown,
    so nothing may be deleted on its account)."""
    return {a.blake3 for r in store.catalog.releases() for a in r.artifacts}


def remove_release(store: Store, ledger: Ledger, release: Release) -> Removed:
    damaged: list = []
    others = {a.blake3 for r in store.catalog.releases(damaged) if r.id != release.id
              for a in r.artifacts}
    sizes = {a.blake3: a.size for a in release.artifacts if a.blake3 not in others}
    ledger.retire(KIND_RELEASE, [release.id])
    try:
        store.catalog.delete_release(release.id)
    except OSError as exc:
        raise environment_error(exc, f"cannot remove the manifest of {release.id}") from None
    return Removed(KIND_RELEASE, release.id, release.title, tuple(sorted(sizes)), sum(sizes.values()))


def remove_license(store: Store, ledger: Ledger, lid: str) -> Removed:
    """Remove a licence record no release links to (a linked one would leave a release naming
    a record that is gone: remove those releases first, or keep it)."""
    lic = store.catalog.load_license(lid)
    users = sorted(r.id for r in store.catalog.releases()
                   if lid in r.licenses or any(a.license == lid for a in r.artifacts))
    if users:
        more = f" and {len(users) - 3} more" if len(users) > 3 else ""
        raise UsageError(f"licence record {lid} belongs to {', '.join(users[:3])}{more}; remove "
                         "those releases first (`arkeep remove PRODUCT@VERSION`)")
    ledger.retire(KIND_LICENSE, [lid])
    try:
        store.catalog.delete_license(lid)
    except OSError as exc:
        raise environment_error(exc, f"cannot remove licence record {lid}") from None
    return Removed(KIND_LICENSE, lid, f"licence record {lid}" + (f" ({lic.product})" if lic.product else ""))


def unreferenced(store: Store) -> list[tuple[str, int]]:
    """(object id, size) of every local object no release names, in id order."""
    keep = referenced_objects(store)
    return [(digest, path.stat().st_size) for digest, path in store.iter_objects() if digest not in keep]


def prune(store: Store, ledger: Ledger, dry_run: bool = False) -> Pruned:
    """Delete every object no release names. Each is first noted as retired (so a crash in
    between only leaves an object the next prune deletes), then removed."""
    found = unreferenced(store)
    digests = tuple(d for d, _ in found)
    size = sum(s for _, s in found)
    if dry_run or not found:
        return Pruned(digests, size, dry_run)
    ledger.retire(KIND_OBJECT, digests)
    parents = set()
    for digest in digests:
        path = store.object_path(digest)
        try:
            oscompat.unlink(path, missing_ok=True)
            oscompat.unlink(store.encrypted_path(digest), missing_ok=True)  # a document kept encrypted
        except OSError as exc:
            raise environment_error(exc, f"cannot delete object {digest[:16]}…") from None
        parents.add(path.parent)
    for parent in parents:
        fsync_dir(parent)
        for folder in (parent, parent.parent):
            try:
                os.rmdir(folder)            # only when empty
            except OSError:
                break
    return Pruned(digests, size, dry_run)
