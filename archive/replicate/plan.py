"""What the store wants on every remote: the units, their sources, and how to check them.

Pure planning over the catalog: no remote is touched here. Sync pushes `wanted - present`,
verify reads what is present, repair and status compare the ledger against the same list.

The plan comes from the catalog's index (manifests/index.py), fully checked against the files
first, so planning 10,000 releases parses no TOML: objects are known from the index, and a
manifest unit's sealed form (its bytes, size and BLAKE3, which need the TOML parsed, licence
secrets decrypted and the result serialised) is computed only when something asks for it:
when it is pushed, or read back to be compared. A sync with nothing to do compares names with
one listing and each manifest's source digest (BLAKE3 of its file, kept in the index) with the
ledger, and seals nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from archive.crypto.keys import SecretBox
from archive.errors import IndexStale
from archive.replicate.units import KIND_LICENSE, KIND_OBJECT, KIND_RELEASE, UnitNamer, UnitRef
from archive.storage.hashing import hash_bytes
from archive.storage.store import Store
from manifests.codec import parse_license, parse_release
from manifests.errors import ManifestInvalid, Problem
from manifests.index import IndexedLicense, IndexedRelease, Snapshot
from manifests.model import License, Release
from manifests.stamp import revision_of

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

Loader = Callable[[], tuple[bytes, str, int]]   # -> (sealed plaintext, source BLAKE3, revision)
MANIFEST_SIZE_HINT = 2048
T = TypeVar("T")


class WantedUnit:
    """One unit the store wants on a remote.

    unit: its kind, ref and name; size: plaintext size; path: objects, the file in the store;
    data: manifests, the sealed plaintext; source_digest: objects, their id; manifests, BLAKE3
    of the local file; expected_digest: BLAKE3 of the plaintext inside the bundle; labels:
    (release id, file name) pairs for messages. A manifest's data, size and expected digest are
    computed on first use; its source digest is then the digest of the bytes actually sealed.
    """

    __slots__ = (
        "_data",
        "_expected",
        "_load",
        "_path",
        "_revision",
        "_size",
        "_source_digest",
        "labels",
        "unit",
    )

    def __init__(self, unit: UnitRef, size: int | None, path: Path | Callable[[], Path] | None = None,
                 data: bytes | None = None, source_digest: str = "", expected_digest: str = "",
                 labels: tuple[tuple[str, str], ...] = (), load: Loader | None = None) -> None:
        self.unit = unit
        self._path = path           # a Path, or a function that makes it (made when first asked)
        self.labels = labels
        self._size = size
        self._data = data
        self._source_digest = source_digest
        self._expected = expected_digest
        self._load = load
        self._revision = 0

    def _materialise(self) -> None:
        if self._load is not None:
            data, source_digest, self._revision = self._load()
            self._load = None
            self._data, self._source_digest = data, source_digest
            self._size, self._expected = len(data), hash_bytes(data)

    @property
    def path(self) -> Path | None:
        if callable(self._path):
            self._path = self._path()
        return self._path

    @property
    def size(self) -> int:
        if self._size is None:
            self._materialise()
        return self._size  # type: ignore[return-value]

    @property
    def size_hint(self) -> int:
        """The size if known, else a typical manifest's: for progress totals, without sealing
        every manifest just to count its bytes."""
        return self._size if self._size is not None else MANIFEST_SIZE_HINT

    @property
    def data(self) -> bytes | None:
        self._materialise()
        return self._data

    @property
    def expected_digest(self) -> str:
        self._materialise()
        return self._expected

    @property
    def source_digest(self) -> str:
        return self._source_digest

    @property
    def revision(self) -> int:
        """A manifest's revision (stamp.py); 0 for objects and unstamped manifests."""
        self._materialise()
        return self._revision

    def __repr__(self) -> str:
        return f"WantedUnit({self.unit.kind} {self.unit.ref} -> {self.unit.name[:16]}…)"


