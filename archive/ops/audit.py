"""`arkeep audit`: re-read a slice of every connected replica per run, least recently verified first.

Run daily with the default budget (a `period`-th of each replica's bytes), every copy is re-read
within the period. Two modes, chosen by what is at hand:

- digest (no passphrase): each chosen copy is read whole and its BLAKE3 compared with the digest of
  the sealed bytes the ledger recorded when the copy was written or last authenticated. Finds bit
  rot, truncation and replaced files; proves nothing about who wrote the bytes.
- full (passphrase at hand): the same, then the unit is authenticated (MAC), unsealed and its
  content checked against its BLAKE3, as `verify --remote` does; the digest of what authenticated
  is recorded for later digest audits.

Damaged copies are marked bad in the ledger (the next `sync` or `repair` rewrites them); nothing
is rewritten here.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from archive.replicate.ledger import BAD, HOW_READ, MISSING, PRESENT, Copy, Ledger
from archive.replicate.plan import UnitPlan, WantedUnit
from archive.replicate.units import UnitRef, listing
from archive.storage.hashing import hash_stream
from archive.storage.store import Store
from backends.base import Backend
from backends.errors import BackendError, NotFound

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

HOW_DIGEST = "digest"        # ledger `verified_how`: the sealed bytes matched their recorded BLAKE3
MODE_DIGEST, MODE_FULL = "digest", "full"
DEFAULT_PERIOD_DAYS = 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Budget:
    """How much one run reads per replica: a share of its bytes, or a number of bytes; and an
    optional limit in seconds after which no new copy is started."""
    fraction: float | None = None
    max_bytes: int | None = None
    max_seconds: float | None = None

    def bytes_for(self, total: int, period_days: int) -> int:
        if self.max_bytes is not None:
            return self.max_bytes
        share = self.fraction if self.fraction is not None else 1 / period_days
        return max(1, -(-int(total * share * 1_000_000) // 1_000_000))


@dataclass
class AuditFinding:
    remote: str
    unit: str
    kind: str
    ref: str
    problem: str
    labels: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RemoteAudit:
    name: str
    mode: str = MODE_DIGEST
    status: str = "audited"            # audited | skipped | failed
    message: str = ""
    copies: int = 0                    # copies the ledger knows as present
    total_bytes: int = 0
    checked: int = 0
    bytes_checked: int = 0
    no_digest: int = 0                 # copies a digest audit cannot check (no recorded digest)
    overdue: int = 0                   # copies not verified within the period, after this run
    oldest_verified: datetime | None = None
    problems: list[AuditFinding] = field(default_factory=list)


def choose(copies: Iterable[Copy], budget_bytes: int) -> list[Copy]:
    """Copies found bad first, then least recently verified (never verified first), until `budget_bytes` are
    reached; the copy that crosses the budget is included, so each run makes progress."""
    ordered = sorted(copies, key=lambda c: (c.state != BAD, c.verified_at or _EPOCH, c.unit))
    chosen, total = [], 0
    for copy in ordered:
        if total >= budget_bytes:
            break
        chosen.append(copy)
        total += copy.size or 0
    return chosen


def labels_of(store: Store) -> dict[str, list[tuple[str, str]]]:
    """ref -> (release, file) pairs, from the plain manifests (no passphrase needed)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for release in store.catalog.releases():
        out.setdefault(release.id, []).append((release.id, "manifest"))
        for art in release.artifacts:
            out.setdefault(art.blake3, []).append((release.id, art.filename))
        for lid in release.licenses:
            out.setdefault(lid, []).append((release.id, f"licence record {lid}"))
    return out


