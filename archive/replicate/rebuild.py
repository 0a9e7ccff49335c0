"""`arkeep rebuild --from URL`: the whole store back from the passphrase and one replica.

Order: the wrapped key (unwrapped with the passphrase), then every manifest unit (read into
memory, they are small), then every object they name, each authenticated and checked against
its BLAKE3, and the manifests last, so an interrupted rebuild never leaves a manifest whose
objects are missing; then the audit log, when the replica carries one (replicate/audit_copy.py).
Running it again into the same store continues where it stopped.
"""
from __future__ import annotations

import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archive.crypto import slots
from archive.crypto.keyring import Keyring
from archive.crypto.keys import SecretBox
from archive.errors import IntegrityError, UsageError
from archive.replicate.at_rest import encrypted_digests, unseal_into_store
from archive.replicate.audit_copy import take_log
from archive.replicate.history_copies import take_history
from archive.replicate.ledger import HOW_READ, PRESENT, Ledger
from archive.replicate.sealing import (
    local_license_from_sealed,
    local_release_from_sealed,
    sealed_revision,
    unseal_unit_bytes,
)
from archive.replicate.units import KEY_UNIT, KIND_RELEASE, UnitNamer, UnitRef, listing
from archive.storage.store import Store
from archive.system import oscompat
from backends.base import Backend
from backends.errors import BackendError, NotFound
from manifests.codec import parse_table
from manifests.errors import ManifestInvalid
from manifests.model import License, Release

ProgressFor = Callable[[str, int], Callable[[int], None] | None]
MAX_MANIFEST = 4 * 1024 * 1024


@dataclass
class RebuildResult:
    store: Store
    releases: int = 0
    licenses: int = 0
    objects_fetched: int = 0
    objects_present: int = 0
    bytes_fetched: int = 0
    problems: list[str] = field(default_factory=list)
    # --merge into a store that already holds this archive: what was kept, what was taken
    kept_local: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)


def read_wrapped_key(backend: Backend) -> dict:
    try:
        with backend.open_read(KEY_UNIT) as f:
            raw = f.read(64 * 1024)
    except NotFound:
        raise UsageError(f"{backend.url} holds no arkeep key ({KEY_UNIT}); is it an arkeep replica?") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise IntegrityError(f"{backend.url}: {KEY_UNIT} is damaged") from None


IN_PROGRESS = "rebuild-in-progress"


def open_target(root: Path, wrapped: dict, merge: bool = False) -> Store:
    """A new store, the half-rebuilt one of an interrupted run with the same key, or (with
    `merge`) a store of the same archive that already holds manifests."""
    if (root / "arkeep.toml").exists():
        store = Store.open(root)
        if store.config.get("key_id") != wrapped.get("key_id"):
            raise UsageError(f"{root} already holds a different arkeep store; rebuild into an empty directory")
        populated = store.catalog.release_files() or store.catalog.license_files()
        if populated and not merge and not (store.state_dir / IN_PROGRESS).exists():
            raise UsageError(
                f"{root} already holds this archive ({len(store.catalog.release_files())} "
                "releases); rebuild does not replace them. `arkeep rebuild --from URL --merge` "
                "brings in only what is missing or newer on the replica (never an older "
                "revision); or rebuild into an empty directory")
        return store
    _clear_unfinished_create(root, wrapped)
    store = Store.create(root, wrapped)
    (store.state_dir / IN_PROGRESS).write_text("a rebuild into this new store has not finished\n")
    return store


_SKELETON = {"objects", "manifests", "manifests/releases", "manifests/licenses", "state", "tmp"}


