"""`arkeep restore`: the exact bytes of a release and its key, into a directory, verified."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import IntegrityError, UsageError
from archive.present.render import license_text
from archive.replicate.units import UnitNamer
from archive.storage.hashing import Progress, copy_verified
from archive.storage.store import Store
from archive.system import durable, oscompat
from archive.system.localnames import MAX_PATH, local_names
from archive.system.paths import make_target_dir, safe_join
from manifests.model import Artifact, Release

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

LICENSE_TXT = "LICENSE.txt"


@dataclass(frozen=True)
class RestoreResult:
    release: Release
    written: tuple[Path, ...]
    license_file: Path | None
    # (name in the manifest, name written, why) for each file written under another name
    renamed: tuple[tuple[str, str, str], ...] = ()


def needs_secret(store: Store, release: Release) -> bool:
    """A key to write into LICENSE.txt, or a document kept encrypted at rest."""
    return any(store.catalog.load_license(lid).secrets() for lid in release.licenses) \
        or any(store.is_encrypted(a.blake3) for a in release.artifacts)


RemoteReader = Callable[[Artifact, Path, Progress | None], None]


def remote_reader(store: Store, release: Release, name: str, keyring: Keyring) -> RemoteReader:
    """Write each artifact from its unit on remote `name`: authenticated, unsealed and checked
    against its BLAKE3 in a temp file that takes the artifact's name only if all is well."""
    # The remotes and the sealing engine (~60 ms of imports) only for --from, not for a restore
    # from the store.
    from archive.replicate.remotes import get_remote, ledger_of, open_backends
    from archive.replicate.sealing import unseal_unit_to_file

    spec = get_remote(store, name)
    with ledger_of(store) as ledger:
        backend = open_backends([spec], ledger)[0]
    backend.check()
    namer = UnitNamer(keyring)

    def write(art: Artifact, dest: Path, progress: Progress | None) -> None:
        unit = namer.object(art.blake3)
        with backend.open_read(unit.key) as f:
            unseal_unit_to_file(f, unit, keyring, dest, art.blake3,
                                f"{release.id} / {art.filename} on remote {name}", progress,
                                max_size=art.size)
        os.chmod(dest, 0o644)
    return write


def restore_release(store: Store, release: Release, target: Path, keyring: Keyring | None,
                    force: bool = False, progress_for: Callable[[str, int], Progress | None] | None = None,
                    from_remote: RemoteReader | None = None,
                    ) -> RestoreResult:
    """Write every artifact under its original name, re-hashed against the manifest.

    Each file is written to a temp name inside `target` and renamed only once its digest matched,
    so a corrupt object never takes the place of a good file. Existing files are kept unless
    `force`; nothing is written outside `target`. With `from_remote`, each file is written by it
    instead of copied from the store (it must check the digest before the file takes its name).
    """
    make_target_dir(target)
    licenses = [store.catalog.load_license(lid) for lid in release.licenses]
    names = local_names([a.filename for a in release.artifacts], windows=oscompat.WINDOWS,
                        folds_case=oscompat.FOLDS_CASE,
                        room=MAX_PATH - len(os.path.realpath(target)) - 1)
    plan = [(a, safe_join(target, name)) for a, (name, _) in zip(release.artifacts, names)]
    renamed = tuple((a.filename, name, why) for a, (name, why) in zip(release.artifacts, names)
                    if why is not None)
    license_path = (safe_join(target, license_file_name(release, [n for n, _ in names]))
                    if licenses else None)
    outputs = [p for _, p in plan] + ([license_path] if license_path else [])
    if not force:
        clash = [p for p in outputs if os.path.lexists(p)]
        if clash:
            raise UsageError(f"{clash[0]} already exists; use --force to overwrite "
                             f"({len(clash)} file{'s' * (len(clash) > 1)} in the way)")
    written: list[Path] = []
    for art, dest in plan:
        if from_remote is not None:
            from_remote(art, dest, progress_for(art.filename, art.size) if progress_for else None)
            written.append(dest)
            continue
        source = store.object_path(art.blake3)
        if not store.has_object(art.blake3):
            raise IntegrityError(f"{release.id} / {art.filename}: the object is missing from the store; "
                                 "run `arkeep repair` to fetch it from a replica")
        progress = progress_for(art.filename, art.size) if progress_for else None
        label = f"{release.id} / {art.filename}"
        if store.is_encrypted(art.blake3):
            opened = store.open_object(art.blake3, keyring, label)
            copy_verified(source, dest, art.blake3, label, progress, opened)
        else:
            copy_verified(source, dest, art.blake3, label, progress)
        written.append(dest)
    if license_path is not None:
        box = keyring.box if keyring is not None else None
        text = "\n".join(license_text(release, lic, box) for lic in licenses)
        _write_text(license_path, text)
    return RestoreResult(release, tuple(written), license_path, renamed)


def license_file_name(release: Release, written_names: list[str] | None = None) -> str:
    """LICENSE.txt, unless an artifact already has that name (any case): then LICENSE-KEY.txt, ...

    The rendered licence record must never take the place of an archived file.
    """
    taken = {name.casefold() for name in written_names or [a.filename for a in release.artifacts]}
    candidates = [LICENSE_TXT, "LICENSE-KEY.txt"]
    candidates += [f"LICENSE-KEY-{i}.txt" for i in range(2, len(taken) + 3)]
    return next(name for name in candidates if name.casefold() not in taken)


def _write_text(path: Path, text: str) -> None:
    durable.write_atomic(path, text, mode=0o600, prefix=".arkeep-restore-")
