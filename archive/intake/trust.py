"""Trust anchors and certificate chains, for the signatures arkeep checks.

A signature proves that the holder of a key signed the bytes; a chain of certificates says whose
key it is, and it ends in a root. Whether that root is trusted is the user's decision, made once
per machine: the anchors are the system's store (the file `SSL_CERT_FILE` names, else the one
OpenSSL was built with), any PEM file the user names, and the anchors frozen in a manifest when
the file was archived. Authenticode roots are often missing from Linux stores; a chain that ends in
a root not among the anchors is reported as such ("root not trusted here"), never as a bad file.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.errors import UsageError

MAX_CHAIN = 12
MAX_ANCHOR_FILE = 16 * 1024 * 1024

TRUSTED = "trusted"                       # ends in a trust anchor, every certificate in force
ROOT_NOT_TRUSTED = "root-not-trusted-here"  # a complete chain to a root that is not an anchor here
INCOMPLETE = "incomplete"                 # an issuer is neither in the signature nor an anchor
INVALID = "invalid"                       # a certificate was not in force, or not for this use
CHAIN_STATUSES = (TRUSTED, ROOT_NOT_TRUSTED, INCOMPLETE, INVALID)


@dataclass(frozen=True)
class CertInfo:
    """What a person and a later check need to know of one certificate."""

    subject: str
    issuer: str
    common_name: str | None
    organisation: str | None
    serial: str
    sha256: str                 # of the DER certificate: its fingerprint
    not_before: datetime
    not_after: datetime
    der: bytes = field(repr=False, compare=False)

    @property
    def display(self) -> str:
        """Who holds it, as a person says it: the organisation, else the common name."""
        return self.organisation or self.common_name or self.subject

    @property
    def name(self) -> str:
        """Which certificate it is: the common name, else the organisation."""
        return self.common_name or self.organisation or self.subject


@dataclass(frozen=True)
class Anchors:
    certificates: tuple[Any, ...] = ()    # cryptography certificates
    sources: tuple[str, ...] = ()         # where they came from, for the record


@dataclass(frozen=True)
class Chain:
    chain: tuple[CertInfo, ...]
    status: str
    detail: str
    anchor: CertInfo | None


def cert_info(cert: Any) -> CertInfo:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    def first(oid: Any) -> str | None:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    der = cert.public_bytes(Encoding.DER)
    return CertInfo(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                    common_name=first(NameOID.COMMON_NAME), organisation=first(NameOID.ORGANIZATION_NAME),
                    serial=f"{cert.serial_number:x}", sha256=hashlib.sha256(der).hexdigest(),
                    not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, der=der)


def store_trust_dir(store_root: Path, kind: str) -> Path:
    """Where `arkeep trust add` keeps what this store trusts beyond the system: `roots`
    (certificates, PEM) and `openpgp` (public keys, binary)."""
    return store_root / "trust" / kind


def store_trusted(store_root: Path, kind: str) -> list[Path]:
    folder = store_trust_dir(store_root, kind)
    return sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []


def system_anchor_file() -> Path | None:
    """The system's trust store as OpenSSL finds it: `SSL_CERT_FILE`, else the build default."""
    named = os.environ.get("SSL_CERT_FILE")
    if named:
        return Path(named)
    import ssl  # here, not at start-up: ~5 ms that every add would pay

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_anchors(ca_files: Iterable[Path] = (), system: bool = True,
                 frozen: Iterable[tuple[bytes, str]] = ()) -> Anchors:
    """Anchors from the system store (when `system`), the PEM files the user named, and
    certificates frozen earlier (DER, with a word on where they came from)."""
    from cryptography import x509

    certs: list[Any] = []
    sources: list[str] = []
    files = [(p, "file") for p in ca_files]
    if system and (sys_file := system_anchor_file()) is not None:
        files.insert(0, (sys_file, "system store"))
    for path, kind in files:
        found = _pem_file(path, kind)
        certs += found
        sources.append(f"{kind} {path} ({len(found)} certificates, sha256 {_file_sha256(path)[:16]})")
    for der, where in frozen:
        try:
            certs.append(x509.load_der_x509_certificate(der))
            sources.append(where)
        except ValueError:
            sources.append(f"{where}: not a certificate, ignored")
    return Anchors(tuple(certs), tuple(sources))


def _pem_file(path: Path, kind: str) -> list[Any]:
    from cryptography import x509

    try:
        size = path.stat().st_size
        if size > MAX_ANCHOR_FILE:
            raise UsageError(f"{path} is {size:,} bytes; a file of trust anchors is far smaller")
        data = path.read_bytes()
    except OSError as exc:
        if kind == "system store":
            return []
        raise UsageError(f"cannot read the trust anchors in {path}: {exc.strerror or exc}") from None
    try:
        with warnings.catch_warnings():   # old roots with a negative serial: still anchors
            warnings.simplefilter("ignore")
            return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise UsageError(f"{path} holds no certificate (PEM or DER) to trust") from None


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def chain_to_anchor(leaf: Any, bag: Iterable[Any], anchors: Anchors, at: datetime,
                    usage: str | None = None) -> Chain:
    """The chain from `leaf` up through the certificates in `bag` and the anchors, and whether
    it ends in an anchor with every certificate in force at `at` (the signing time)."""
    pool = [*anchors.certificates, *bag]
    chain = [leaf]
    status, detail, anchor = INCOMPLETE, "", None
    current = leaf
    for _ in range(MAX_CHAIN):
        if _is_anchor(current, anchors):
            status, anchor = TRUSTED, cert_info(current)
            detail = f"ends in the trust anchor {anchor.name!r}"
            break
        if current.issuer == current.subject and _issued(current, current):
            status = ROOT_NOT_TRUSTED
            root = cert_info(current)
            detail = (f"ends in the root {root.name!r} (sha256 {root.sha256[:16]}…), which is not "
                      "among the trust anchors here")
            break
        issuer = next((c for c in pool if c.subject == current.issuer and c not in chain
                       and _issued(current, c)), None)
        if issuer is None:
            detail = (f"the issuer {current.issuer.rfc4514_string()!r} is neither in the "
                      "signature nor among the trust anchors here")
            break
        chain.append(issuer)
        current = issuer
    else:
        detail = f"more than {MAX_CHAIN} certificates"
    infos = tuple(cert_info(c) for c in chain)
    problem = _in_force(infos, at) or (_usage_problem(leaf, usage) if usage else None)
    if problem:
        return Chain(infos, INVALID, problem, anchor)
    return Chain(infos, status, detail, anchor)


def _is_anchor(cert: Any, anchors: Anchors) -> bool:
    key = _spki(cert)
    return any(a.subject == cert.subject and _spki(a) == key for a in anchors.certificates)


def _spki(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _issued(child: Any, parent: Any) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except Exception:  # noqa: BLE001 - InvalidSignature, a name mismatch, an unsupported key: not its issuer
        return False
    return True


def _in_force(chain: tuple[CertInfo, ...], at: datetime) -> str | None:
    for c in chain:
        if not c.not_before <= at <= c.not_after:
            return (f"the certificate {c.name!r} was valid from {c.not_before:%Y-%m-%d} to "
                    f"{c.not_after:%Y-%m-%d}, not at the signing time {at:%Y-%m-%d %H:%M} UTC")
    return None


def _usage_problem(cert: Any, usage: str) -> str | None:
    from cryptography import x509

    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if any(e.dotted_string in (usage, "2.5.29.37.0") for e in ekus):
        return None
    return f"the signer's certificate is not issued for this use ({usage})"
