"""`arkeep list --licenses` and `arkeep show lic-…`: licence records on their own, with the
releases that name them (none for a licence imported without a version)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archive.present.render import license_data, license_text
from archive.storage.store import Store
from manifests.errors import ManifestInvalid
from manifests.model import License, Release

if TYPE_CHECKING:
    from archive.crypto.keys import SecretBox


@dataclass(frozen=True)
class LicenceEntry:
    license: License
    releases: tuple[Release, ...]       # the releases that name this licence, in list order


def is_licence_ref(store: Store, ref: str) -> bool:
    """A bare licence id (`lic-…`, no `@`) of a record in this store."""
    return "@" not in ref and ref.startswith("lic-") and store.catalog.has_license(ref)


def _naming(store: Store, damaged: list[ManifestInvalid] | None) -> dict[str, list[Release]]:
    naming: dict[str, list[Release]] = {}
    for release in store.catalog.search(None, damaged):
        for lid in release.licenses:
            naming.setdefault(lid, []).append(release)
    return naming


def licence_entries(store: Store, damaged: list[ManifestInvalid] | None = None) -> list[LicenceEntry]:
    """Every readable licence record, by product then id; unreadable ones go to `damaged`."""
    naming = _naming(store, damaged)
    out = []
    for path in store.catalog.license_files():
        try:
            lic = store.catalog.read_license_file(path)
        except ManifestInvalid as exc:
            if damaged is None:
                raise
            damaged.append(exc)
            continue
        out.append(LicenceEntry(lic, tuple(naming.get(lic.id, ()))))
    return sorted(out, key=lambda e: ((e.license.product or "").casefold(), e.license.id))


def licence_entry(store: Store, lid: str) -> LicenceEntry:
    lic = store.catalog.load_license(lid)
    return LicenceEntry(lic, tuple(_naming(store, []).get(lid, ())))


def entry_data(entry: LicenceEntry, box: SecretBox | None = None) -> dict[str, Any]:
    data = license_data(entry.license, box)
    data["releases"] = [r.id for r in entry.releases]
    return data


def entry_line(entry: LicenceEntry) -> str:
    lic = entry.license
    names = ", ".join(r.id for r in entry.releases) or "no release"
    key = "key" if lic.key is not None else "no key"
    return f"{lic.id}  {lic.kind:<14} {lic.product or '(no product)'}  [{key}; {names}]"


def entry_text(entry: LicenceEntry, box: SecretBox | None) -> str:
    lic = entry.license
    if not entry.releases:
        return license_text(None, lic, box) + "Releases          : none (only this licence record)\n"
    texts = [license_text(entry.releases[0], lic, box)]
    texts.append(f"{'Releases':<18}: {', '.join(r.id for r in entry.releases)}\n")
    return "".join(texts)
