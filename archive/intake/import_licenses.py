"""`arkeep import FORMAT FILE`: licence records (and releases) from a password manager's export.

Two steps. `plan_import` maps each item's fields onto a licence record without touching the
store: what the label table recognises lands in its field, hidden values become encrypted
secrets (a key, or an extra key under its own label), and everything else is kept under
`extra` with its original label, so nothing is dropped. `apply_import` then writes, in the
store's order: attachments as objects, licence records, releases. A record carries a keyed
fingerprint of the item it came from, so importing the same file twice changes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.crypto.keys import SecretBox
from archive.errors import UsageError
from archive.intake.add import find_release_for, media_type
from archive.intake.importers import Attachment, ImportedField, ImportedItem
from archive.intake.importers.fields import (
    SECRET_TARGETS,
    is_key_shaped,
    parse_date,
    parse_kind,
    parse_seats,
    split_labelled_lines,
    target_of,
)
from archive.intake.price import currency_code, parse_price
from archive.intake.purchase import new_license_id
from archive.storage.hashing import hash_bytes
from archive.storage.store import Store
from manifests.codec import license_to_toml, parse_license
from manifests.errors import ManifestInvalid
from manifests.model import Artifact, License, Release, Secret, name_problem, release_id
from manifests.schema import MAX_TEXT, unsafe_filename_reason

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

MASK = "••••••"
UNKNOWN_VERSION = "unknown"
DATE_TARGETS = ("purchase_date", "expires", "maintenance_end")
RELEASE_TARGETS = ("product", "version", "edition", "platform")
# Keys of `extra` that arkeep itself writes; a source field of that name gets a suffix.
RESERVED_EXTRA = ("import", "extra_key_labels", "notes (long)")
TEXT_TARGETS = ("licensed_to", "email", "company", "order_number", "seller", "vendor",
                "activation_notes")


@dataclass(frozen=True)
class MappedField:
    """Where one value of the source went: `to` is a licence field, `extra_keys[n]` or `extra.LABEL`."""

    label: str
    to: str
    secret: bool
    value: str = field(repr=False)

    def shown(self) -> str:
        return MASK if self.secret else self.value


@dataclass(frozen=True)
class Draft:
    """One item mapped onto a licence record (and a release), secrets still in clear."""

    item: ImportedItem
    product: str
    version: str | None
    edition: str | None
    platform: str | None
    vendor: str | None
    kind: str
    values: dict[str, Any]
    key: str | None = field(repr=False)
    extra_keys: tuple[tuple[str, str], ...] = field(repr=False)
    account_hint: str | None = field(repr=False)
    notes: str | None
    extra: dict[str, Any]
    mapping: tuple[MappedField, ...]
    warnings: tuple[str, ...]

    @property
    def release_id(self) -> str | None:
        version = self.version or (UNKNOWN_VERSION if self.item.attachments else None)
        return release_id(self.product, version, self.edition, self.platform) if version else None


@dataclass
class _Builder:
    """Collects the fields of one item as they are mapped."""

    values: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    extra_keys: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mapping: list[MappedField] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_extra(self, label: str, value: str, why: str | None = None) -> None:
        name = label.strip() or "field"
        n = 2
        while name in self.extra or name in RESERVED_EXTRA:
            name = f"{label.strip() or 'field'} ({n})"
            n += 1
        self.extra[name] = value
        self.mapping.append(MappedField(label, f"extra.{name}", False, value))
        if why:
            self.warnings.append(f"'{label}' {why}; kept as text under extra")

    def to_secret(self, label: str, value: str) -> None:
        self.extra_keys.append((label.strip() or "secret", value))
        self.mapping.append(MappedField(label, f"extra_keys[{len(self.extra_keys) - 1}]", True, value))

    def set(self, target: str, label: str, value: Any, shown: str) -> None:
        self.values[target] = value
        self.mapping.append(MappedField(label, target, False, shown))


def plan_import(items: list[ImportedItem], include_all: bool = False) -> tuple[list[Draft], list[ImportedItem]]:
    """(drafts to import, items skipped). Only items that look like licences, unless include_all."""
    drafts, skipped = [], []
    for item in items:
        if not item.importable or not (item.licence_like or include_all):
            skipped.append(item)
        else:
            drafts.append(draft_from_item(item))
    return drafts, skipped


def skip_reason(item: ImportedItem) -> str:
    if item.skip_reason:
        return item.skip_reason
    return "holds no licence key and is not in a licence or software folder (--all imports it)"


def draft_from_item(item: ImportedItem) -> Draft:
    b = _Builder()
    fields = list(item.fields)
    if item.notes:
        found, rest = split_labelled_lines(item.notes)
        fields += [ImportedField(label, value) for label, value in found if value]
        if rest:
            b.notes.append(rest)
            b.mapping.append(MappedField("(notes)", "notes", False, rest))
    usernames = [f for f in fields if (f.target or target_of(f.label)) == "account_hint"]
    has_key = any((f.target or target_of(f.label)) == "key" for f in fields)
    for f in fields:
        target = f.target or target_of(f.label)
        if target is None and not has_key and password_is_key(f, bool(usernames)):
            target, has_key = "key", True
        _place(b, f, target)
    product = b.values.pop("product", None)
    if product is None:
        product = item.title or f"item {item.index}"
        b.mapping.insert(0, MappedField("(title)", "product", False, product))
    elif item.title and product != item.title:
        b.to_extra("title", item.title)
    for label, value in (("(folder)", item.folder), ("(type)", item.category)):
        if value:
            b.mapping.append(MappedField(label, "extra.import." + ("folder" if label == "(folder)"
                                                                   else "category"), False, value))
    kind = b.values.pop("kind", None) or (
        "serial" if "key" in b.secrets else "licence-file" if item.attachments
        else "account" if "account_hint" in b.secrets or b.extra_keys else "other")
    extra = dict(b.extra)
    if b.extra_keys:
        extra["extra_key_labels"] = [label for label, _ in b.extra_keys]
    notes = "\n\n".join(b.notes) or None
    if notes and len(notes) > MAX_TEXT:
        extra["notes (long)"], notes = notes, None
    return Draft(item=item, product=product, version=b.values.pop("version", None),
                 edition=b.values.pop("edition", None), platform=b.values.pop("platform", None),
                 vendor=b.values.get("vendor"), kind=kind, values=b.values,
                 key=b.secrets.get("key"), extra_keys=tuple(b.extra_keys),
                 account_hint=b.secrets.get("account_hint"), notes=notes, extra=extra,
                 mapping=tuple(b.mapping), warnings=tuple(b.warnings) + item.warnings)


def password_is_key(f: ImportedField, has_username: bool) -> bool:
    """A Password field holds the licence key (when no field is labelled as the key) if the item
    has no user name, or if the value is shaped like a product key (XXXXX-XXXXX-XXXXX): password
    managers have no serial field, so people put the serial where the password goes, often with
    the registration name or e-mail as the user name. Anything else is an account's password."""
    if f.label.strip().lower() != "password":
        return False
    return not has_username or is_key_shaped(f.value)


