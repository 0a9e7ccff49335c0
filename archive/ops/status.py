"""`arkeep whereis` and `arkeep status`: where each copy is, and what falls short of the policy.

Both read the ledger and the catalog only: no remote is contacted, no passphrase is needed.
Policy (the 3-2-1 rule with the local store as the first copy): at least `min_remotes` remotes
hold every unit of a release, at least `min_offsite` of them offsite, no copy known bad, and no
counted copy verified longer ago than `max_verify_age_days`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from manifests.model import Release

from ..ledger import BAD, PRESENT, Copy, Ledger
from ..remotes import RemoteSpec
from ..store import Store


@dataclass(frozen=True)
class Policy:
    min_remotes: int = 2
    min_offsite: int = 1
    max_verify_age_days: int = 90
    drive_warn_days: int = 30

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Policy":
        table = config.get("policy", {})
        return cls(**{k: int(v) for k, v in table.items() if k in cls.__dataclass_fields__})


@dataclass
class ReleaseStatus:
    release: str
    title: str
    good_remotes: list[str] = field(default_factory=list)
    offsite_remotes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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
    now = now or datetime.now(timezone.utc)
    stale_before = now - timedelta(days=policy.max_verify_age_days)
    notes = _remote_notes(ledger, remotes, policy, now)
    results = []
    for release in store.catalog.search(None):
        st = ReleaseStatus(release.id, release.title)
        refs = release_refs(release)
        for remote, copies in sorted(copies_by_remote(ledger, refs).items()):
            if remote not in remotes:
                continue
            bad = [r for r, c in copies.items() if c.state == BAD]
            if bad:
                st.problems.append(f"a copy on {remote} is known to be bad; run `arkeep repair`")
            if len(copies) == len(refs) and all(c.state == PRESENT for c in copies.values()):
                st.good_remotes.append(remote)
                oldest = min((c.verified_at for c in copies.values() if c.verified_at), default=None)
                if oldest is None or oldest < stale_before:
                    st.problems.append(f"the copy on {remote} was last verified "
                                       f"{'never' if oldest is None else f'{oldest:%Y-%m-%d}'}; "
                                       f"run `arkeep verify --remote {remote}`")
        st.offsite_remotes = [r for r in st.good_remotes if remotes[r].offsite]
        if len(st.good_remotes) < policy.min_remotes:
            st.problems.append(f"{len(st.good_remotes)} remote copies, the policy wants {policy.min_remotes}")
        if len(st.offsite_remotes) < policy.min_offsite:
            st.problems.append(f"{len(st.offsite_remotes)} offsite copies, the policy wants {policy.min_offsite}")
        missing_local = [a.filename for a in release.artifacts if not store.has_object(a.blake3)]
        if missing_local:
            st.problems.append(f"missing from the local store: {', '.join(missing_local)}")
        results.append(st)
    return results, notes


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
