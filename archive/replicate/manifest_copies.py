"""Taking a manifest back from the replicas: the newest authentic copy wins.

Used where the local file cannot be trusted (bit rot, an edit outside arkeep) or where a replica
holds a newer revision (written by another machine). Every copy read here has authenticated
(the bundle's MAC) and its digest line checked; among them the highest revision is taken. The
local file it replaces is kept under `manifests/replaced/`, never deleted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import ArkeepError
from archive.replicate.sealing import (
    local_license_from_sealed,
    local_release_from_sealed,
    sealed_revision,
    unseal_unit_bytes,
)
from archive.replicate.units import KIND_RELEASE, UnitRef, listing
from archive.storage.store import Store
from archive.system import durable
from backends.base import Backend
from backends.errors import BackendError
from manifests.codec import parse_license, parse_release
from manifests.errors import ManifestInvalid

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

REPLACED_DIR = "replaced"


@dataclass(frozen=True)
class ReplicaCopy:
    remote: str
    revision: int
    data: bytes


def newest_copy(backends: list[Backend], keyring: Keyring, unit: UnitRef,
                listings: dict[str, dict[str, int]]) -> ReplicaCopy | None:
    """The authentic copy of a manifest unit with the highest revision on any of `backends`."""
    best: ReplicaCopy | None = None
    for backend in backends:
        try:
            if backend.name not in listings:
                listings[backend.name] = listing(backend)
            if unit.name not in listings[backend.name]:
                continue
            with backend.open_read(unit.key) as f:
                data = unseal_unit_bytes(f, unit, keyring, f"{backend.name}: {unit.ref}")
            if unit.kind == KIND_RELEASE:
                parse_release(data, unit.ref)
            else:
                parse_license(data, unit.ref, allow_plain_secrets=True)
        except (BackendError, ArkeepError, ManifestInvalid):
            continue
        copy = ReplicaCopy(backend.name, sealed_revision(data), data)
        if best is None or copy.revision > best.revision:
            best = copy
    return best


def adopt_copy(store: Store, unit: UnitRef, copy: ReplicaCopy, keyring: Keyring) -> None:
    """Write `copy` as the store's manifest, keeping the file it replaces aside."""
    source = f"{copy.remote}: {unit.ref}"
    if unit.kind == KIND_RELEASE:
        release = local_release_from_sealed(copy.data, source)
        if release.id != unit.ref:
            raise ArkeepError(f"{source}: the copy names another release ({release.id})")
        _keep_aside(store, store.catalog.release_path(release.id), unit.kind)
        store.catalog.write_release(release, revision=copy.revision)
    else:
        lic = local_license_from_sealed(copy.data, source, keyring.box)
        if lic.id != unit.ref:
            raise ArkeepError(f"{source}: the copy names another licence record ({lic.id})")
        _keep_aside(store, store.catalog.license_path(lic.id), unit.kind)
        store.catalog.write_license(lic, revision=copy.revision)


def _keep_aside(store: Store, path: Path, kind: str) -> None:
    """Move the file being replaced under manifests/replaced/ (a rename: its bytes as they are)."""
    if not path.exists():
        return
    folder = store.catalog.root / REPLACED_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    durable.replace(path, folder / f"{kind}-{path.stem}-{when}.toml.replaced")
    durable.fsync_dir(folder)
    durable.fsync_dir(path.parent)
