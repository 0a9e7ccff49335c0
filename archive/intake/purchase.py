"""One licence record per purchase: the record a new key, licence file or receipt belongs to.

`add` (and so `scan --apply`) and the licences `scan` makes from receipts without an installer
all come here. A purchase joins an existing record, rather than making a second one, when
- the release it is added to already has a record with the same key, or any record when no key
  is given (as before), unless that record names another order number; or
- a record has the same order number from the same seller (or vendor; one side unknown counts
  as the same), and the keys do not disagree (one side has none, or they are equal); or
- (a licence with no release) a record holds the same key.
Joining fills the record's blanks (a key it lacked, the order number, price, date...); what the
record already says is never overwritten.
"""
from __future__ import annotations

import secrets as pysecrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archive.crypto.keys import SecretBox
from archive.storage.store import Store
from manifests.errors import ManifestInvalid
from manifests.model import PURCHASE_FIELDS, License, Secret

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring


class LicenseFields:
    """What the user told us about the purchase: values for the fields of `License` named in
    PURCHASE_FIELDS (typed as License declares them), all optional, and the kind if named (one
    left out is inferred by default_kind)."""

    __slots__ = ("_values", "kind")

    def __init__(self, kind: str | None = None, **values: Any) -> None:
        unknown = set(values) - set(PURCHASE_FIELDS)
        if unknown:
            raise TypeError(f"not a purchase field of a licence record: {', '.join(sorted(unknown))}")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_values", {n: v for n, v in values.items() if v is not None})

    def __getattr__(self, name: str) -> Any:
        if name in PURCHASE_FIELDS:
            return self._values.get(name)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("LicenseFields is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LicenseFields) and (self.kind, self._values) == (other.kind, other._values)

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self._values.items()))))

    def __repr__(self) -> str:
        return f"LicenseFields(kind={self.kind!r}, {self._values!r})"

    def any_given(self) -> bool:
        return bool(self._values)

    def given(self) -> dict[str, Any]:
        """The kind, if named, and each field given, in the order License declares them."""
        found = {"kind": self.kind} if self.kind is not None else {}
        return found | {n: self._values[n] for n in PURCHASE_FIELDS if n in self._values}


@dataclass(frozen=True)
class Purchase:
    """What one add or receipt says about a licence; keys in clear, never in repr."""

    product: str | None
    vendor: str | None = None
    key: str | None = field(default=None, repr=False)
    extra_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)   # (where, value)
    fields: LicenseFields = field(default_factory=LicenseFields)
    has_license_files: bool = False


def default_kind(has_key: bool, has_license_files: bool) -> str:
    """The kind of a licence record nobody named: a key makes it a serial, licence files
    without a key a licence-file licence, anything else (an invoice, purchase details) other."""
    return "serial" if has_key else "licence-file" if has_license_files else "other"


def new_license_id() -> str:
    return "lic-" + pysecrets.token_hex(5)


def new_license(p: Purchase, box: SecretBox | None) -> License:
    key = Secret(token=box.seal(p.key)) if p.key is not None and box else None
    extra_keys = tuple(Secret(token=box.seal(value)) for _, value in p.extra_keys) if box else ()
    extra = {"extra_key_labels": [label for label, _ in p.extra_keys]} if extra_keys else {}
    f = p.fields
    return License(id=new_license_id(), kind=f.kind or default_kind(p.key is not None, p.has_license_files),
                   created=datetime.now(UTC).replace(microsecond=0), product=p.product,
                   key=key, extra_keys=extra_keys, extra=extra, vendor=p.vendor,
                   **{n: getattr(f, n) for n in PURCHASE_FIELDS})


def _opened(secret: Secret | None, box: SecretBox | None) -> str | None:
    if secret is None:
        return None
    if secret.plain is not None:
        return secret.plain
    return box.open(secret.token) if box is not None and secret.token else None


def _order(text: str | None) -> str | None:
    return "".join(text.split()).lstrip("#").casefold() or None if text else None


def _party(seller: str | None, vendor: str | None) -> str | None:
    name = seller or vendor
    return " ".join(name.split()).casefold() if name else None


def keys_agree(old: License, p: Purchase, box: SecretBox | None) -> bool:
    if old.key is None or p.key is None:
        return True
    return _opened(old.key, box) == p.key


def same_order(old: License, p: Purchase) -> bool:
    mine = _order(p.fields.order_number)
    if mine is None or _order(old.order_number) != mine:
        return False
    a, b = _party(old.seller, old.vendor), _party(p.fields.seller, p.vendor)
    return a is None or b is None or a == b


def merged(old: License, p: Purchase, box: SecretBox | None) -> License:
    """`old` with its blanks filled from `p`; `old` itself when `p` adds nothing."""
    changes: dict[str, object] = {n: getattr(p.fields, n) for n in PURCHASE_FIELDS
                                  if getattr(old, n) is None and getattr(p.fields, n) is not None}
    if old.vendor is None and p.vendor:
        changes["vendor"] = p.vendor
    if old.product is None and p.product:
        changes["product"] = p.product
    if box is not None:
        known = {_opened(s, box) for s in old.secrets()}
        if p.key is not None and old.key is None:
            changes["key"] = Secret(token=box.seal(p.key))
            known.add(p.key)
            if old.kind in ("other", "licence-file"):
                changes["kind"] = "serial"
        fresh = [(label, value) for label, value in p.extra_keys if value not in known]
        if fresh:
            changes["extra_keys"] = old.extra_keys + tuple(Secret(token=box.seal(v)) for _, v in fresh)
            labels = list(old.extra.get("extra_key_labels", []))
            changes["extra"] = {**old.extra, "extra_key_labels": labels + [lb for lb, _ in fresh]}
    return replace(old, **changes) if changes else old  # type: ignore[arg-type]


def _all_licences(store: Store) -> Iterable[License]:
    for path in store.catalog.license_files():
        try:
            yield store.catalog.read_license_file(path)
        except ManifestInvalid:
            continue        # verify reports it; a damaged record is never joined


def licence_for(store: Store, p: Purchase, box: SecretBox | None,
                release_licences: tuple[str, ...] | None) -> License:
    """The record this purchase belongs to, merged, or a new one (not yet written).
    `release_licences` are the licence ids of the release it is added to; None for a licence
    with no release."""
    mine = _order(p.fields.order_number)
    for lid in release_licences or ():
        old = store.catalog.load_license(lid)
        theirs = _order(old.order_number)
        if mine is not None and theirs is not None and theirs != mine:
            continue                    # another purchase of the same release (an upgrade)
        if p.key is None or (old.key is not None and keys_agree(old, p, box)):
            return merged(old, p, box)
    if mine is not None or (release_licences is None and p.key):
        for old in _all_licences(store):
            if same_order(old, p) and keys_agree(old, p, box):
                return merged(old, p, box)
            if release_licences is None and p.key is not None and old.key is not None \
                    and keys_agree(old, p, box):
                return merged(old, p, box)
    return new_license(p, box)


def record_licence(store: Store, p: Purchase, keyring: Keyring | None) -> tuple[License, str]:
    """A licence with no release (a receipt with a key and no installer): joined to the record
    of the same purchase or new; written; with "new", "updated" or "unchanged"."""
    box = keyring.box if keyring is not None else None
    lic = licence_for(store, p, box, None)
    if not store.catalog.has_license(lic.id):
        store.catalog.write_license(lic)
        return lic, "new"
    if store.catalog.load_license(lic.id) != lic:
        store.catalog.write_license(lic)
        return lic, "updated"
    return lic, "unchanged"
