"""`arkeep repair`: replace every missing or corrupt copy, local or remote, from a good one.

Local objects are checked by re-hashing; a bad one is fetched from a remote, authenticated,
checked against its BLAKE3 and only then put in place. Remote units known missing or bad are
pushed again from the (now good) local copy and read back to confirm.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from backends.base import Backend
from backends.errors import BackendError

from ..at_rest import encrypt_documents, encrypted_digests, unseal_into_store
from ..errors import ArkeepError
from ..ledger import HOW_READ, PRESENT, Ledger
from ..plan import UnitPlan, WantedUnit
from ..store import Store
from .sync import listing, sync_remote
from .verify import verify_store
from .verify_remote import _check_unit

ProgressFor = Callable[[str, int], Callable[[int], None] | None]


@dataclass
class RepairReport:
    local_fixed: list[str] = field(default_factory=list)
    local_unfixable: list[str] = field(default_factory=list)
    remote_fixed: dict[str, int] = field(default_factory=dict)
    remote_failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # Plain documents from before encryption at rest, encrypted by this repair.
    encrypted: int = 0

    @property
    def ok(self) -> bool:
        return not self.local_unfixable and not self.remote_failed


def repair(store: Store, secret: bytes, plan: UnitPlan, backends: list[Backend], ledger: Ledger,
           progress_for: ProgressFor | None = None) -> RepairReport:
    report = RepairReport()
    local = verify_store(store, secret=secret)
    reachable = _reachable(backends, ledger, report)
    by_ref = {w.unit.ref: w for w in plan.units}
    listings: dict[str, dict[str, int]] = {}
    documents = encrypted_digests(plan.releases) if local.bad_objects or local.plain_documents else set()
    for digest in sorted(local.bad_objects):
        wanted = by_ref.get(digest)
        if wanted is not None and _fetch_object(store, secret, wanted, reachable, listings, progress_for,
                                                digest in documents):
            report.local_fixed.append(digest)
        else:
            report.local_unfixable.append(digest)
    if local.plain_documents:
        report.encrypted = encrypt_documents(store, plan.releases, secret)
    for backend in reachable:
        try:
            result = sync_remote(store, secret, backend, plan, ledger, progress_for)
            for wanted in result.pushed_units:
                problem = _check_unit(backend, secret, wanted)
                if problem:
                    raise ArkeepError(f"{wanted.unit.name[:16]}: {problem} right after writing it")
                ledger.record(backend.name, wanted.unit.name, wanted.unit.kind, wanted.unit.ref,
                              PRESENT, None, verified_how=HOW_READ)
            report.remote_fixed[backend.name] = result.pushed
        except (BackendError, ArkeepError) as exc:
            report.remote_failed[backend.name] = str(exc)
    return report


def _reachable(backends: list[Backend], ledger: Ledger, report: RepairReport) -> list[Backend]:
    ok = []
    for backend in backends:
        try:
            backend.check()
            ok.append(backend)
        except BackendError as exc:
            report.skipped[backend.name] = str(exc)
    return ok


def _fetch_object(store: Store, secret: bytes, wanted: WantedUnit, backends: list[Backend],
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
                unseal_into_store(store, f, wanted.unit, secret, wanted.expected_digest,
                                  f"{backend.name}: {wanted.labels[0][1]}", progress,
                                  wanted.size, encrypt)
            return True
        except (BackendError, ArkeepError):
            continue
    return False
