"""`arkeep repair`: replace every missing or corrupt copy, local or remote, from a good one.

Local objects are checked by re-hashing; a bad one is fetched from a remote, authenticated,
checked against its BLAKE3 and only then put in place. Remote units known missing or bad are
pushed again from the (now good) local copy and read back to confirm.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from backends.base import Backend
from backends.errors import BackendError

from ..errors import ArkeepError
from ..ledger import HOW_READ, PRESENT, Ledger
from ..plan import UnitPlan, WantedUnit
from ..sealing import unseal_unit_to_file
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

    @property
    def ok(self) -> bool:
        return not self.local_unfixable and not self.remote_failed


def repair(store: Store, secret: bytes, plan: UnitPlan, backends: list[Backend], ledger: Ledger,
           progress_for: ProgressFor | None = None) -> RepairReport:
    report = RepairReport()
    local = verify_store(store)
    reachable = _reachable(backends, ledger, report)
    by_ref = {w.unit.ref: w for w in plan.units}
    listings: dict[str, dict[str, int]] = {}
    for digest in sorted(local.bad_objects):
        wanted = by_ref.get(digest)
        if wanted is not None and _fetch_object(store, secret, wanted, reachable, listings, progress_for):
            report.local_fixed.append(digest)
        else:
            report.local_unfixable.append(digest)
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
                  listings: dict[str, dict[str, int]], progress_for: ProgressFor | None) -> bool:
    """Bring a good copy of one object back from the first remote that has one."""
    for backend in backends:
        try:
            if backend.name not in listings:
                listings[backend.name] = listing(backend)
            if wanted.unit.name not in listings[backend.name]:
                continue
            with tempfile.TemporaryDirectory(dir=store.tmp_dir) as tmpdir:
                tmp = Path(tmpdir) / "object"
                progress = progress_for(f"fetch {wanted.labels[0][1]}", wanted.size) if progress_for else None
                with backend.open_read(wanted.unit.key) as f:
                    unseal_unit_to_file(f, wanted.unit, secret, tmp, wanted.expected_digest,
                                        f"{backend.name}: {wanted.labels[0][1]}", progress,
                                        max_size=wanted.size)
                store.adopt(tmp, wanted.expected_digest)
            return True
        except (BackendError, ArkeepError):
            continue
    return False