def _place(b: _Builder, f: ImportedField, target: str | None) -> None:
    """Put one field where it belongs: its target if free and readable, else extra or extra_keys."""
    value = f.value.strip()
    if target == "secret" or (f.concealed and target not in SECRET_TARGETS):
        b.to_secret(f.label, value)
    elif target in SECRET_TARGETS:
        if target in b.secrets:
            b.to_secret(f.label, value)
        else:
            b.secrets[target] = value
            b.mapping.append(MappedField(f.label, target, True, value))
    elif target == "notes":
        b.notes.append(value)
        b.mapping.append(MappedField(f.label, "notes", False, value))
    elif target is None or target == "extra" or target in b.values:
        b.to_extra(f.label, value)
    elif len(value) > MAX_TEXT:
        b.to_extra(f.label, value, f"is longer than {MAX_TEXT} characters")
    elif target in DATE_TARGETS:
        day = parse_date(value)
        if day is None:
            b.to_extra(f.label, value, "is not a date that can be read without guessing")
        else:
            b.set(target, f.label, day, day.isoformat())
    elif target == "seats":
        seats = parse_seats(value)
        if seats is None:
            b.to_extra(f.label, value, "is not a whole number of seats")
        else:
            b.set(target, f.label, seats, str(seats))
    elif target == "price":
        price = parse_price(value)
        if price is None:
            b.to_extra(f.label, value, "is not an amount")
        else:
            currency = b.values.get("currency") or price[1]
            b.set("price", f.label, price[0], f"{price[0]} {currency}" if currency else price[0])
            if currency:
                b.values["currency"] = currency
    elif target == "currency":
        code = currency_code(value)
        if code is not None:
            b.values["currency"] = code
            b.mapping.append(MappedField(f.label, "currency", False, code))
        else:
            b.to_extra(f.label, value, "is not a three-letter currency code")
    elif target == "kind":
        kind = parse_kind(value)
        if kind is None:
            b.to_extra(f.label, value, "is not a licence kind arkeep knows")
        else:
            b.set("kind", f.label, kind, kind)
    else:
        b.set(target, f.label, value, value)