class UnitPlan:
    """Every unit, in push order (objects, licence records, releases), and what they came from."""

    def __init__(self, store: Store, units: list[WantedUnit], release_count: int,
                 license_ids: list[str], held_back: list[tuple[str, str, str]] | None = None,
                 missing_objects: set[str] | None = None) -> None:
        self.units = units
        self.release_count = release_count
        self.license_count = len(license_ids)
        self._store = store
        self._license_ids = license_ids
        # (release or licence id, file, what is wrong): what the store cannot offer a remote
        # now (a damaged manifest, a missing object) and what is held back with it.
        self.held_back = held_back or []
        # objects the manifests name that are not in the store: planned (repair fetches them,
        # verify --remote checks the remote copies) but never pushed
        self.missing_objects = missing_objects or set()

    def by_name(self) -> dict[str, WantedUnit]:
        return {w.unit.name: w for w in self.units}

    @cached_property
    def releases(self) -> list[Release]:
        """The releases themselves, read from their files (only when someone asks)."""
        return list(self._store.catalog.releases())

    @cached_property
    def licenses(self) -> list[License]:
        return [self._store.catalog.load_license(lid) for lid in self._license_ids]


def plan_checked(store: Store, keyring: Keyring) -> UnitPlan:
    """The plan, after a deep check of the index if it named a damaged manifest or an object
    that is not in the store: a stale index must never be the reason for either."""
    plan = plan_units(store, keyring)
    if plan.held_back:
        store.catalog.check_index(deep=True)
        plan = plan_units(store, keyring)
    return plan


def replan_on_stale(store: Store, keyring: Keyring, work: Callable[[UnitPlan], T]) -> T:
    """Run `work` on a plan; if it finds the index stale (IndexStale), check the index deeply,
    plan again and run it once more."""
    try:
        return work(plan_checked(store, keyring))
    except IndexStale:
        store.catalog.check_index(deep=True)
        return work(plan_units(store, keyring))


def plan_units(store: Store, keyring: Keyring) -> UnitPlan:
    """Every unit this store should have on a remote: objects first, then licences, then releases.

    A damaged manifest is held back (never sealed over a good copy) and so is whatever depends on
    it: the manifest of a release whose licence record is damaged, or whose object is missing
    from the store (the missing object stays planned, for repair to fetch, but is never pushed).
    The rest is planned as usual, so one bad file never stops the others from replicating."""
    namer = UnitNamer(keyring)
    snap = store.catalog.snapshot() or _snapshot_from_files(store)
    held: list[tuple[str, str, str]] = []
    for exc in snap.damaged_releases:
        source = exc.problems[0].source if exc.problems else ""
        held.append((Path(source).stem, "manifest", _reason(exc)))
    for lid, exc in sorted(snap.damaged_licenses.items()):
        held.append((lid, "licence record", _reason(exc)))
    releases, sealed = [], []           # every intact release; those whose manifest goes out
    present: dict[str, bool] = {}
    for release in snap.releases:
        bad = [f"links licence record {lid}, which is damaged" for lid in release.licenses
               if lid in snap.damaged_licenses]
        bad += [f"links licence record {lid}, which is missing" for lid in release.licenses
                if lid not in snap.licenses and lid not in snap.damaged_licenses]
        for filename, digest, _ in release.artifacts:
            if digest not in present:
                present[digest] = store.has_object(digest)
            if not present[digest]:
                held.append((release.id, filename, ("object missing from the local store "
                                                      "(`arkeep repair` fetches it from a replica)")))
                bad.append("an object is missing")
        releases.append(release)
        if bad:
            held.append((release.id, "manifest", "held back: " + "; ".join(bad)))
        else:
            sealed.append(release)
    # Every licence record, not only those a release names: an imported licence with no release
    # yet must survive the loss of this machine too.
    license_ids = sorted(set(snap.licenses))
    objects: dict[str, WantedUnit] = {}
    for release in releases:
        for filename, digest, size in release.artifacts:
            label = (release.id, filename)
            wanted = objects.get(digest)
            if wanted is not None:
                wanted.labels += (label,)
            else:
                objects[digest] = WantedUnit(namer.object(digest), size,
                                             partial(store.stored_path, digest),
                                             None, digest, digest, (label,))
    units = list(objects.values())
    owners: dict[str, list[str]] = {}
    for release in releases:
        for lid in release.licenses:
            owners.setdefault(lid, []).append(release.id)
    for lid in license_ids:
        lic = snap.licenses[lid]
        # Named by every release it belongs to, so a problem with it names the release too.
        labels = tuple((rid, f"licence record {lid}") for rid in owners.get(lid, ())) \
            or ((lid, "licence record"),)
        units.append(WantedUnit(namer.license(lid), None, None, None, lic.digest, "", labels,
                                load=_license_loader(lic, keyring.box)))
    for release in sealed:
        units.append(WantedUnit(namer.release(release.id), None, None, None, release.digest, "",
                                ((release.id, "manifest"),), load=_release_loader(release, namer)))
    missing = {digest for digest, found in present.items() if not found}
    return UnitPlan(store, units, len(releases), license_ids, held, missing)


