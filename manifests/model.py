"""The data model: releases, their artifacts, and licence records.

Plain frozen dataclasses. Secret values (licence keys, extra keys, account hints) are held as
`Secret`: either an encrypted token (what local manifests store) or, only inside a sealed bundle
and in memory after decryption, the plain value. This package never encrypts or decrypts.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manifests.provenance import Authenticity, Download  # on first use: see provenance

SCHEMA_VERSION = 1

ROLES = ("installer", "license-file", "invoice", "receipt", "doc", "other", "signature")
LICENSE_KINDS = (
    "serial", "account", "hardware-bound", "subscription", "licence-file", "volume", "other",
)
# Activation kinds that cannot be completed without the vendor still being there.
VENDOR_DEPENDENT_KINDS = ("account", "hardware-bound", "subscription")

ENCRYPTED_PREFIX = "ENC[AES256_GCM,"

# A licence record's price is a decimal amount written as a string ("699.00", never a float),
# its currency an ISO 4217 code in capitals. Readers of what people type (archive.intake.price)
# normalise to these forms; the schema accepts nothing else.
_AMOUNT = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def is_amount(text: str) -> bool:
    return _AMOUNT.fullmatch(text) is not None


def is_currency_code(text: str) -> bool:
    return _CURRENCY_CODE.fullmatch(text) is not None


@dataclass(frozen=True)
class Secret:
    """A secret value: `token` when encrypted, `plain` when revealed; exactly one is set."""

    token: str | None = None
    plain: str | None = field(default=None, repr=False)

    @property
    def is_encrypted(self) -> bool:
        return self.token is not None

    def __str__(self) -> str:
        return "ENC[…]" if self.is_encrypted else "••••••"


@dataclass(frozen=True)
class Artifact:
    role: str
    filename: str
    size: int
    blake3: str
    media_type: str = "application/octet-stream"
    license: str | None = None
    source_url: str | None = None
    retrieved: datetime | None = None
    # Set only in sealed manifests: the name of the unit that holds this artifact on a remote.
    unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where values of the release were read from this file, e.g.
    # {"product": "MSI Property table: ProductName"}; written as [artifact.detected].
    detected: dict[str, str] = field(default_factory=dict)
    authenticity: Authenticity | None = None
    openpgp: Authenticity | None = None
    download: Download | None = None


@dataclass(frozen=True)
class Release:
    id: str
    product: str
    version: str
    created: datetime
    vendor: str | None = None
    edition: str | None = None
    platform: str | None = None
    notes: str | None = None
    licenses: tuple[str, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def title(self) -> str:
        parts = [self.product, self.version, self.edition or "", f"({self.platform})" if self.platform else ""]
        return " ".join(p for p in parts if p)

    def installers(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.role == "installer")


@dataclass(frozen=True)
class License:
    """One purchase or entitlement, after 1Password's Software License item and Snipe-IT's model."""

    id: str
    kind: str
    created: datetime
    product: str | None = None
    key: Secret | None = None
    extra_keys: tuple[Secret, ...] = ()
    licensed_to: str | None = None
    email: str | None = None
    company: str | None = None
    seats: int | None = None
    purchase_date: date | None = None
    order_number: str | None = None
    price: str | None = None
    currency: str | None = None
    seller: str | None = None
    vendor: str | None = None
    expires: date | None = None
    maintenance_end: date | None = None
    activation_notes: str | None = None
    account_hint: Secret | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    def secrets(self) -> tuple[Secret, ...]:
        found = [self.key, *self.extra_keys, self.account_hint]
        return tuple(s for s in found if s is not None)


# The fields of a licence record that describe the purchase: what `add` flags, receipts and
# imports fill in, and what joining a purchase to a record fills where the record is blank.
PURCHASE_FIELDS = (
    "licensed_to", "email", "company", "seats", "purchase_date", "order_number", "price",
    "currency", "seller", "expires", "maintenance_end", "activation_notes",
)


_SLUG_DROP = re.compile(r"[^a-z0-9.]+")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The longest names `add`, `scan` and `import` accept, in characters (ids stay short whatever
# the name: see release_id).
NAME_LIMITS = {"product": 200, "version": 100, "edition": 100, "platform": 100}
# The readable part of one id component keeps at most this many characters, so a whole id
# (four components, each with its digest) stays well inside a 255-byte file name.
READABLE_MAX = 48
DIGEST_HEX = 10


def slugify(text: str) -> str:
    """A lower-case ASCII slug: 'Adobe Photoshop CS6' -> 'adobe-photoshop-cs6'.

    Lossy ('Foo/Bar' and 'Foo Bar' both give 'foo-bar', every CJK name gives 'x'): it is what
    `PRODUCT@VERSION` look-ups accept as a slug and what ids were made of before 2026-12, never
    an identity by itself.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_text.lower()).strip("-.")
    return re.sub(r"-{2,}", "-", slug) or "x"


