"""Releases and licence records as plain data (for --json) and as text (show, LICENSE.txt)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from archive.present.authenticity import data as authenticity_data
from archive.present.authenticity import download_data, download_line, summary
from archive.present.humanize import human_size
from manifests.model import License, Release, Secret

if TYPE_CHECKING:   # only annotations here: `arkeep list` must not pay for cryptography
    from archive.crypto.keys import SecretBox

MASK = "•••••• (hidden; --reveal shows it)"

LICENSE_LABELS = (
    ("kind", "Kind"), ("product", "Product"), ("licensed_to", "Licensed to"), ("email", "Email"),
    ("company", "Company"), ("seats", "Seats"), ("purchase_date", "Purchased"),
    ("order_number", "Order number"), ("price", "Price"), ("seller", "Seller"), ("vendor", "Vendor"),
    ("expires", "Expires"), ("maintenance_end", "Maintenance ends"),
    ("activation_notes", "Activation notes"), ("notes", "Notes"),
)


def _value(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def _plain(v: Any) -> str:
    """A value of [extra] as a person reads it: lists joined by commas, tables as 'key: value'
    pairs, never Python's repr."""
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_plain(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain(x) for x in v)
    return str(_value(v))


def _provenance(meta: dict[str, Any]) -> str:
    """Where an imported record came from: 'bitwarden_export.json (bitwarden), item 3, folder
    Software'. The fingerprint (a keyed digest that recognises the item next time) is left out."""
    head = f"{meta.get('file', '?')} ({meta.get('format', '?')})"
    if "item" in meta:
        head += f", item {meta['item']}"
    rest = {k: v for k, v in meta.items() if k not in ("file", "format", "item", "fingerprint")}
    return head + "".join(f", {k} {_plain(v)}" for k, v in rest.items())


def reveal(secret: Secret | None, box: SecretBox | None) -> str | None:
    if secret is None:
        return None
    if secret.plain is not None:
        return secret.plain
    return box.open(secret.token or "") if box is not None else None


def release_data(release: Release) -> dict[str, Any]:
    return {
        "id": release.id, "product": release.product, "version": release.version,
        "vendor": release.vendor, "edition": release.edition, "platform": release.platform,
        "created": _value(release.created), "licenses": list(release.licenses),
        "artifacts": [{"role": a.role, "filename": a.filename, "size": a.size, "blake3": a.blake3,
                       "media_type": a.media_type, "license": a.license, "source_url": a.source_url,
                       **({"authenticity": authenticity_data(a.authenticity)}
                          if a.authenticity else {}),
                       **({"openpgp": authenticity_data(a.openpgp)} if a.openpgp else {}),
                       **({"retrieved": _value(a.retrieved), "download": download_data(a.download)}
                          if a.download else {})}
                      for a in release.artifacts],
    }


def license_data(lic: License, box: SecretBox | None) -> dict[str, Any]:
    """The licence as data; secrets only when `box` is given (i.e. the user asked to reveal)."""
    out: dict[str, Any] = {"id": lic.id}
    for name, _ in LICENSE_LABELS:
        value = getattr(lic, name)
        if value is not None:
            out[name] = _value(value)
    if lic.currency:
        out["currency"] = lic.currency
    out["has_key"] = lic.key is not None
    if box is not None:
        out["key"] = reveal(lic.key, box)
        out["extra_keys"] = [reveal(k, box) for k in lic.extra_keys]
        out["account_hint"] = reveal(lic.account_hint, box)
    if lic.extra:
        out["extra"] = {k: _value(v) for k, v in lic.extra.items()}
    return out


def license_text(release: Release | None, lic: License, box: SecretBox | None) -> str:
    """A licence record as text; without a release, titled by the product the record names."""
    title = release.title if release is not None else (lic.product or "no release")
    lines = [f"Licence {lic.id} for {title}", "=" * 60]
    if lic.key is not None:
        lines.append(f"{'Key':<18}: {reveal(lic.key, box) if box else MASK}")
    for i, extra in enumerate(lic.extra_keys, 1):
        lines.append(f"{f'Extra key {i}':<18}: {reveal(extra, box) if box else MASK}")
    if lic.account_hint is not None:
        lines.append(f"{'Account hint':<18}: {reveal(lic.account_hint, box) if box else MASK}")
    for name, label in LICENSE_LABELS:
        value = getattr(lic, name)
        if value is None:
            continue
        if name == "price" and lic.currency:
            value = f"{value} {lic.currency}"
        lines.append(f"{label:<18}: {_value(value)}")
    for k, v in sorted(lic.extra.items()):
        if k == "import" and isinstance(v, dict):
            lines.append(f"{'Imported from':<18}: {_provenance(v)}")
        else:
            lines.append(f"{k:<18}: {_plain(v)}")
    files = [a for a in release.artifacts if a.license == lic.id and a.role != "installer"] \
        if release is not None else []
    for a in files:
        lines.append(f"{a.role:<18}: {a.filename}")
    return "\n".join(lines) + "\n"


def release_text(release: Release, licenses: list[License], box: SecretBox | None) -> str:
    lines = [release.title, f"  id       : {release.id}"]
    if release.vendor:
        lines.append(f"  vendor   : {release.vendor}")
    lines.append(f"  archived : {release.created:%Y-%m-%d %H:%M} UTC")
    lines.append("  files:")
    for a in release.artifacts:
        lines.append(f"    {a.role:<13} {a.filename}  ({human_size(a.size)}, blake3 {a.blake3[:16]}…)")
        if a.download is not None and a.retrieved is not None:
            lines.append(f"    {'':<13} downloaded {a.retrieved:%Y-%m-%d %H:%M} UTC from {a.source_url}"
                         f" ({download_line(a.download)})")
        for record in (a.authenticity, a.openpgp):
            if record is not None:
                lines.append(f"    {'':<13} {summary(record)} (checked {record.checked:%Y-%m-%d})")
    for lic in licenses:
        lines.append("")
        lines.extend("  " + line for line in license_text(release, lic, box).splitlines())
    return "\n".join(lines)

