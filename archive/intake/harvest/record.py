"""`arkeep harvest --apply`: each recovered key becomes an encrypted licence record.

A record says where its key was read and when (under `extra.harvest`), carries a keyed
fingerprint of the product and key so that harvesting the same disk again adds nothing, and is
linked to the release of the same product and version when the store holds exactly one; with
no such release it stays a licence record without one (`arkeep list --licenses` shows it).
Licence files are kept whole as the record's key: encrypted like any key, shown by
`show --reveal`, written back by hand where the program expects it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archive.errors import ArkeepError
from archive.intake.harvest.findings import Finding
from archive.intake.harvest.installed import same_program, same_version
from archive.intake.harvest.plan import HarvestPlan
from archive.intake.purchase import new_license_id
from archive.storage.store import Store
from manifests.errors import ManifestInvalid
from manifests.model import License, Release, Secret

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.crypto.keys import SecretBox

@dataclass(frozen=True)
class Recorded:
    finding: Finding
    action: str                  # "new", "unchanged" (harvested before) or "failed"
    license_id: str | None = None
    release_id: str | None = None
    error: str | None = None


def fingerprint(f: Finding, keyring: Keyring) -> str:
    text = "\x00".join((f.source, " ".join(f.product.casefold().split()),
                         f.key if f.recoverable and f.key else ""))
    return keyring.fingerprint(text.encode(), of="harvest")


def _known(store: Store) -> dict[str, str]:
    out = {}
    for path in store.catalog.license_files():
        try:
            lic = store.catalog.read_license_file(path)
        except ManifestInvalid:
            continue
        meta = lic.extra.get("harvest")
        if isinstance(meta, dict) and isinstance(meta.get("fingerprint"), str):
            out[meta["fingerprint"]] = lic.id
    return out


def release_for(f: Finding, releases: list[Release]) -> Release | None:
    """The one release of the finding's product (and version, when known)."""
    same = [r for r in releases if same_program(r.product, f.product)
            or same_program(f.product, r.product)]
    if f.version is not None:
        same = [r for r in same if same_version(r.version, f.version)]
    return same[0] if len(same) == 1 else None


def build_licence(f: Finding, box: SecretBox, fp: str, now: datetime, root: str) -> License:
    """A key's record (the key sealed), or an account licence's (no key: the reason and the
    vendor's portal as its activation notes)."""
    meta: dict[str, Any] = {"source": f.source, "where": f.where, "how": f.how, "read": now.isoformat(),
                            "from": root, "fingerprint": fp}
    if f.also:
        meta["also"] = list(f.also)
    if f.version:
        meta["version"] = f.version
    if f.portal:
        meta["portal"] = f.portal
    key = Secret(token=box.seal(f.key)) if f.recoverable and f.key else None
    return License(id=new_license_id(), kind=f.kind, created=now, product=f.product, key=key,
                   vendor=f.vendor, licensed_to=f.licensed_to, company=f.company, email=f.email,
                   activation_notes=None if key else f.reason, extra={"harvest": meta})


def record_findings(store: Store, plan: HarvestPlan, keyring: Keyring) -> list[Recorded]:
    """Write a licence record for each recovered key (and account licence) not recorded before;
    link each to its release. One failure does not stop the others."""
    box = keyring.box
    known = _known(store)
    releases = list(store.catalog.releases())
    now = datetime.now(UTC).replace(microsecond=0)
    root = str(plan.root) if plan.root is not None else "the running system"
    out = []
    for f in plan.recordable:
        fp = fingerprint(f, keyring)
        if fp in known:
            out.append(Recorded(f, "unchanged", known[fp]))
            continue
        try:
            lic = build_licence(f, box, fp, now, root)
            store.catalog.write_license(lic)
            known[fp] = lic.id
            rel = release_for(f, releases)
            if rel is not None:
                rel = store.catalog.load_release(rel.id)
                store.catalog.write_release(replace(rel, licenses=rel.licenses + (lic.id,)))
                releases = [rel if r.id != rel.id else replace(rel, licenses=rel.licenses + (lic.id,))
                            for r in releases]
            out.append(Recorded(f, "new", lic.id, rel.id if rel else None))
        except (ArkeepError, ManifestInvalid) as exc:
            out.append(Recorded(f, "failed", error=str(exc)))
    return out
