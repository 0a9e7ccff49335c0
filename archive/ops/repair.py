"""`arkeep repair`: replace every missing or corrupt copy, local or remote, from a good one.

A local manifest that cannot be read as arkeep wrote it (bit rot, an edit outside arkeep) is
taken back from the newest authentic replica copy (manifest_copies.py), and so is one that a
replica holds in a newer revision; a damaged local manifest is never pushed over a replica.
Local objects are checked by re-hashing; a bad one is fetched from a remote, authenticated,
checked against its BLAKE3 and only then put in place. Remote units known missing or bad are
pushed again from the (now good) local copy and read back to confirm.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.errors import ArkeepError, IndexStale
from archive.ops.verify import VerifyReport, verify_store
from archive.ops.verify_remote import check_unit
from archive.replicate.at_rest import encrypt_documents, encrypted_digests, unseal_into_store
from archive.replicate.ledger import HOW_READ, PRESENT, Ledger
from archive.replicate.manifest_copies import adopt_copy, newest_copy
from archive.replicate.plan import UnitPlan, WantedUnit, plan_checked, replan_on_stale
from archive.replicate.sync import sync_remote
from archive.replicate.units import KIND_RELEASE, UnitNamer, listing
from archive.storage.store import Store
from backends.base import Backend
from backends.errors import BackendError

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

ProgressFor = Callable[[str, int], Callable[[int], None] | None]


@dataclass
class RepairReport:
    local_fixed: list[str] = field(default_factory=list)
    local_unfixable: list[str] = field(default_factory=list)
    manifests_fixed: list[str] = field(default_factory=list)
    manifests_unfixable: list[str] = field(default_factory=list)
    remote_fixed: dict[str, int] = field(default_factory=dict)
    remote_failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # Plain documents from before encryption at rest, encrypted by this repair.
    encrypted: int = 0
    held_back: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.local_unfixable or self.remote_failed or self.manifests_unfixable
                    or self.held_back)


def repair(store: Store, keyring: Keyring, backends: list[Backend], ledger: Ledger,
           progress_for: ProgressFor | None = None) -> RepairReport:
    """Mend the local manifests (from the newest authentic replica copy), then the local objects,
    then every remote (pushed from the now good local copies and read back)."""
    report = RepairReport()
    local = verify_store(store, keyring=keyring)
    reachable = _reachable(backends, ledger, report)
    listings: dict[str, dict[str, int]] = {}
    namer = UnitNamer(keyring)
    for kind, ref, _ in local.damaged_manifests:
        unit = namer.release(ref) if kind == KIND_RELEASE else namer.license(ref)
        copy = newest_copy(reachable, keyring, unit, listings)
        if copy is None:
            report.manifests_unfixable.append(ref)
            continue
        adopt_copy(store, unit, copy, keyring)
        report.manifests_fixed.append(f"{ref} (revision {copy.revision}, from {copy.remote})")
    if local.damaged_manifests:
        local = verify_store(store, keyring=keyring)
    return replan_on_stale(store, keyring, lambda plan: _repair_with(
        store, keyring, plan, reachable, ledger, listings, report, local, progress_for))


def _repair_with(store: Store, keyring: Keyring, plan: UnitPlan, reachable: list[Backend],
                 ledger: Ledger, listings: dict[str, dict[str, int]], report: RepairReport,
                 local: VerifyReport, progress_for: ProgressFor | None) -> RepairReport:
    by_ref = {w.unit.ref: w for w in plan.units}
    documents = encrypted_digests(plan.releases) if local.bad_objects or local.plain_documents else set()
    for digest in sorted(local.bad_objects):
        wanted = by_ref.get(digest)
        if wanted is not None and _fetch_object(store, keyring, wanted, reachable, listings, progress_for,
                                                digest in documents):
            report.local_fixed.append(digest)
        else:
            report.local_unfixable.append(digest)
    if local.plain_documents:
        report.encrypted = encrypt_documents(store, plan.releases, keyring)
    if plan.missing_objects or report.local_fixed:
        plan = plan_checked(store, keyring)      # fetched objects let held-back releases go
    newer: list[WantedUnit] = []
    for backend in reachable:
        try:
            result = sync_remote(store, keyring, backend, plan, ledger, progress_for)
            for wanted in result.pushed_units:
                problem = check_unit(backend, keyring, wanted)
                if problem:
                    raise ArkeepError(f"{wanted.unit.name[:16]}: {problem} right after writing it")
                ledger.record(backend.name, wanted.unit.name, wanted.unit.kind, wanted.unit.ref,
                              PRESENT, None, verified_how=HOW_READ)
            report.remote_fixed[backend.name] = result.pushed
            newer += result.newer_remote
        except IndexStale:
            raise
        except (BackendError, ArkeepError) as exc:
            report.remote_failed[backend.name] = str(exc)
    if newer:
        _take_newer(store, keyring, newer, reachable, listings, report)
        plan = plan_checked(store, keyring)
        for backend in reachable:
            if backend.name not in report.remote_failed:
                try:
                    result = sync_remote(store, keyring, backend, plan, ledger, progress_for)
                    report.remote_fixed[backend.name] += result.pushed
                except (BackendError, ArkeepError) as exc:
                    report.remote_failed[backend.name] = str(exc)
    report.held_back = [f"{what} / {name}: {why}" for what, name, why in plan.held_back]
    return report


def _take_newer(store: Store, keyring: Keyring, newer: list[WantedUnit], reachable: list[Backend],
                listings: dict[str, dict[str, int]], report: RepairReport) -> None:
    """Adopt the newest authentic copy of each manifest a remote holds in a newer revision."""
    for wanted in {w.unit.name: w for w in newer}.values():
        copy = newest_copy(reachable, keyring, wanted.unit, listings)
        if copy is not None and copy.revision > wanted.revision:
            adopt_copy(store, wanted.unit, copy, keyring)
            report.manifests_fixed.append(
                f"{wanted.unit.ref} (newer revision {copy.revision}, from {copy.remote})")


def _reachable(backends: list[Backend], ledger: Ledger, report: RepairReport) -> list[Backend]:
    ok = []
    for backend in backends:
        try:
            backend.check()
            ok.append(backend)
        except BackendError as exc:
            report.skipped[backend.name] = str(exc)
    return ok


def _fetch_object(store: Store, keyring: Keyring, wanted: WantedUnit, backends: list[Backend],
                  listings: dict[str, dict[str, int]], progress_for: ProgressFor | None,
                  encrypt: bool) -> bool:
    """Bring a good copy of one object back from the first remote that has one."""
    for backend in backends:
        try:
            if backend.name not in listings:
                listings[backend.name] = listing(backend)
            if wanted.unit.name not in listings[backend.name]:
                continue
            progress = progress_for(f"fetch {wanted.labels[0][1]}", wanted.size) if progress_for else None
            with backend.open_read(wanted.unit.key) as f:
                unseal_into_store(store, f, wanted.unit, keyring, wanted.expected_digest,
                                  f"{backend.name}: {wanted.labels[0][1]}", progress,
                                  wanted.size, encrypt)
            return True
        except (BackendError, ArkeepError):
            continue
    return False
