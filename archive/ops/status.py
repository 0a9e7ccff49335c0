"""`arkeep whereis` and `arkeep status`: where each copy is, and what falls short of the policy.

Both read the ledger and the catalog only: no remote is contacted, no passphrase is needed.
A release that cannot be restored at all (ops/verdict.py: no installer, or one with no copy
anywhere) is reported as such, as `check` does, whatever its copies. Policy (the 3-2-1 rule with the local store as the first copy): at least `min_remotes` remotes
hold every unit of a release, at least `min_offsite` of them offsite, no copy known bad, and no
counted copy verified longer ago than `max_verify_age_days`.
"""
from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from archive.ops.verdict import installer_blockers, verdict
from archive.replicate.ledger import BAD, PRESENT, Copy, Ledger
from archive.replicate.remotes import RemoteSpec
from archive.storage.store import Store
from manifests.index import ReleaseOutline
from manifests.model import Release


@dataclass(frozen=True)
class Policy:
    min_remotes: int = 2
    min_offsite: int = 1
    max_verify_age_days: int = 90
    drive_warn_days: int = 30

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Policy:
        table = config.get("policy", {})
        return cls(**{k: int(v) for k, v in table.items() if k in cls.__dataclass_fields__})

    def shortfalls(self, copies: int, offsite: int, counted: str = "") -> list[str]:
        """What a release's remote copies lack against the 3-2-1 rule: the one place it is
        judged and worded, for `status` and `check` alike. `counted` says which copies were
        counted ("verified " for check's fresh ones)."""
        short = []
        if copies < self.min_remotes:
            short.append(f"{copies} {counted}remote copies, the policy wants {self.min_remotes} "
                         "(`arkeep sync` makes them)")
        if offsite < self.min_offsite:
            short.append(f"{offsite} {counted}offsite copies, the policy wants {self.min_offsite} "
                         "(`arkeep remote add NAME URL --offsite`)")
        return short

    def stale(self, remote: str, verified_at: datetime | None) -> str:
        """The words for a copy not verified within max_verify_age_days."""
        when = f"{verified_at:%Y-%m-%d}" if verified_at else "never"
        return (f"the copy on {remote} was last verified {when} (the policy wants every "
                f"{self.max_verify_age_days} days); run `arkeep verify --remote {remote}`")


@dataclass
class ReleaseStatus:
    release: str
    title: str
    good_remotes: list[str] = field(default_factory=list)
    offsite_remotes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.blockers

    @property
    def verdict(self) -> str:
        return verdict(len(self.blockers), len(self.problems))


def release_refs(release: Release) -> list[str]:
    """The ledger refs of every unit of a release: its objects, licences and its own manifest."""
    return [a.blake3 for a in release.artifacts] + list(release.licenses) + [release.id]


def copies_by_remote(ledger: Ledger, refs: list[str]) -> dict[str, dict[str, Copy]]:
    out: dict[str, dict[str, Copy]] = {}
    for ref in refs:
        for copy in ledger.copies(ref=ref):
            out.setdefault(copy.remote, {})[ref] = copy
    return out


def whereis(store: Store, release: Release, ledger: Ledger, remotes: dict[str, RemoteSpec]) -> dict[str, Any]:
    items = [(a.filename, a.role, a.blake3, a.size) for a in release.artifacts]
    items += [(f"licence record {lid}", "license", lid, None) for lid in release.licenses]
    items += [("release manifest", "manifest", release.id, None)]
    out: list[dict[str, Any]] = []
    for name, role, ref, size in items:
        copies = {c.remote: c for c in ledger.copies(ref=ref)}
        where: dict[str, Any] = {}
        if role not in ("license", "manifest"):
            where["local"] = {"state": "present" if store.has_object(ref) else "missing"}
        for remote in remotes:
            c = copies.get(remote)
            where[remote] = {"state": c.state if c else "unknown",
                             "verified_at": c.verified_at.isoformat() if c and c.verified_at else None,
                             "verified_how": c.verified_how if c else None}
        out.append({"file": name, "role": role, "size": size, "copies": where})
    return {"release": release.id, "title": release.title, "items": out}


