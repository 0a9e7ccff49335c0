"""Signature evidence as a person reads it: one line for `add`, `show` and `verify`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manifests.provenance import Authenticity, Download

CHAIN_WORDS = {
    "trusted": "chain to a trusted root: yes",
    "root-not-trusted-here": "chain to a trusted root: not available here",
    "incomplete": "chain to a trusted root: incomplete (an issuing certificate is missing)",
    "invalid": "chain: not valid",
}


def summary(a: Authenticity) -> str:
    """'signed by Python Software Foundation, timestamped 2025-02-04 by Microsoft Public RSA
    Time Stamping Authority; chain to a trusted root: not available here'."""
    if a.kind == "openpgp":
        return _openpgp_summary(a)
    if a.verdict == "unsigned":
        return "not signed"
    if a.verdict == "unreadable":
        return f"signature unreadable: {a.reason}"
    who = a.signer or "an unknown signer"
    if a.verdict != "valid":
        return f"SIGNATURE DOES NOT MATCH ({a.verdict}): {a.reason}; it claims {who}"
    text = f"signed by {who}"
    if a.timestamp is not None:
        text += f", timestamped {a.timestamp:%Y-%m-%d}"
        if a.timestamp_authority:
            text += f" by {a.timestamp_authority}"
        if a.timestamp_problem:
            text += f" (timestamp not valid: {a.timestamp_problem})"
    else:
        text += ", not timestamped"
    if a.chain_status:
        text += "; " + CHAIN_WORDS.get(a.chain_status, a.chain_status)
        if a.chain_status == "invalid" and a.chain_detail:
            text += f" ({a.chain_detail})"
    return text


def _openpgp_summary(a: Authenticity) -> str:
    where = f" ({a.signature_file})" if a.signature_file else " (clearsigned)"
    if a.verdict == "valid":
        when = f" on {a.timestamp:%Y-%m-%d}" if a.timestamp else ""
        return f"OpenPGP{where}: signed by {a.signer} (key {a.fingerprint}){when}"
    if a.verdict == "bad-signature":
        return f"OPENPGP SIGNATURE DOES NOT MATCH{where}: {a.reason}"
    return f"OpenPGP{where}: {a.reason}"


def data(a: Authenticity) -> dict[str, Any]:
    """The evidence for --json, without the frozen anchor's bytes."""
    out: dict[str, Any] = {
        "kind": a.kind, "verdict": a.verdict, "checked": a.checked.isoformat(),
        "reason": a.reason, "signer": a.signer, "signer_subject": a.signer_subject,
        "program": a.program, "digest_algorithm": a.digest_algorithm,
        "signed_digest": a.signed_digest,
        "timestamp": a.timestamp.isoformat() if a.timestamp else None,
        "timestamp_authority": a.timestamp_authority, "timestamp_problem": a.timestamp_problem,
        "chain_status": a.chain_status, "chain_detail": a.chain_detail,
        "chain": [{"subject": c.subject, "sha256": c.sha256} for c in a.certificate],
        "anchor_frozen": a.anchor is not None, "anchor_sources": list(a.anchor_sources),
        "fingerprint": a.fingerprint, "signature_file": a.signature_file,
        "summary": summary(a),
    }
    return out


def download_line(d: Download) -> str:
    """'checksum matched (--sha256), TLS certificate sha256 1a2b…, ETag "…"'."""
    parts = []
    if d.checksums:
        parts.append(f"checksum matched ({d.checksum_source})")
    if d.checksums_openpgp:
        parts.append(f"checksums file's OpenPGP signature {d.checksums_openpgp}")
    if d.server_certificates:
        parts.append(f"TLS certificate sha256 {d.server_certificates[0][:16]}…")
    if d.resumed_from:
        parts.append(f"resumed at byte {d.resumed_from:,}")
    if d.etag:
        parts.append(f"ETag {d.etag}")
    return ", ".join(parts) or "no validators"


def download_data(d: Download) -> dict[str, Any]:
    return {"requested_url": d.requested_url, "redirects": list(d.redirects), "status": d.status,
            "etag": d.etag, "last_modified": d.last_modified, "content_length": d.content_length,
            "content_type": d.content_type, "resumed_from": d.resumed_from,
            "tls_version": d.tls_version, "server_subject": d.server_subject,
            "server_certificates": list(d.server_certificates), "sha256": d.sha256,
            "checksums": list(d.checksums), "checksum_source": d.checksum_source,
            "checksums_openpgp": d.checksums_openpgp}