def _clear_unfinished_create(root: Path, wrapped: dict) -> None:
    """Remove what a run killed while creating the store left (the empty folders, key.toml of
    this same key, temp files; arkeep.toml is written last), so that running rebuild again
    finishes the work instead of calling the directory not empty. Anything else is left alone,
    and Store.create then refuses the directory."""
    if not root.is_dir() or root.is_symlink():
        return
    files, folders = [], []
    for entry in root.rglob("*"):
        rel = entry.relative_to(root).as_posix()
        if entry.is_dir() and not entry.is_symlink() and rel in _SKELETON:
            folders.append(entry)
        elif entry.is_file() and not entry.is_symlink() and "/" not in rel and rel.startswith(".tmp-"):
            files.append(entry)
        elif rel == KEY_UNIT and entry.is_file() and not entry.is_symlink():
            try:
                same = tomllib.loads(entry.read_text(encoding="utf-8")).get("key_id") == wrapped.get("key_id")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return
            if not same:
                return
            files.append(entry)
        else:
            return
    for path in files:
        oscompat.unlink(path)
    for path in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        path.rmdir()


def rebuild(root: Path, passphrase: str | None, backend: Backend,
            progress_for: ProgressFor | None = None, merge: bool = False,
            keyring: Keyring | None = None, new_slot: tuple[str, str] | None = None
            ) -> RebuildResult:
    """Rebuild with the passphrase of one of the replica's key slots or, for an heir who has
    only the recovery code (`arkeep key join`), with the keyring made from that code; then
    `new_slot` (name, passphrase), the slot the heir will add, is tried on the replica's key
    file before anything is fetched, so a name or passphrase already there is refused now."""
    backend.check()
    wrapped = read_wrapped_key(backend)
    if keyring is None:
        keyring = Keyring.unwrap(wrapped, passphrase or "")
    elif keyring.key_id != wrapped.get("key_id"):
        raise UsageError(f"that recovery code opens the archive with key id {keyring.key_id}; "
                         f"{backend.url} holds the archive with key id {wrapped.get('key_id')}")
    if new_slot is not None:
        try:
            slots.add_slot(wrapped, keyring, *new_slot)
        except UsageError as exc:
            raise UsageError(f"the replica's key file: {exc}") from None
    store = open_target(root, wrapped, merge)
    result = RebuildResult(store)
    with store.writing("arkeep rebuild"):
        namer, box = UnitNamer(keyring), keyring.box
        present = listing(backend)
        releases, licenses = _read_manifests(backend, keyring, present, box, result)
        releases = [r for r in releases if _takes(store, "release", r[0].id, r[1], result)]
        licenses = [x for x in licenses if _takes(store, "license", x[0].id, x[1], result)]
        ledger = Ledger(store.state_dir / "ledger.sqlite")
        try:
            _fetch_objects(store, backend, keyring, namer, [r for r, _ in releases], present,
                           ledger, result, progress_for)
            for lic, revision in licenses:
                store.catalog.write_license(lic, revision=revision)
                _record_manifest(ledger, backend, namer.license(lic.id), present)
            for release, revision in releases:
                store.catalog.write_release(release, revision=revision)
                _record_manifest(ledger, backend, namer.release(release.id), present)
            _take_log_and_history(store, keyring, backend, result)
        finally:
            ledger.close()
    result.releases, result.licenses = len(releases), len(licenses)
    return result


def _take_log_and_history(store: Store, keyring: Keyring, backend: Backend, result: RebuildResult) -> None:
    taken = take_log(store, keyring, backend)
    if taken.taken:
        result.taken.append(taken.taken)
    result.problems.extend(taken.problems)
    added, problems = take_history(store, keyring, backend)
    if added:
        result.taken.append(f"earlier versions of manifests: {added} from the replica")
    result.problems.extend(problems)


def finish_rebuild(store: Store) -> None:
    """The rebuild (and what the command line does after it) is complete: from now on a second
    `rebuild` into this store needs --merge."""
    (store.state_dir / IN_PROGRESS).unlink(missing_ok=True)


def _takes(store: Store, kind: str, ref: str, revision: int, result: RebuildResult) -> bool:
    """Whether the replica's copy of a manifest goes into the store: yes where the store has
    none (or an unreadable one), or an older revision; never over a newer or equal one."""
    catalog = store.catalog
    path = catalog.release_path(ref) if kind == "release" else catalog.license_path(ref)
    if not path.exists():
        return True
    try:
        catalog.read_release_file(path) if kind == "release" else catalog.read_license_file(path)
    except ManifestInvalid:
        result.taken.append(f"{ref}: the local file was damaged; replaced by the replica's "
                            f"revision {revision}")
        return True
    ours = catalog.revision(path)
    if revision > ours:
        result.taken.append(f"{ref}: revision {revision} from the replica replaces the store's {ours}")
        return True
    if revision < ours:
        result.kept_local.append(f"{ref}: the replica holds an older revision ({revision}; the "
                                 f"store has {ours}): a rollback or a copy not yet synced; kept "
                                 "the store's")
    return False


