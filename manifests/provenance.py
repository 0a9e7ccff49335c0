"""The evidence a release's artifacts carry: an Authenticode or OpenPGP check's findings and how
`add URL` fetched a file. Part of the data model, in a module of its own because creating these
dataclasses (~45 fields) costs ~3 ms: the schema loads it only for a release that has such a table,
so every other command starts that much sooner."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["AUTHENTICITY_KINDS", "AUTHENTICITY_VERDICTS", "CHAIN_STATUSES", "EVIDENCE_VERSION",
           "Authenticity", "CertificateRecord", "Download"]

# [artifact.authenticity]: what arkeep found when it checked the vendor's own proof that a file
# is theirs (an Authenticode signature). `evidence` numbers the layout of that table, apart from
# the manifest's schema, so that a later arkeep can tell which facts a record holds.
EVIDENCE_VERSION = 1
AUTHENTICITY_KINDS = ("authenticode", "openpgp")
AUTHENTICITY_VERDICTS = ("valid", "unsigned", "digest-mismatch", "bad-signature", "unreadable",
                         "no-key")
CHAIN_STATUSES = ("trusted", "root-not-trusted-here", "incomplete", "invalid")


@dataclass(frozen=True)
class CertificateRecord:
    """One certificate of a signature's chain, signer first."""

    subject: str
    sha256: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class Authenticity:
    kind: str
    verdict: str
    checked: datetime
    evidence: int = EVIDENCE_VERSION
    reason: str | None = None
    signer: str | None = None
    signer_subject: str | None = None
    program: str | None = None
    digest_algorithm: str | None = None
    signed_digest: str | None = None
    timestamp: datetime | None = None
    timestamp_authority: str | None = None
    timestamp_problem: str | None = None
    chain_status: str | None = None
    chain_detail: str | None = None
    # Where the trust anchors came from when it was checked, and the anchor the chain ended in
    # (base64 of its DER certificate), frozen so that a later check can use the same root.
    anchor_sources: tuple[str, ...] = ()
    anchor: str | None = None
    signature_offset: int | None = None
    signature_size: int | None = None
    # OpenPGP: the signing key's fingerprint, and the artifact that holds a detached signature
    # (none for a clearsigned file). `anchor` then holds the signer's public key (minimal export).
    fingerprint: str | None = None
    signature_file: str | None = None
    notes: tuple[str, ...] = ()
    certificate: tuple[CertificateRecord, ...] = ()


@dataclass(frozen=True)
class Download:
    """[artifact.download]: how `add URL` fetched the file (the final URL is the artifact's
    source_url, the time it finished its `retrieved`)."""

    requested_url: str
    evidence: int = EVIDENCE_VERSION
    redirects: tuple[str, ...] = ()
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None
    content_type: str | None = None
    resumed_from: int | None = None
    tls_version: str | None = None
    server_subject: str | None = None
    # SHA-256 of the server's TLS certificates, its own first (the whole verified chain when the
    # Python that fetched it could say it, 3.13 and later).
    server_certificates: tuple[str, ...] = ()
    sha256: str | None = None
    # The vendor's checksums the download matched, as "sha256:HEX", and where they were read.
    checksums: tuple[str, ...] = ()
    checksum_source: str | None = None
    # The checksums file's OpenPGP signature: "valid: USER ID (FINGERPRINT)", or what was wrong.
    checksums_openpgp: str | None = None