def status(store: Store, ledger: Ledger, remotes: dict[str, RemoteSpec], policy: Policy,
           now: datetime | None = None) -> tuple[list[ReleaseStatus], list[str]]:
    now = now or datetime.now(UTC)
    notes = _remote_notes(ledger, remotes, policy, now) + stale_key_notes(store, ledger, remotes)
    # Nothing here makes reference cycles, while the cyclic collector's passes over the
    # hundreds of thousands of objects kept alive (outlines, copies, results) took half the
    # time of a status at 100k releases: it is paused until the results are made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        held = ledger.states_by_ref(remotes)
        stale_before = now - timedelta(days=policy.max_verify_age_days)
        judge = _Judge(store, held, remotes, policy, stale_before)
        results = [judge.release(r) for r in store.catalog.outlines()]
        if not all(judge.local_found()):
            # An object the index names is not in the store: before saying so, make sure the
            # index is not what is wrong (a file changed with its size and mtime kept).
            store.catalog.check_index(deep=True)
            judge = _Judge(store, held, remotes, policy, stale_before)
            results = [judge.release(r) for r in store.catalog.outlines()]
        return results, notes
    finally:
        if collecting:
            gc.enable()


_ALL_PRESENT = {PRESENT}
_DIGEST, _STATE, _WHEN = itemgetter(1), itemgetter(0), itemgetter(1)


class _Judge:
    """Weighs each release against the policy. Every copy on the configured remotes is read
    from the ledger once, up front (one query, not one per unit of every release), and a local
    object shared by many releases is looked up once."""

    def __init__(self, store: Store, held: dict[str, dict[str, tuple[str, datetime | None]]],
                 remotes: dict[str, RemoteSpec], policy: Policy, stale_before: datetime) -> None:
        self.store = store
        self.held = held
        self.remotes = remotes
        self.names = sorted(remotes)
        self.offsite = {name for name, spec in remotes.items() if spec.offsite}
        self.policy = policy
        self.stale_before = stale_before
        self._local: dict[str, bool] = {}

    def release(self, release: ReleaseOutline) -> ReleaseStatus:
        digests = list(map(_DIGEST, release.artifacts))
        refs = digests + list(release.licenses)
        refs.append(release.id)
        # A ref listed twice counts twice in len(refs) but once among the copies, as in
        # copies_by_remote: such a release is never complete on any remote.
        held = [h for h in map(self.held.get, dict.fromkeys(refs)) if h]
        good: list[str] = []
        problems: list[str] = []
        for remote in self.names:
            copies = [h[remote] for h in held if remote in h]
            if not copies:
                continue
            states = set(map(_STATE, copies))
            if BAD in states:
                problems.append(f"a copy on {remote} is known to be bad; run `arkeep repair`")
            if len(copies) == len(refs) and states == _ALL_PRESENT:
                good.append(remote)
                verified = list(filter(None, map(_WHEN, copies)))
                oldest = min(verified) if verified else None
                if oldest is None or oldest < self.stale_before:
                    problems.append(self.policy.stale(remote, oldest))
        offsite = [r for r in good if r in self.offsite]
        problems += self.policy.shortfalls(len(good), len(offsite))
        if not all(map(self._has, digests)):
            missing_local = [name for name, digest, _ in release.artifacts if not self._has(digest)]
            problems.append(f"missing from the local store: {', '.join(missing_local)}")
        blockers = installer_blockers(release.installers, self._has, self._on_a_remote)
        return ReleaseStatus(release.id, release.title, good, offsite, problems, [], blockers)

    def local_found(self) -> Iterable[bool]:
        return self._local.values()

    def _on_a_remote(self, digest: str) -> bool:
        return any(state == PRESENT for state, _ in self.held.get(digest, {}).values())

    def _has(self, digest: str) -> bool:
        found = self._local.get(digest)
        if found is None:
            found = self._local[digest] = self.store.has_object(digest)
        return found


def _remote_notes(ledger: Ledger, remotes: dict[str, RemoteSpec], policy: Policy, now: datetime) -> list[str]:
    notes = []
    for name, spec in remotes.items():
        seen = ledger.last_seen(name)
        if spec.kind == "drive":
            if seen is None:
                notes.append(f"drive '{name}' has never been synced")
            elif now - seen > timedelta(days=policy.drive_warn_days):
                notes.append(f"drive '{name}' was last seen {seen:%Y-%m-%d}; plug it in and run `arkeep sync`")
    return notes