def _record_manifest(ledger: Ledger, backend: Backend, unit: UnitRef, present: dict[str, int]) -> None:
    """The ledger learns that a manifest unit read (and authenticated) above is on the replica."""
    if unit.name in present:
        ledger.record(backend.name, unit.name, unit.kind, unit.ref, PRESENT, present[unit.name],
                      None, HOW_READ)


def _entry_name(backend: Backend, key: str) -> str | None:
    """The single entry's name, from the zip's central directory (no password needed)."""
    try:
        with backend.open_read(key) as f:
            names = zipfile.ZipFile(f).namelist()  # type: ignore[arg-type]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    return names[0] if len(names) == 1 else None


def _read_manifests(backend: Backend, keyring: Keyring, present: dict[str, int], box: SecretBox,
                    result: RebuildResult) -> tuple[list[tuple[Release, int]],
                                                    list[tuple[License, int]]]:
    """Every manifest on the replica, each with the revision it carries."""
    releases: dict[str, tuple[Release, int]] = {}
    licenses: dict[str, tuple[License, int]] = {}
    for name, size in sorted(present.items()):
        if size > MAX_MANIFEST + 1024:
            continue
        entry = _entry_name(backend, f"units/{name[:2]}/{name}.zip")
        if entry != f"{name}.toml":
            continue
        unit = UnitRef(KIND_RELEASE, name, name)  # any manifest kind: the entry is <name>.toml
        label = f"{backend.name}: unit {name[:16]}"
        try:
            with backend.open_read(unit.key) as f:
                data = unseal_unit_bytes(f, unit, keyring, label, MAX_MANIFEST)
            kind = parse_table(data, label).get("kind")
            if kind == "release":
                release = local_release_from_sealed(data, label)
                releases[release.id] = (release, sealed_revision(data))
            elif kind == "license":
                lic = local_license_from_sealed(data, label, box)
                licenses[lic.id] = (lic, sealed_revision(data))
        except (ManifestInvalid, IntegrityError, BackendError) as exc:
            result.problems.append(str(exc) if str(exc).startswith(label) else f"{label}: {exc}")
    if not releases and not licenses and not result.problems:
        result.problems.append(f"{backend.url} holds no manifests")
    return sorted(releases.values(), key=lambda r: r[0].id), \
        sorted(licenses.values(), key=lambda x: x[0].id)


def _fetch_objects(store: Store, backend: Backend, keyring: Keyring, namer: UnitNamer,
                   releases: list[Release], present: dict[str, int], ledger: Ledger,
                   result: RebuildResult, progress_for: ProgressFor | None) -> None:
    wanted = {a.blake3: (r.id, a) for r in releases for a in r.artifacts}
    documents = encrypted_digests(releases)
    total = sum(a.size for _, a in wanted.values() if not store.has_object(a.blake3))
    progress = progress_for(f"rebuild from {backend.name}", total) if progress_for and total else None
    for digest, (rid, art) in sorted(wanted.items()):
        unit = namer.object(digest)
        if store.stored_size_matches(digest, art.size):
            result.objects_present += 1
            continue
        if unit.name not in present:
            result.problems.append(f"{rid} / {art.filename}: missing on {backend.name}")
            continue
        try:
            with backend.open_read(unit.key) as f:
                unseal_into_store(store, f, unit, keyring, digest, f"{rid} / {art.filename}", progress,
                                  art.size, digest in documents)
        except IntegrityError as exc:
            result.problems.append(f"{exc} (on {backend.name})")
            continue
        ledger.record(backend.name, unit.name, unit.kind, digest, PRESENT, present[unit.name],
                      digest, HOW_READ)
        result.objects_fetched += 1
        result.bytes_fetched += art.size