def audit_remote(backend: Backend, ledger: Ledger, budget: Budget, now: datetime,
                 period_days: int = DEFAULT_PERIOD_DAYS, keyring: Keyring | None = None,
                 plan: UnitPlan | None = None,
                 labels: dict[str, list[tuple[str, str]]] | None = None,
                 progress_for: Callable[[str, int], Callable[[int], None] | None] | None = None,
                 ) -> RemoteAudit:
    """One run over one replica; the ledger records each copy's result with `now`."""
    result = RemoteAudit(backend.name, MODE_FULL if keyring is not None else MODE_DIGEST)
    labels = labels or {}
    backend.check()
    ledger.seen(backend.name)
    present = listing(backend)
    wanted: dict[str, WantedUnit] = {w.unit.name: w for w in plan.units} if plan else {}

    def problem(copy: Copy, what: str, state: str) -> None:
        ledger.record(backend.name, copy.unit, copy.kind, copy.ref, state, None, when=now)
        result.problems.append(AuditFinding(backend.name, copy.unit, copy.kind, copy.ref, what,
                                            labels.get(copy.ref, [])))

    # A copy found bad before is read again every run until it is rewritten: a daily audit keeps
    # saying so (and exiting 1) instead of reporting damage once.
    known = [c for c in ledger.copies(backend.name) if c.state in (PRESENT, BAD)]
    known_names = {c.unit for c in known}
    if known and not any(name in present for name in known_names):
        # As sync: every unit gone at once is an unmounted share or an empty mount point.
        result.status = "failed"
        result.message = (f"holds none of the {len(known)} units the ledger knows there: is it "
                          "mounted? (emptied on purpose: `arkeep sync` says what to do)")
        return result
    for name, w in wanted.items():   # with the passphrase, units the ledger never knew count too
        if name not in known_names and name not in present:
            problem(Copy(backend.name, name, w.unit.kind, w.unit.ref, MISSING, None, None, now,
                         None, None), "missing", MISSING)
    candidates = []
    for copy in known:
        if copy.unit not in present:
            problem(copy, "missing", MISSING)
        elif copy.size is not None and present[copy.unit] != copy.size:
            problem(copy, f"bad copy: {present[copy.unit]} bytes where {copy.size} were written",
                    BAD)
        elif copy.sealed_digest is None and keyring is None:
            result.no_digest += 1
        elif keyring is not None and copy.unit not in wanted:
            continue                  # no longer wanted: sync retires it
        else:
            candidates.append(copy)
    result.copies = len(known)
    result.total_bytes = sum(c.size or 0 for c in known)
    chosen = choose(candidates, budget.bytes_for(result.total_bytes, period_days))
    chosen += [c for c in candidates if c.state == BAD and c not in chosen]
    total = sum(c.size or 0 for c in chosen)
    progress = progress_for(f"audit {backend.name}", total) if progress_for and total else None
    started = time.monotonic()
    for copy in chosen:
        if budget.max_seconds is not None and time.monotonic() - started >= budget.max_seconds:
            break
        what, digest = _read_copy(backend, copy, wanted.get(copy.unit), keyring)
        result.checked += 1
        result.bytes_checked += copy.size or 0
        if progress:
            progress(copy.size or 0)
        if what is None:
            ledger.record(backend.name, copy.unit, copy.kind, copy.ref, PRESENT, copy.size,
                          verified_how=HOW_READ if keyring is not None else HOW_DIGEST, when=now,
                          sealed_digest=digest)
        else:
            problem(copy, what, BAD)
    _age(result, ledger, backend.name, now, period_days)
    return result


def _read_copy(backend: Backend, copy: Copy, wanted: WantedUnit | None,
               keyring: Keyring | None) -> tuple[str | None, str | None]:
    """(None, sealed digest) when the copy checks out, else (what is wrong, None)."""
    key = UnitRef(copy.kind, copy.ref, copy.unit).key
    try:
        with backend.open_read(key) as f:
            digest, size = hash_stream(f, copy.size or 0)
    except NotFound:
        return "missing", None
    except BackendError:
        raise
    if copy.size is not None and size != copy.size:
        return f"bad copy: read {size} bytes where {copy.size} were written", None
    if copy.sealed_digest is not None and digest != copy.sealed_digest \
            and (keyring is None or wanted is None):
        # (with the passphrase, rewritten bytes that authenticate are good: another store wrote them)
        return "bad copy: its bytes no longer match the BLAKE3 recorded when it was written", None
    if keyring is not None and wanted is not None:
        from archive.ops.verify_remote import check_unit  # the sealing engine: full audits only
        what = check_unit(backend, keyring, wanted)
        if what is not None:
            return what, None
    return None, digest


def _age(result: RemoteAudit, ledger: Ledger, remote: str, now: datetime, period_days: int) -> None:
    times = [c.verified_at for c in ledger.copies(remote) if c.state == PRESENT]
    if not times:
        return
    limit = now - timedelta(days=period_days)
    result.overdue = sum(1 for t in times if t is None or t < limit)
    known = [t for t in times if t is not None]
    # Every copy was verified at or after this time: the last full verification, in effect.
    result.oldest_verified = min(known) if len(known) == len(times) else None