def stale_key_notes(store: Store, ledger: Ledger, remotes: dict[str, RemoteSpec]) -> list[str]:
    """Remotes whose key.toml was last known to hold another wrapping than the store's (an
    older passphrase): a rebuild from them needs that passphrase until they are synced."""
    from archive.crypto.keys import wrapping_id
    ours = wrapping_id(store.wrapped_key())
    notes = []
    for name in remotes:
        theirs = ledger.key_file_wrapping(name)
        if ours and theirs and theirs != ours:
            notes.append(f"remote '{name}' holds the key file of an older passphrase (a rebuild "
                         f"from it needs that passphrase); `arkeep sync {name}` updates it")
    return notes


@dataclass
class ReplicaStatus:
    """One remote as `status` sees it from the ledger: what it holds, what it lacks, when every
    copy on it was last verified, and when it was last seen."""
    name: str
    kind: str
    offsite: bool
    last_seen: datetime | None
    units: int                          # copies known present
    bad: int                            # copies known bad
    releases_complete: int
    releases_missing: int
    last_full_verification: datetime | None   # every present copy verified at or after it
    advice: str | None = None

    def data(self, now: datetime) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None
        return {"name": self.name, "kind": self.kind, "offsite": self.offsite,
                "last_seen": iso(self.last_seen), "units": self.units, "bad": self.bad,
                "releases_complete": self.releases_complete,
                "releases_missing": self.releases_missing,
                "last_full_verification": iso(self.last_full_verification),
                "days_since_verification": _days_since(self.last_full_verification, now),
                "advice": self.advice}


def _days_since(when: datetime | None, now: datetime) -> int | None:
    return None if when is None else max(0, (now - when).days)


def _ago(when: datetime | None, now: datetime) -> str:
    days = _days_since(when, now)
    if days is None:
        return "never"
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


def replicas(ledger: Ledger, remotes: dict[str, RemoteSpec], results: list[ReleaseStatus],
             policy: Policy, now: datetime) -> list[ReplicaStatus]:
    """Per remote, from the ledger and the release results `status` made: which drive to plug
    in next and why ("plug in usb2: 14 releases missing, last verified 97 days ago")."""
    counts = {name: [0, 0, None, False] for name in remotes}   # units, bad, oldest, a never
    for held in ledger.states_by_ref(remotes).values():
        for name, (state, verified) in held.items():
            entry = counts.get(name)
            if entry is None:
                continue
            if state == PRESENT:
                entry[0] += 1
                if verified is None:
                    entry[3] = True
                elif entry[2] is None or verified < entry[2]:
                    entry[2] = verified
            elif state == BAD:
                entry[1] += 1
    complete = dict.fromkeys(remotes, 0)
    for r in results:
        for name in r.good_remotes:
            if name in complete:
                complete[name] += 1
    out = []
    stale_before = now - timedelta(days=policy.max_verify_age_days)
    for name in sorted(remotes):
        spec = remotes[name]
        units, bad, oldest, never = counts[name]
        full = None if never or units == 0 else oldest
        missing = len(results) - complete[name]
        seen = ledger.last_seen(name)
        replica = ReplicaStatus(name, spec.kind, spec.offsite, seen, units, bad, complete[name],
                                missing, full)
        lacks = []
        if missing:
            lacks.append(f"{missing} release{'s' if missing != 1 else ''} missing")
        if bad:
            lacks.append(f"{bad} bad cop{'ies' if bad != 1 else 'y'}")
        stale = full is None or full < stale_before
        if lacks or (stale and units):
            verified = f"last verified {_ago(full, now)}" if full else "never fully verified"
            if spec.kind == "drive":
                replica.advice = (f"plug in {name}: {', '.join([*lacks, verified])} (last seen "
                                  f"{_ago(seen, now)}); then `arkeep sync {name}` or "
                                  f"`arkeep audit {name}`")
            else:
                step = f"`arkeep sync {name}`" if lacks else f"`arkeep audit {name}`"
                replica.advice = f"{name}: {', '.join([*lacks, verified])}; run {step}"
        out.append(replica)
    return out
