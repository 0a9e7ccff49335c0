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
from typing import Any

SCHEMA_VERSION = 1

ROLES = ("installer", "license-file", "invoice", "receipt", "doc", "other")
LICENSE_KINDS = (
    "serial", "account", "hardware-bound", "subscription", "licence-file", "volume", "other",
)
# Activation kinds that cannot be completed without the vendor still being there.
VENDOR_DEPENDENT_KINDS = ("account", "hardware-bound", "subscription")

ENCRYPTED_PREFIX = "ENC[AES256_GCM,"


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


_SLUG_DROP = re.compile(r"[^a-z0-9.]+")


def slugify(text: str) -> str:
    """A lower-case ASCII slug: 'Adobe Photoshop CS6' -> 'adobe-photoshop-cs6'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_text.lower()).strip("-.")
    return re.sub(r"-{2,}", "-", slug) or "x"


def release_id(product: str, version: str, edition: str | None = None, platform: str | None = None) -> str:
    """The stable id of a release: `product@version[+edition][+platform]`, all slugs."""
    rid = f"{slugify(product)}@{slugify(version)}"
    for part in (edition, platform):
        if part:
            rid += f"+{slugify(part)}"
    return rid