# ---- writing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemOutcome:
    draft: Draft
    action: str                       # "new" or "unchanged" (imported before)
    license_id: str | None
    release_id: str | None
    release_action: str | None        # "new", "updated" or None


@dataclass(frozen=True)
class ImportResult:
    outcomes: tuple[ItemOutcome, ...]
    skipped: tuple[ImportedItem, ...]
    dry_run: bool


def fingerprint(item: ImportedItem, keyring: Keyring) -> str:
    """A keyed digest of everything the item holds: the same item gives the same fingerprint."""
    canon = json.dumps({"title": item.title, "notes": item.notes or "",
                        "fields": sorted([f.label, f.value, f.concealed] for f in item.fields),
                        "files": sorted([a.filename, hash_bytes(a.data)] for a in item.attachments)},
                       ensure_ascii=False, sort_keys=True)
    return keyring.fingerprint(canon.encode())


def known_fingerprints(store: Store) -> dict[str, str]:
    out = {}
    for path in store.catalog.license_files():
        lic = store.catalog.read_license_file(path)
        meta = lic.extra.get("import")
        if isinstance(meta, dict) and isinstance(meta.get("fingerprint"), str):
            out[meta["fingerprint"]] = lic.id
    return out


def apply_import(store: Store, drafts: list[Draft], skipped: list[ImportedItem], keyring: Keyring,
                 source_format: str, source_name: str, dry_run: bool = False) -> ImportResult:
    """Write every draft (nothing at all when dry_run); same items as before are left alone."""
    box = keyring.box
    known = known_fingerprints(store)
    now = datetime.now(UTC).replace(microsecond=0)
    planned: list[tuple[Draft, License | None, str]] = []
    for d in drafts:
        fp = fingerprint(d.item, keyring)
        if fp in known:
            planned.append((d, None, known[fp]))
            continue
        lic = build_license(d, box, now, {"format": source_format, "file": source_name,
                                          "item": d.item.index, "fingerprint": fp})
        known[fp] = lic.id
        planned.append((d, lic, lic.id))
    releases: dict[str, Release] = {}
    outcomes = []
    for d, lic, lid in planned:
        rid = d.release_id
        action = None
        if lic is not None and rid is not None:
            rid, existing = _find_release(store, releases, d)
            release, action = _release_for(existing, d, rid, lid, now)
            releases[rid] = release
        outcomes.append(ItemOutcome(d, "new" if lic is not None else "unchanged", lid,
                                    rid, action))
    if not dry_run:
        _write(store, planned, releases, keyring)
    return ImportResult(tuple(outcomes), tuple(skipped), dry_run)


def build_license(d: Draft, box: SecretBox, now: datetime, meta: dict[str, Any]) -> License:
    def seal(text: str | None) -> Secret | None:
        return Secret(token=box.seal(text)) if text else None
    item = d.item
    meta = dict(meta)
    for name, value in (("id", item.source_id), ("category", item.category), ("folder", item.folder)):
        if value:
            meta[name] = value
    extra = {**d.extra, "import": meta}
    lic = License(id=new_license_id(), kind=d.kind, created=now, product=d.product,
                  key=seal(d.key), extra_keys=tuple(Secret(token=box.seal(v)) for _, v in d.extra_keys),
                  account_hint=seal(d.account_hint), notes=d.notes, extra=extra,
                  **{k: v for k, v in d.values.items() if k in License.__dataclass_fields__})
    # Refuse now, before anything is written, what a reader of the store would refuse later;
    # name the fields only, since a problem's text may quote a value.
    try:
        parse_license(license_to_toml(lic), "")
    except ManifestInvalid as exc:
        names = ", ".join(sorted({p.field or "?" for p in exc.problems}))
        raise UsageError(f"item {item.index} ({item.title}): cannot be stored as a licence record "
                         f"(field {names}); nothing was imported") from None
    return lic


def _find_release(store: Store, pending: dict[str, Release], d: Draft) -> tuple[str, Release | None]:
    """The id and existing release of a draft's names, refused (nothing imported) when a name
    cannot be a release's or the id holds a release with other names."""
    version = d.version or UNKNOWN_VERSION
    for field_name, value in (("product", d.product), ("version", version), ("edition", d.edition),
                              ("platform", d.platform)):
        reason = name_problem(field_name, value)
        if reason:
            raise UsageError(f"item {d.item.index} ({d.item.title}): its {field_name} {reason}; "
                             "nothing was imported")
    try:
        return find_release_for(store, d.product.strip(), version.strip(),
                                (d.edition or "").strip() or None, (d.platform or "").strip() or None,
                                pending)
    except UsageError as exc:
        raise UsageError(f"item {d.item.index}: {exc}; nothing was imported") from None


