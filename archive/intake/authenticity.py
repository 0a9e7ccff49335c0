"""The vendor's own proof that an archived file is theirs, checked and frozen into the manifest.

`add` checks the Authenticode signature of every Windows program it archives (on the stored
object, so the evidence is about the archived bytes) and records what it found as the
artifact's [authenticity] table; `verify --authenticity` checks the stored object again, offline,
with the anchor frozen then plus the anchors of this machine, and compares.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.intake import authenticode_verdicts as verdicts
from archive.intake import openpgp
from archive.intake.trust import Anchors, load_anchors
from manifests.model import Artifact

if TYPE_CHECKING:
    from archive.intake import authenticode
    from manifests.provenance import Authenticity

# Verdicts that say the file is not what its signature vouches for: `add` stops at them unless
# told to archive the file anyway, and records them either way.
REFUSED = (verdicts.MISMATCH, verdicts.BAD_SIGNATURE)


def can_carry_authenticode(path: Path) -> bool:
    """A Windows program (PE, 'MZ') or a Windows Installer file (OLE compound file): the files
    whose Authenticode signature arkeep checks."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head[:2] == b"MZ" or head == verdicts.OLE_MAGIC


def evidence_of(check: authenticode.AuthenticodeCheck, anchors: Anchors,
                checked: datetime | None = None) -> Authenticity:
    """The manifest's record of one check: every fact, the chain's fingerprints and the anchor
    it ended in (frozen, base64 DER), so that the check can be made again offline."""
    from manifests.provenance import Authenticity, CertificateRecord  # see its docstring

    ts = check.timestamp
    return Authenticity(
        kind="authenticode", verdict=check.verdict,
        checked=(checked or datetime.now(UTC)).replace(microsecond=0), reason=check.reason,
        signer=check.signer.display if check.signer else None,
        signer_subject=check.signer.subject if check.signer else None,
        program=check.program_name, digest_algorithm=check.digest_algorithm,
        signed_digest=check.signed_digest,
        timestamp=ts.time.replace(microsecond=0) if ts else None,
        timestamp_authority=ts.authority.name if ts and ts.authority else None,
        timestamp_problem=ts.problem if ts else None,
        chain_status=check.chain_status, chain_detail=check.chain_detail,
        anchor_sources=anchors.sources if check.signer else (),
        anchor=base64.b64encode(check.anchor.der).decode("ascii") if check.anchor else None,
        signature_offset=check.signature_offset or None,
        signature_size=check.signature_size or None,
        notes=check.notes,
        certificate=tuple(CertificateRecord(c.subject, c.sha256, c.not_before, c.not_after)
                          for c in check.chain),
    )


def check_path(path: Path, anchors: Anchors, now: datetime | None = None) -> Authenticity | None:
    """The evidence for the file at `path`, or None when it cannot carry an Authenticode
    signature (not a Windows program)."""
    if not can_carry_authenticode(path):
        return None
    from archive.intake import authenticode  # the ASN.1 reader, only for a file to check

    return evidence_of(authenticode.check_file(path, anchors, now), anchors, now)


def openpgp_evidence(check: openpgp.PgpCheck, key_sources: Iterable[str],
                     signature_file: str | None, checked: datetime | None = None) -> Authenticity:
    """The manifest's record of one OpenPGP check; the signer's public key is frozen in it."""
    from manifests.provenance import Authenticity

    return Authenticity(
        kind="openpgp", verdict=check.verdict,
        checked=(checked or datetime.now(UTC)).replace(microsecond=0), reason=check.reason,
        signer=check.user_id, fingerprint=check.primary_fingerprint or check.fingerprint,
        timestamp=check.created, anchor_sources=tuple(key_sources),
        anchor=base64.b64encode(check.key).decode("ascii") if check.key else None,
        signature_file=signature_file, notes=check.notes)


def frozen_key(record: Authenticity) -> bytes | None:
    return base64.b64decode(record.anchor) if record.kind == "openpgp" and record.anchor else None


def anchors_for(ca_files: Iterable[Path] = (), frozen: Iterable[Authenticity] = (),
                system: bool = True) -> Anchors:
    """This machine's anchors, the files the user named, and the anchors frozen in records."""
    kept = []
    for record in frozen:
        if record.anchor and record.kind == "authenticode":
            kept.append((base64.b64decode(record.anchor),
                         f"frozen in the manifest when checked on {record.checked:%Y-%m-%d}"))
    return load_anchors(ca_files, system=system, frozen=kept)


@dataclass(frozen=True)
class Recheck:
    """An archived file's signature checked again, against what was recorded."""

    release: str
    artifact: Artifact
    recorded: Authenticity
    now: Authenticity | None       # None when the object is missing locally
    problem: str | None            # None when the evidence still holds


def compare(recorded: Authenticity, now: Authenticity) -> str | None:
    """Why the check made now contradicts the record, or None."""
    if recorded.kind == "openpgp":
        if now.verdict != recorded.verdict:
            return (f"the OpenPGP signature was {recorded.verdict} when archived and is "
                    f"{now.verdict} now: {now.reason}")
        return None if now.verdict == openpgp.VALID else now.reason
    if now.verdict != recorded.verdict:
        return f"the signature was {recorded.verdict} when archived and is {now.verdict} now: {now.reason}"
    if now.verdict != verdicts.VALID:
        return None if recorded.verdict == verdicts.UNSIGNED else now.reason
    if recorded.signed_digest != now.signed_digest or recorded.signer_subject != now.signer_subject:
        return "the signature is not the one recorded when the file was archived"
    if recorded.timestamp is not None and now.timestamp_problem:
        return f"the timestamp no longer checks out: {now.timestamp_problem}"
    return None
