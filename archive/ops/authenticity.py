"""`arkeep verify --authenticity`: check every archived signature again, offline.

Each installer whose manifest records [authenticity] evidence is checked again from the stored
object with the anchor frozen in that record plus this machine's anchors (and any the user
names). Nothing is fetched: a timestamped signature stays good after its certificate expired,
and the frozen anchor stands in for a root the system store has dropped since.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from archive.intake import authenticode, openpgp
from archive.intake.authenticity import (
    Recheck,
    anchors_for,
    compare,
    evidence_of,
    frozen_key,
    openpgp_evidence,
)
from archive.intake.trust import store_trusted
from archive.storage.store import Store
from manifests.model import Artifact, Release


def recheck_store(store: Store, ca_files: Iterable[Path] = (), now: datetime | None = None,
                  system: bool = True, openpgp_keys: Iterable[Path] = ()) -> list[Recheck]:
    """One Recheck per artifact that carries evidence, in catalog order."""
    ca_files = (*ca_files, *store_trusted(store.root, "roots"))
    openpgp_keys = (*openpgp_keys, *store_trusted(store.root, "openpgp"))
    out: list[Recheck] = []
    for release in store.catalog.releases():
        for art in release.artifacts:
            if art.openpgp is not None:
                out.append(_recheck_openpgp(store, release, art, openpgp_keys))
            recorded = art.authenticity
            if recorded is None:
                continue
            if not store.has_object(art.blake3) or store.is_encrypted(art.blake3):
                out.append(Recheck(release.id, art, recorded, None,
                                   "the file is not in the local store: nothing to check"))
                continue
            anchors = anchors_for(ca_files, (recorded,), system=system)
            check = authenticode.check_file(store.object_path(art.blake3), anchors, now)
            found = evidence_of(check, anchors, now)
            out.append(Recheck(release.id, art, recorded, found, compare(recorded, found)))
    return out


def _recheck_openpgp(store: Store, release: Release, art: Artifact,
                     keys: tuple[Path, ...]) -> Recheck:
    """The OpenPGP signature checked again with the key frozen in the record (and any named)."""
    recorded = art.openpgp
    assert recorded is not None
    signature = None
    if recorded.signature_file:
        held = [a for a in release.artifacts if a.filename == recorded.signature_file]
        if not held or not _plain_object(store, held[0].blake3):
            return Recheck(release.id, art, recorded, None,
                           f"the signature {recorded.signature_file} is not in the local store")
        signature = store.object_path(held[0].blake3)
    if not _plain_object(store, art.blake3):
        return Recheck(release.id, art, recorded, None,
                       "the file is not in the local store: nothing to check")
    frozen = frozen_key(recorded)
    result = openpgp.check(store.object_path(art.blake3), signature,
                           [*keys, *([frozen] if frozen else [])])
    found = openpgp_evidence(result, [str(k) for k in keys] + (["the key kept in the manifest"]
                             if frozen else []), recorded.signature_file)
    return Recheck(release.id, art, recorded, found, compare(recorded, found))


def _plain_object(store: Store, digest: str) -> bool:
    return store.has_object(digest) and not store.is_encrypted(digest)
