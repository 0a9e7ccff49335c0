"""`arkeep check PRODUCT@VERSION` and `status --ready`: can this release be reinstalled today?

Reads the catalog, the local store (presence only) and the ledger; contacts no remote. Each
finding is a reason with a severity: a *blocker* makes the release not restorable (no installer,
an installer with no copy anywhere, a key that cannot be decrypted), a *risk* makes it at risk
(fewer copies than the policy, none offsite, a stale or bad copy, a missing local object, an
expired licence, an activation that needs the vendor), and *info* is worth knowing but changes
nothing (no invoice archived, maintenance ended, key not checked without the passphrase).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from archive.crypto.keys import SecretBox
from archive.errors import UsageError
from archive.ops.status import Policy, copies_by_remote, release_refs
from archive.ops.verdict import RESTORABLE, installer_blockers, verdict
from archive.replicate.ledger import BAD, PRESENT, Ledger
from archive.replicate.remotes import RemoteSpec
from archive.storage.store import Store
from manifests.errors import ManifestError
from manifests.model import VENDOR_DEPENDENT_KINDS, License, Release

BLOCKER, RISK, INFO, OK = "blocker", "risk", "info", "ok"
EXPIRY_WARN_DAYS = 30


@dataclass(frozen=True)
class Reason:
    severity: str
    topic: str          # installer, copies, key, documents, licence, activation, authenticity
    message: str


@dataclass
class RemoteCopy:
    name: str
    offsite: bool
    complete: bool            # every unit of the release is present there
    bad: int
    verified_at: datetime | None   # the oldest verification among the release's units


@dataclass
class Readiness:
    release: str
    title: str
    reasons: list[Reason] = field(default_factory=list)
    remotes: list[RemoteCopy] = field(default_factory=list)
    key_checked: bool = False

    @property
    def verdict(self) -> str:
        severities = [r.severity for r in self.reasons]
        return verdict(severities.count(BLOCKER), severities.count(RISK))

    @property
    def restorable(self) -> bool:
        return self.verdict == RESTORABLE

    def add(self, severity: str, topic: str, message: str) -> None:
        self.reasons.append(Reason(severity, topic, message))

    def data(self) -> dict[str, Any]:
        """The --json shape (docs/JSON.md)."""
        return {
            "release": self.release, "title": self.title, "verdict": self.verdict,
            "restorable": self.restorable, "key_checked": self.key_checked,
            "remotes": [{"name": r.name, "offsite": r.offsite, "complete": r.complete, "bad": r.bad,
                         "verified_at": r.verified_at.isoformat() if r.verified_at else None}
                        for r in self.remotes],
            "reasons": [{"severity": r.severity, "topic": r.topic, "message": r.message}
                        for r in self.reasons],
        }


def check_release(store: Store, release: Release, ledger: Ledger, remotes: dict[str, RemoteSpec],
                  policy: Policy, box: SecretBox | None, now: datetime | None = None) -> Readiness:
    now = now or datetime.now(UTC)
    result = Readiness(release.id, release.title, key_checked=box is not None)
    held = _remote_copies(release, ledger, remotes, result)
    _check_files(store, release, held, result)
    _check_authenticity(release, result)
    _check_copies(result, policy, now)
    licenses = _licenses(store, release, result)
    _check_keys(release, licenses, box, result)
    _check_dates_and_activation(licenses, now.date(), result)
    return result


def _remote_copies(release: Release, ledger: Ledger, remotes: dict[str, RemoteSpec],
                   result: Readiness) -> dict[str, set[str]]:
    """Fill result.remotes; return, per ref, the remotes that hold a present copy of it."""
    refs = release_refs(release)
    held: dict[str, set[str]] = {}
    for name, copies in sorted(copies_by_remote(ledger, refs).items()):
        if name not in remotes:
            continue
        for ref, c in copies.items():
            if c.state == PRESENT:
                held.setdefault(ref, set()).add(name)
        complete = len(copies) == len(refs) and all(c.state == PRESENT for c in copies.values())
        verified = [c.verified_at for c in copies.values() if c.verified_at]
        result.remotes.append(RemoteCopy(name, remotes[name].offsite, complete,
                                         sum(c.state == BAD for c in copies.values()),
                                         min(verified) if complete and verified else None))
    return held


def _check_files(store: Store, release: Release, held: dict[str, set[str]], result: Readiness) -> None:
    installers = [(a.filename, a.blake3) for a in release.installers()]
    for message in installer_blockers(installers, store.has_object, held.__contains__):
        result.add(BLOCKER, "installer", message)
    for art in release.artifacts:
        local = store.has_object(art.blake3)
        where = sorted(held.get(art.blake3, ()))
        topic = "installer" if art.role == "installer" else "documents"
        if local and art.role == "installer":
            result.add(OK, "installer", f"{art.filename} is in the local store")
        elif not local and where:
            result.add(RISK, topic, f"{art.filename} is missing from the local store (copies on "
                       f"{', '.join(where)}; `arkeep repair` fetches it)")
        elif not local and art.role != "installer":
            result.add(RISK, topic, f"{art.filename} is missing from the local store and no "
                       "remote holds a copy")
    # A receipt (an order confirmation) proves the purchase as an invoice does.
    for roles, what in ((("license-file",), "licence file"), (("invoice", "receipt"), "invoice")):
        found = [a.filename for a in release.artifacts if a.role in roles]
        if found:
            result.add(OK, "documents", f"{what}: {', '.join(found)}")
        else:
            result.add(INFO, "documents", f"no {what} archived")


def _check_authenticity(release: Release, result: Readiness) -> None:
    """What the vendor's signatures said when each file was archived (verify --authenticity
    checks them again): a signature that did not match is a risk, an unsigned file worth knowing."""
    from archive.present.authenticity import summary

    for art in release.artifacts:
        for record in (art.authenticity, art.openpgp):
            if record is None:
                continue
            text = f"{art.filename}: {summary(record)}"
            if record.verdict == "valid":
                result.add(OK, "authenticity", text)
            elif record.verdict in ("digest-mismatch", "bad-signature"):
                result.add(RISK, "authenticity", text + " (archived with --accept-unverified)")
            else:
                result.add(INFO, "authenticity", text)


def _check_copies(result: Readiness, policy: Policy, now: datetime) -> None:
    stale_before = now - timedelta(days=policy.max_verify_age_days)
    good = [r for r in result.remotes if r.complete and r.bad == 0]
    fresh = [r for r in good if r.verified_at is not None and r.verified_at >= stale_before]
    offsite = [r for r in fresh if r.offsite]
    for r in result.remotes:
        if r.bad:
            result.add(RISK, "copies", f"{r.bad} copy(ies) on {r.name} known to be bad; run `arkeep repair`")
        elif not r.complete:
            result.add(RISK, "copies", f"{r.name} holds only part of this release; run `arkeep sync {r.name}`")
        elif r not in fresh:
            result.add(RISK, "copies", policy.stale(r.name, r.verified_at))
    for short in policy.shortfalls(len(fresh), len(offsite), counted="verified "):
        result.add(RISK, "copies", short)
    if fresh:
        oldest = min(r.verified_at for r in fresh if r.verified_at)
        result.add(OK, "copies", f"{len(fresh)} verified remote copies ({', '.join(r.name for r in fresh)}), "
                   f"{len(offsite)} offsite, oldest verification {oldest:%Y-%m-%d}")


def _licenses(store: Store, release: Release, result: Readiness) -> list[License]:
    out = []
    for lid in release.licenses:
        try:
            out.append(store.catalog.load_license(lid))
        except ManifestError as exc:
            result.add(BLOCKER, "key", f"licence record {lid} cannot be read: {exc}")
    if not release.licenses:
        result.add(INFO, "key", "no licence record (fine for free software; "
                   "`arkeep add … --key-file F` or `arkeep import` records one)")
    return out


def _check_keys(release: Release, licenses: list[License], box: SecretBox | None, result: Readiness) -> None:
    for lic in licenses:
        files = [a for a in release.artifacts if a.license == lic.id and a.role == "license-file"]
        if lic.key is None:
            if lic.kind in ("serial", "volume"):
                result.add(RISK, "key", f"licence {lic.id} ({lic.kind}) records no key")
            if lic.kind == "licence-file" and not files:
                result.add(RISK, "key", f"licence {lic.id} is a licence file, but none is archived")
            continue
        if box is None:
            result.add(INFO, "key", f"licence {lic.id}: key present, decryption not checked "
                       "(no passphrase given)")
            continue
        try:
            for secret in lic.secrets():
                if secret.token:
                    box.open(secret.token)
        except UsageError:
            result.add(BLOCKER, "key", f"licence {lic.id}: the key cannot be decrypted with this "
                       "store's secret (damaged, or from another archive)")
        else:
            result.add(OK, "key", f"licence {lic.id}: key present and decrypts")


def _check_dates_and_activation(licenses: list[License], today: date, result: Readiness) -> None:
    for lic in licenses:
        if lic.expires is not None:
            if lic.expires < today:
                result.add(RISK, "licence", f"licence {lic.id} expired on {lic.expires.isoformat()}")
            elif lic.expires <= today + timedelta(days=EXPIRY_WARN_DAYS):
                result.add(INFO, "licence", f"licence {lic.id} expires on {lic.expires.isoformat()}")
        if lic.maintenance_end is not None and lic.maintenance_end < today:
            result.add(INFO, "licence", f"maintenance of licence {lic.id} ended on "
                       f"{lic.maintenance_end.isoformat()}: this version reinstalls, newer ones "
                       "need a new licence")
        if lic.kind in VENDOR_DEPENDENT_KINDS:
            vendor = lic.vendor or lic.seller or "the vendor"
            result.add(RISK, "activation", f"licence {lic.id} is {lic.kind}: activating it needs "
                       f"{vendor} to still be there")


def check_all(store: Store, ledger: Ledger, remotes: dict[str, RemoteSpec], policy: Policy,
              box: SecretBox | None, damaged: list[Any] | None = None) -> list[Readiness]:
    return [check_release(store, r, ledger, remotes, policy, box)
            for r in store.catalog.search(None, damaged)]


def licences_without_release(store: Store) -> list[str]:
    """Licence records no release names (e.g. imported without a version). `sync` replicates
    them like every licence record (and `rebuild` brings them back), but no installer goes with
    them until `arkeep add … --license ID` links one."""
    named = {lid for r in store.catalog.releases([]) for lid in r.licenses}
    return sorted(p.stem for p in store.catalog.license_files() if p.stem not in named)