def _reason(exc: ManifestInvalid) -> str:
    return exc.problems[0].reason if exc.problems else str(exc)


def _read_indexed(path: Path, digest: str) -> bytes:
    """A manifest's bytes, which must be those the index planned with."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexStale(f"{path.name} is gone") from None
    if hash_bytes(raw) != digest:
        raise IndexStale(f"{path.name} is not what the index says")
    return raw


def _release_loader(entry: IndexedRelease, namer: UnitNamer) -> Loader:
    def load() -> tuple[bytes, str, int]:
        raw = _read_indexed(entry.path, entry.digest)
        release = parse_release(raw, str(entry.path))
        if release.id != entry.id:
            raise ManifestInvalid([Problem(str(entry.path), "id",
                                           f"'{release.id}' does not match the file name")])
        revision = revision_of(raw)
        from archive.replicate.sealing import sealed_release_bytes  # the engine: when sent only
        return sealed_release_bytes(release, namer, revision), entry.digest, revision
    return load


def _license_loader(entry: IndexedLicense, box: SecretBox) -> Loader:
    def load() -> tuple[bytes, str, int]:
        raw = _read_indexed(entry.path, entry.digest)
        revision = revision_of(raw)
        from archive.replicate.sealing import sealed_license_bytes
        return sealed_license_bytes(parse_license(raw, str(entry.path)), box, revision), \
            entry.digest, revision
    return load


def _snapshot_from_files(store: Store) -> Snapshot:
    """The same view without an index (a store that cannot be written to): read every file."""
    catalog = store.catalog
    releases: list[IndexedRelease] = []
    damaged: list[ManifestInvalid] = []
    for path in catalog.release_files():
        raw = path.read_bytes()
        try:
            r = catalog.read_release_file(path)
        except ManifestInvalid as exc:
            damaged.append(exc)
            continue
        releases.append(IndexedRelease(r.id, path, hash_bytes(raw),
                                       tuple((a.filename, a.blake3, a.size) for a in r.artifacts),
                                       r.licenses))
    licenses: dict[str, IndexedLicense] = {}
    bad: dict[str, ManifestInvalid] = {}
    for path in catalog.license_files():
        raw = path.read_bytes()
        try:
            parse_license(raw, str(path))
        except ManifestInvalid as exc:
            bad[path.stem] = exc
            continue
        licenses[path.stem] = IndexedLicense(path.stem, path, hash_bytes(raw))
    return Snapshot(releases, licenses, damaged, bad)


def units_of_release(release: Release, namer: UnitNamer) -> list[UnitRef]:
    refs = [namer.object(a.blake3) for a in release.artifacts]
    refs += [namer.license(lid) for lid in release.licenses]
    return refs + [namer.release(release.id)]


__all__ = [
    "KIND_LICENSE",
    "KIND_OBJECT",
    "KIND_RELEASE",
    "UnitPlan",
    "WantedUnit",
    "plan_checked",
    "plan_units",
    "replan_on_stale",
    "units_of_release",
]
