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

from archive.intake import authenticode
from archive.intake.authenticity import Recheck, anchors_for, compare, evidence_of
from archive.storage.store import Store


def recheck_store(store: Store, ca_files: Iterable[Path] = (), now: datetime | None = None,
                  system: bool = True) -> list[Recheck]:
    """One Recheck per artifact that carries evidence, in catalog order."""
    ca_files = tuple(ca_files)
    out: list[Recheck] = []
    for release in store.catalog.releases():
        for art in release.artifacts:
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
