"""What the store wants on every remote: the units, their sources, and how to check them.

Pure planning over the catalog: no remote is touched here. Sync pushes `wanted - present`,
verify reads what is present, repair and status compare the ledger against the same list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from manifests.model import License, Release

from .hashing import hash_bytes
from .keys import SecretBox
from .sealing import sealed_license_bytes, sealed_release_bytes
from .store import Store
from .units import KIND_LICENSE, KIND_OBJECT, KIND_RELEASE, UnitNamer, UnitRef


@dataclass(frozen=True)
class WantedUnit:
    unit: UnitRef
    size: int                       # plaintext size
    path: Path | None = None        # objects: the file in the store
    data: bytes | None = field(default=None, repr=False)  # manifests: the sealed plaintext
    source_digest: str = ""         # objects: their id; manifests: BLAKE3 of the local file
    expected_digest: str = ""       # BLAKE3 of the plaintext inside the bundle
    labels: tuple[tuple[str, str], ...] = ()   # (release id, file name) for messages


@dataclass
class UnitPlan:
    units: list[WantedUnit]
    releases: list[Release]
    licenses: list[License]

    def by_name(self) -> dict[str, WantedUnit]:
        return {w.unit.name: w for w in self.units}


def plan_units(store: Store, secret: bytes) -> UnitPlan:
    """Every unit this store should have on a remote: objects first, then licences, then releases."""
    namer = UnitNamer(secret)
    box = SecretBox.for_secret(secret)
    releases = list(store.catalog.releases())
    # Every licence record, not only those a release names: an imported licence with no release
    # yet must survive the loss of this machine too.
    license_ids = sorted({lid for r in releases for lid in r.licenses} |
                         {p.stem for p in store.catalog.license_files()})
    licenses = [store.catalog.load_license(lid) for lid in license_ids]
    objects: dict[str, WantedUnit] = {}
    for release in releases:
        for art in release.artifacts:
            label = (release.id, art.filename)
            if art.blake3 in objects:
                w = objects[art.blake3]
                objects[art.blake3] = WantedUnit(w.unit, w.size, w.path, None, w.source_digest,
                                                 w.expected_digest, w.labels + (label,))
            else:
                objects[art.blake3] = WantedUnit(namer.object(art.blake3), art.size,
                                                 store.object_path(art.blake3), None, art.blake3,
                                                 art.blake3, (label,))
    units = list(objects.values())
    for lic in licenses:
        data = sealed_license_bytes(lic, box)
        # Named by every release it belongs to, so a problem with it names the release too.
        labels = tuple((r.id, f"licence record {lic.id}") for r in releases if lic.id in r.licenses) \
            or ((lic.id, "licence record"),)
        units.append(WantedUnit(namer.license(lic.id), len(data), None, data,
                                hash_bytes(store.catalog.license_path(lic.id).read_bytes()),
                                hash_bytes(data), labels))
    for release in releases:
        data = sealed_release_bytes(release, namer)
        units.append(WantedUnit(namer.release(release.id), len(data), None, data,
                                hash_bytes(store.catalog.release_path(release.id).read_bytes()),
                                hash_bytes(data), ((release.id, "manifest"),)))
    return UnitPlan(units, releases, licenses)


def units_of_release(release: Release, namer: UnitNamer) -> list[UnitRef]:
    refs = [namer.object(a.blake3) for a in release.artifacts]
    refs += [namer.license(lid) for lid in release.licenses]
    return refs + [namer.release(release.id)]


__all__ = ["plan_units", "units_of_release", "UnitPlan", "WantedUnit", "KIND_OBJECT", "KIND_LICENSE",
           "KIND_RELEASE"]