def _release_for(existing: Release | None, d: Draft, rid: str, lid: str,
                 now: datetime) -> tuple[Release, str]:
    artifacts = [_artifact(a, lid, i) for i, a in enumerate(d.item.attachments, 1)]
    if existing is None:
        return Release(id=rid, product=d.product, version=d.version or UNKNOWN_VERSION, created=now,
                       vendor=d.vendor, edition=d.edition, platform=d.platform, licenses=(lid,),
                       artifacts=tuple(artifacts)), "new"
    names = {a.filename for a in existing.artifacts}
    fresh = []
    for art in artifacts:
        if any(a.blake3 == art.blake3 and a.filename == art.filename for a in existing.artifacts):
            continue
        if art.filename in names:
            stem, dot, ext = art.filename.rpartition(".")
            art = replace(art, filename=f"{stem}-{lid}.{ext}" if dot else f"{art.filename}-{lid}")
        names.add(art.filename)
        fresh.append(art)
    licenses = existing.licenses + ((lid,) if lid not in existing.licenses else ())
    return replace(existing, licenses=licenses, artifacts=existing.artifacts + tuple(fresh)), "updated"


def _artifact(att: Attachment, lid: str, n: int) -> Artifact:
    name = att.filename
    if unsafe_filename_reason(name):
        name = "".join("_" if c in "/\\" or ord(c) < 32 or ord(c) == 127 else c for c in name)
        name = name.strip(". ")[-200:] or f"attachment-{n}"
        if unsafe_filename_reason(name):
            name = f"attachment-{n}"
    extra = {"original_filename": att.filename} if name != att.filename else {}
    return Artifact(role="license-file", filename=name, size=len(att.data), blake3=hash_bytes(att.data),
                    media_type=media_type(Path(name)), license=lid, extra=extra)


def _write(store: Store, planned: list[tuple[Draft, License | None, str]],
           releases: dict[str, Release], keyring: Keyring) -> None:
    """Objects first, then licence records, then releases: a crash never leaves a dangling name."""
    for d, lic, _ in planned:
        if lic is None:
            continue
        for att in d.item.attachments:
            _ingest_bytes(store, att.data, keyring)
    for _, lic, _ in planned:
        if lic is not None:
            store.catalog.write_license(lic)
    for release in releases.values():
        store.catalog.write_release(release)


def _ingest_bytes(store: Store, data: bytes, keyring: Keyring) -> None:
    """An attachment is a licence file: kept encrypted at rest, never written plain to disk."""
    if store.ingest_bytes(data, keyring).digest != hash_bytes(data):
        raise UsageError("an attachment changed while it was being archived")


def result_data(result: ImportResult, source_format: str, source: str) -> dict[str, Any]:
    """The --json shape of `arkeep import` (see docs/JSON.md); secrets always masked."""
    def value(v: Any) -> Any:
        return v.isoformat() if isinstance(v, date) else v
    items = []
    for o in result.outcomes:
        d = o.draft
        items.append({
            "index": d.item.index, "title": d.item.title, "action": o.action,
            "license": None if result.dry_run else o.license_id, "release": o.release_id,
            "release_action": o.release_action, "product": d.product, "version": d.version,
            "kind": d.kind, "has_key": d.key is not None,
            "mapping": [{"from": m.label, "to": m.to, "secret": m.secret, "value": m.shown()}
                        for m in d.mapping],
            "attachments": [{"filename": a.filename, "size": len(a.data), "role": "license-file"}
                            for a in d.item.attachments],
            "fields": {k: value(v) for k, v in d.values.items()},
            "warnings": list(d.warnings),
        })
    return {
        "format": source_format, "file": source, "dry_run": result.dry_run,
        "imported": sum(o.action == "new" for o in result.outcomes),
        "unchanged": sum(o.action == "unchanged" for o in result.outcomes),
        "skipped": len(result.skipped), "items": items,
        "without_release": [o.draft.item.index for o in result.outcomes
                            if o.action == "new" and o.release_id is None],
        "skipped_items": [{"index": i.index, "title": i.title, "reason": skip_reason(i)}
                          for i in result.skipped],
    }
