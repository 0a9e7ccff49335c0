"""`arkeep verify --remote NAME`: read, authenticate, unseal and BLAKE3-check a remote's units.

Every unit the store wants on the remote is checked (or a sample that favours the least recently
verified); the results go to the ledger; every missing or bad unit becomes a finding that names
the release, the file and the remote.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from archive.errors import ArkeepError
from archive.ops.verify import Finding, VerifyReport
from archive.replicate.ledger import BAD, HOW_READ, MISSING, PRESENT, Ledger
from archive.replicate.plan import UnitPlan, WantedUnit
from archive.replicate.sealing import sealed_revision, unseal_unit, unseal_unit_bytes
from archive.replicate.units import MANIFEST_KINDS, listing
from archive.storage.hashing import hash_bytes
from backends.base import Backend
from backends.errors import BackendError, NotFound

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def choose_sample(units: list[WantedUnit], ledger: Ledger, remote: str, fraction: float | None) -> list[WantedUnit]:
    """All units, or a fraction chosen least-recently-verified first (ties broken at random)."""
    if fraction is None or fraction >= 1.0 or not units:
        return units
    known = ledger.by_unit(remote)
    keyed = [((known[w.unit.name].verified_at or _EPOCH) if w.unit.name in known else _EPOCH,
              random.random(), w) for w in units]
    keyed.sort(key=lambda t: (t[0], t[1]))
    count = max(1, round(len(units) * fraction))
    return [w for _, _, w in keyed[:count]]


def verify_remote(backend: Backend, keyring: Keyring, plan: UnitPlan, ledger: Ledger,
                  sample: float | None = None,
                  progress_for: Callable[[str, int], Callable[[int], None] | None] | None = None) -> VerifyReport:
    report = VerifyReport(releases=plan.release_count, licenses=plan.license_count)
    copy = f"remote {backend.name}"
    backend.check()
    ledger.seen(backend.name)
    present = listing(backend)
    for wanted in plan.units:
        if wanted.unit.name not in present:
            ledger.record(backend.name, wanted.unit.name, wanted.unit.kind, wanted.unit.ref, MISSING, None)
            for release, name in wanted.labels:
                report.problems.append(Finding("missing", release, name, copy))
    chosen = [w for w in choose_sample(plan.units, ledger, backend.name, sample) if w.unit.name in present]
    total = sum(present[w.unit.name] for w in chosen)
    progress = progress_for(f"verify {backend.name}", total) if progress_for and total else None
    for wanted in chosen:
        problem = check_unit(backend, keyring, wanted)
        size = present[wanted.unit.name]
        report.objects_checked += 1
        report.bytes_checked += size
        if progress:
            progress(size)
        if problem is None:
            ledger.record(backend.name, wanted.unit.name, wanted.unit.kind, wanted.unit.ref, PRESENT,
                          size, verified_how=HOW_READ)
        else:
            ledger.record(backend.name, wanted.unit.name, wanted.unit.kind, wanted.unit.ref, BAD, size)
            for release, name in wanted.labels:
                report.problems.append(Finding(problem, release, name, copy))
    return report


def check_unit(backend: Backend, keyring: Keyring, wanted: WantedUnit) -> str | None:
    """None if the unit authenticates and holds the expected bytes, else what is wrong."""
    if wanted.unit.kind in MANIFEST_KINDS:
        return _check_manifest_unit(backend, keyring, wanted)
    result, problem = _read_unit(backend, wanted, lambda f: unseal_unit(
        f, wanted.unit, keyring, None, wanted.expected_digest, wanted.unit.name[:16],
        max_size=wanted.size))
    if result is not None and result.plain_size != wanted.size:
        return f"bad copy: holds {result.plain_size} bytes, expected {wanted.size}"
    return problem


def _read_unit(backend: Backend, wanted: WantedUnit,
               read: Callable[[BinaryIO], T]) -> tuple[T | None, str | None]:
    """(what `read` made of the unit, None), or (None, what is wrong with it); a remote that
    cannot be read at all raises."""
    try:
        with backend.open_read(wanted.unit.key) as f:
            return read(f), None
    except NotFound:
        return None, "missing"
    except BackendError:
        raise
    except ArkeepError as exc:
        return None, f"bad copy: {str(exc).split(': ', 1)[-1]}"


def _check_manifest_unit(backend: Backend, keyring: Keyring, wanted: WantedUnit) -> str | None:
    """A manifest unit holds this store's version, or says which revision it holds instead."""
    data, problem = _read_unit(backend, wanted, lambda f: unseal_unit_bytes(
        f, wanted.unit, keyring, wanted.unit.name[:16]))
    if data is None:
        return problem
    if hash_bytes(data) == wanted.expected_digest:
        return None
    theirs, ours = sealed_revision(data), wanted.revision
    if theirs < ours:
        return (f"holds an older revision ({theirs}; the store has {ours}): not synced since, "
                "or rolled back; `arkeep sync` replaces it")
    if theirs > ours:
        return (f"holds a newer revision ({theirs}; the store has {ours}): written elsewhere, or "
                "this store was rolled back; `arkeep repair` takes it")
    return "bad copy: content does not match its BLAKE3 (another version of the same revision)"