def normalise_name(text: str) -> str:
    """The identity of a name: Unicode NFC, case-folded, runs of white space made one space,
    trimmed. Two names with the same normal form are the same name ('Photoshop' and
    'PHOTOSHOP'); any other difference makes them different ('Foo Bar', 'Foo/Bar', '1.0β')."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return _SPACES.sub(" ", folded).strip()


def id_component(text: str, hyphen_means_space: bool) -> str:
    """One part of a release id: the readable slug when it says everything the name says,
    else the slug, `--` and the first 10 hex digits of SHA-256 of the normal form in UTF-8.

    The slug 'says everything' when turning it back into a name gives the normal form again:
    for products and editions a hyphen reads back as a space ('adobe-photoshop-cs6'), for
    versions and platforms as a hyphen ('2.10-3', 'windows-x64'). Plain slugs never hold `--`,
    so the two forms cannot meet, and distinct names give distinct components.
    """
    import hashlib

    name = normalise_name(text)
    readable = slugify(name)
    plain = readable.replace("-", " ") if hyphen_means_space else readable
    if plain == name and len(readable) <= READABLE_MAX:
        return readable
    short = readable[:READABLE_MAX].rstrip("-.") or "x"
    return f"{short}--{hashlib.sha256(name.encode('utf-8')).hexdigest()[:DIGEST_HEX]}"


def release_id(product: str, version: str, edition: str | None = None, platform: str | None = None) -> str:
    """The stable id of a release: `product@version[+edition][+platform]`, one id_component
    each; distinct names (after normalise_name) give distinct ids. See docs/FORMAT.md."""
    rid = f"{id_component(product, True)}@{id_component(version, False)}"
    if edition and edition.strip():
        rid += f"+{id_component(edition, True)}"
    if platform and platform.strip():
        rid += f"+{id_component(platform, False)}"
    return rid


def legacy_release_id(product: str, version: str, edition: str | None = None,
                      platform: str | None = None) -> str:
    """The id an arkeep before 2026-12 gave the same names (slugs only, lossy): stores keep
    those ids, and `add` finds a release by it when the names are the same."""
    rid = f"{slugify(product)}@{slugify(version)}"
    for part in (edition, platform):
        if part:
            rid += f"+{slugify(part)}"
    return rid


def release_identity(product: str, version: str, edition: str | None,
                     platform: str | None) -> tuple[str, str, str, str]:
    """What makes two releases the same release: the normal forms of the four names."""
    return (normalise_name(product), normalise_name(version), normalise_name(edition or ""),
            normalise_name(platform or ""))


def name_problem(field_name: str, text: str | None) -> str | None:
    """Why `text` cannot be the `field_name` (product, version, edition, platform) of a new
    release, or None. Edition and platform may be absent; product and version may not."""
    if text is None or not text.strip():
        return None if field_name in ("edition", "platform") else "is empty"
    if _CONTROL.search(text):
        return "contains a control character"
    limit = NAME_LIMITS[field_name]
    if len(text) > limit:
        return f"is {len(text)} characters long; at most {limit} are accepted"
    return None
