"""`arkeep export --csv FILE`: the inventory as a spreadsheet, one row per release and licence.

A release with two licences gives two rows; a release without a licence one row with the
licence columns empty; a licence record that no release names one row with the release columns
empty. Keys are masked unless the caller passes a SecretBox (`--reveal`). Cells that a
spreadsheet would run as a formula (starting with = + - @) get a leading apostrophe.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from archive.crypto.keys import SecretBox
from archive.errors import UsageError
from archive.present.render import reveal
from archive.storage.store import Store
from archive.system import durable
from manifests.model import License, Release

MASKED = "(hidden)"
COLUMNS = (
    "release", "product", "version", "edition", "platform", "vendor", "installers", "files",
    "size_bytes", "license", "license_kind", "key", "extra_keys", "account_hint", "licensed_to",
    "email", "company", "seats", "purchase_date", "order_number", "price", "currency", "seller",
    "expires", "maintenance_end", "activation_notes", "license_files", "invoices", "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class InventoryResult:
    path: Path
    rows: int
    releases: int
    licenses: int
    revealed: bool


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _secret_cell(lic: License, name: str, box: SecretBox | None) -> str:
    value = getattr(lic, name)
    if name == "extra_keys":
        if not value:
            return ""
        return " | ".join(reveal(s, box) or "" for s in value) if box else MASKED
    if value is None:
        return ""
    return (reveal(value, box) or "") if box else MASKED


def rows(store: Store, releases: list[Release], box: SecretBox | None,
         orphans: bool = True) -> list[dict[str, str]]:
    licenses: dict[str, License] = {}
    out = []
    for release in releases:
        lids = list(release.licenses) or [None]
        for lid in lids:
            lic = licenses.get(lid) if lid else None
            if lid and lic is None:
                lic = licenses[lid] = store.catalog.load_license(lid)
            out.append(_row(release, lic, box))
    if orphans:
        named = {lid for r in store.catalog.releases() for lid in r.licenses}
        for path in store.catalog.license_files():
            if path.stem not in named:
                out.append(_row(None, store.catalog.read_license_file(path), box))
    return out


def _row(release: Release | None, lic: License | None, box: SecretBox | None) -> dict[str, str]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    if release is not None:
        row.update(release=release.id, product=release.product, version=release.version,
                   edition=release.edition, platform=release.platform, vendor=release.vendor,
                   installers="; ".join(a.filename for a in release.installers()),
                   files=len(release.artifacts), size_bytes=sum(a.size for a in release.artifacts))
    if lic is not None:
        mine = [a for a in (release.artifacts if release else ()) if a.license == lic.id]
        row.update(
            license=lic.id, license_kind=lic.kind, key=_secret_cell(lic, "key", box),
            extra_keys=_secret_cell(lic, "extra_keys", box),
            account_hint=_secret_cell(lic, "account_hint", box),
            licensed_to=lic.licensed_to, email=lic.email, company=lic.company, seats=lic.seats,
            purchase_date=lic.purchase_date, order_number=lic.order_number, price=lic.price,
            currency=lic.currency, seller=lic.seller, expires=lic.expires,
            maintenance_end=lic.maintenance_end, activation_notes=lic.activation_notes,
            license_files="; ".join(a.filename for a in mine if a.role == "license-file"),
            invoices="; ".join(a.filename for a in mine if a.role == "invoice"), notes=lic.notes)
        if release is None:
            row.update(product=lic.product, vendor=lic.vendor)
        elif not row["vendor"]:
            row["vendor"] = lic.vendor
    return {k: _cell(v) for k, v in row.items()}


def export_csv(store: Store, dest: Path, releases: list[Release] | None = None,
               box: SecretBox | None = None, force: bool = False) -> InventoryResult:
    """Write the inventory to `dest` atomically (mode 0600 when keys are revealed)."""
    if dest.is_dir():
        raise UsageError(f"{dest} is a directory; give a file name ending in .csv")
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists; use --force to replace it")
    whole = releases is None
    chosen = store.catalog.search(None) if releases is None else releases
    table = rows(store, chosen, box, orphans=whole)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with durable.writing(dest, f"cannot write {dest}", mode=0o600 if box is not None else 0o644,
                         text=True, encoding="utf-8-sig", newline="", prefix=".arkeep-inventory-",
                         suffix=".csv") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(table)
    return InventoryResult(dest, len(table), len(chosen), len({r["license"] for r in table if r["license"]}),
                           box is not None)
