"""Authenticode: is a Windows program the bytes its signer signed, and who signed it, when?

The PE file's security directory holds a PKCS #7 SignedData whose content (SpcIndirectDataContent)
carries a digest of the file with three holes (the header checksum, the security directory entry
and the signature itself). Checking it takes four steps, each a plain fact in the result:

1. the file's digest, computed here while streaming the file, equals the one that was signed;
2. the signer's signature over the signed attributes verifies with the signer's certificate, and
   those attributes name that digest;
3. a timestamp (RFC 3161, or the older Authenticode countersignature) signed the signature at a
   time when the signer's certificate was valid: that is what keeps a signature good after the
   certificate expires;
4. the certificates chain up to a root, and that root is or is not among the trust anchors here.

ASN.1 is read with asn1crypto, every signature and digest is checked with `cryptography` and
hashlib. Revocation is not checked: it needs the network, and years later the answer would be
the CA's, not the vendor's. A file that is not signed is a fact, never an error.
"""
from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from asn1crypto import algos, cms, core, tsp

from archive.intake.authenticode_verdicts import (  # noqa: F401 - the verdicts, named here too
    BAD_SIGNATURE,
    MISMATCH,
    OLE_MAGIC,
    UNREADABLE,
    UNSIGNED,
    VALID,
    VERDICTS,
)
from archive.intake.trust import Anchors, CertInfo, cert_info, chain_to_anchor

SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4"
SPC_OPUS_INFO = "1.3.6.1.4.1.311.2.1.12"
MS_RFC3161_TIMESTAMP = "1.3.6.1.4.1.311.3.3.1"
SPC_PE_IMAGE_DATA = "1.3.6.1.4.1.311.2.1.15"
PAGE_HASHES_CLASS = bytes.fromhex("a6b586d5b4a12466ae05a217da8e60d6")
PAGE_HASH_KINDS = {b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x03\x01": "SHA-1",
                   b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x03\x02": "SHA-256"}
NESTED_SIGNATURE = "1.3.6.1.4.1.311.2.4.1"
PKCS9_COUNTERSIGNATURE = "1.2.840.113549.1.9.6"
CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
WIN_CERT_TYPE_PKCS_SIGNED_DATA = 2
MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
CHUNK = 1024 * 1024
HASHES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}



class SpcAttributeTypeAndOptionalValue(core.Sequence):
    _fields: ClassVar[list[Any]] = [("type", core.ObjectIdentifier), ("value", core.Any, {"optional": True})]


class SpcDigestInfo(core.Sequence):
    _fields: ClassVar[list[Any]] = [("digest_algorithm", algos.DigestAlgorithm), ("digest", core.OctetString)]


class SpcIndirectDataContent(core.Sequence):
    _fields: ClassVar[list[Any]] = [("data", SpcAttributeTypeAndOptionalValue), ("message_digest", SpcDigestInfo)]


class SpcSerializedObject(core.Sequence):
    _fields: ClassVar[list[Any]] = [("class_id", core.OctetString),
                                    ("serialized_data", core.OctetString)]


class SpcLink(core.Choice):
    _alternatives: ClassVar[list[Any]] = [
        ("url", core.IA5String, {"implicit": 0}),
        ("moniker", SpcSerializedObject, {"implicit": 1}),
        ("file", core.Any, {"explicit": 2})]


class SpcPeImageData(core.Sequence):
    _fields: ClassVar[list[Any]] = [("flags", core.BitString, {"optional": True}),
                                    ("file", SpcLink, {"explicit": 0, "optional": True})]


class SpcString(core.Choice):
    _alternatives: ClassVar[list[Any]] = [("unicode", core.BMPString, {"implicit": 0}),
                     ("ascii", core.IA5String, {"implicit": 1})]


class SpcSpOpusInfo(core.Sequence):
    _fields: ClassVar[list[Any]] = [("program_name", SpcString, {"explicit": 0, "optional": True}),
               ("more_info", core.Any, {"explicit": 1, "optional": True})]


@dataclass(frozen=True)
class PeLayout:
    """Where the holes of the Authenticode digest are in one PE file."""

    size: int
    checksum_at: int
    security_entry_at: int
    signature_at: int          # 0 when the file has no signature
    signature_size: int


@dataclass(frozen=True)
class Timestamp:
    time: datetime
    authority: CertInfo | None
    kind: str                  # "rfc3161" or "authenticode" (the older PKCS #9 countersignature)
    problem: str | None        # None when the timestamp's own signature and digest check out


@dataclass(frozen=True)
class AuthenticodeCheck:
    verdict: str
    reason: str
    signer: CertInfo | None = None
    digest_algorithm: str | None = None
    signed_digest: str | None = None         # hex, as the signature states it
    file_digest: str | None = None           # hex, as computed from the file now
    timestamp: Timestamp | None = None
    chain: tuple[CertInfo, ...] = ()         # signer first, up to the last certificate found
    chain_status: str | None = None          # see trust.chain_to_anchor
    chain_detail: str | None = None
    anchor: CertInfo | None = None           # the trust anchor the chain ends in, if any
    signature_offset: int = 0
    signature_size: int = 0
    program_name: str | None = None          # SpcSpOpusInfo: what the signer called the program
    more_signatures: int = 0                 # nested or appended signatures (see notes)
    notes: tuple[str, ...] = ()


class NotPe(ValueError):
    """The file is not a PE file (so it cannot carry an Authenticode signature)."""


def pe_layout(f: BinaryIO, size: int) -> PeLayout:
    """The offsets of the checksum, the security directory entry and the signature."""
    def read(at: int, n: int) -> bytes:
        f.seek(at)
        got = f.read(n)
        if len(got) != n:
            raise NotPe(f"the PE header is cut short at byte {at:,}")
        return got

    if size < 64 or read(0, 2) != b"MZ":
        raise NotPe("it does not start with 'MZ'")
    pe_at = struct.unpack("<I", read(0x3C, 4))[0]
    if pe_at + 24 > size or read(pe_at, 4) != b"PE\0\0":
        raise NotPe("no PE signature where the DOS header points")
    optional_at = pe_at + 24
    magic = struct.unpack("<H", read(optional_at, 2))[0]
    if magic not in (0x10B, 0x20B):
        raise NotPe(f"unknown optional header magic {magic:#x}")
    directories_at = optional_at + (96 if magic == 0x10B else 112)
    count = struct.unpack("<I", read(directories_at - 4, 4))[0]
    security_entry_at = directories_at + 4 * 8
    if count <= 4:
        return PeLayout(size, optional_at + 64, security_entry_at, 0, 0)
    offset, length = struct.unpack("<II", read(security_entry_at, 8))
    if not offset or not length:
        offset = length = 0
    return PeLayout(size, optional_at + 64, security_entry_at, offset, length)


def pe_digest(f: BinaryIO, layout: PeLayout, algorithm: str) -> bytes:
    """The Authenticode digest: the whole file up to the signature, less the checksum and the
    security directory entry. Read in chunks, never the whole file at once."""
    h = hashlib.new(algorithm)
    end = layout.signature_at or layout.size
    holes = [(layout.checksum_at, 4), (layout.security_entry_at, 8)]
    pos = 0
    for at, length in [*holes, (end, 0)]:
        _hash_range(f, h, pos, at)
        pos = at + length
    if not layout.signature_at and layout.size % 8:
        h.update(b"\0" * (8 - layout.size % 8))   # a signer pads the unsigned file to 8 bytes
    return h.digest()


def _hash_range(f: BinaryIO, h: Any, start: int, end: int) -> None:
    f.seek(start)
    left = end - start
    while left > 0:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            raise NotPe(f"the file ends before byte {end:,}")
        h.update(chunk)
        left -= len(chunk)


def check_file(path: Path, anchors: Anchors, now: datetime | None = None) -> AuthenticodeCheck:
    """Check the Authenticode signature of the PE or MSI file at `path`. Never raises for what
    the file holds: a file with no signature, a damaged one or a forged one each get a verdict."""
    with open(path, "rb") as f:
        if f.read(8) == OLE_MAGIC:
            return _check_msi(path, anchors, now or datetime.now(UTC))
        return check_stream(f, os.fstat(f.fileno()).st_size, anchors, now)


def _check_msi(path: Path, anchors: Anchors, now: datetime) -> AuthenticodeCheck:
    from archive.intake.msi_digest import MsiUnreadable, msi_signature

    try:
        with msi_signature(path) as signed:
            if signed.blob is None:
                return AuthenticodeCheck(UNSIGNED, "the file carries no Authenticode signature")
            return check_blob(signed.blob, signed.digest, anchors, now, signed.notes,
                              {"signature_size": len(signed.blob)})
    except MsiUnreadable as exc:
        return AuthenticodeCheck(UNREADABLE, str(exc))


def check_stream(f: BinaryIO, size: int, anchors: Anchors,
                 now: datetime | None = None) -> AuthenticodeCheck:
    now = now or datetime.now(UTC)
    try:
        layout = pe_layout(f, size)
    except NotPe as exc:
        return AuthenticodeCheck(UNREADABLE, f"not a Windows program: {exc}")
    if not layout.signature_at:
        return AuthenticodeCheck(UNSIGNED, "the file carries no Authenticode signature")
    at, length = layout.signature_at, layout.signature_size
    where = {"signature_offset": at, "signature_size": length}
    if at + length > size or length < 8:
        return AuthenticodeCheck(UNREADABLE, f"the signature should end at byte {at + length:,} but "
                                 f"the file has {size:,} bytes", **where)
    if length > MAX_SIGNATURE_BYTES:
        return AuthenticodeCheck(UNREADABLE, f"the signature table is {length:,} bytes, more than "
                                 "any real signature", **where)
    f.seek(at)
    table = f.read(length)
    entries = _win_certificates(table)
    notes = [] if at + length == size else [
        f"{size - at - length:,} bytes follow the signature; they are not covered by it"]
    if not entries:
        return AuthenticodeCheck(UNREADABLE, "the signature table holds no PKCS #7 signature",
                                 notes=tuple(notes), **where)
    return check_blob(entries[0], lambda algorithm: pe_digest(f, layout, algorithm), anchors, now,
                      notes, where, len(entries) - 1)


def check_blob(blob: bytes, digest_of: Callable[[str], bytes], anchors: Anchors, now: datetime,
               notes: list[str], where: dict[str, int], more: int = 0,
               depth: int = 0) -> AuthenticodeCheck:
    """Check one PKCS #7 Authenticode signature; `digest_of(algorithm)` computes the file's
    digest the way its format defines it (PE, MSI)."""
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        signed = _parse(blob)
        digest_alg = signed.indirect["message_digest"]["digest_algorithm"]["algorithm"].native
        if digest_alg not in HASHES:
            return AuthenticodeCheck(UNREADABLE, f"the file digest uses {digest_alg}, which arkeep "
                                     "does not compute", **where)
        file_digest = digest_of(HASHES[digest_alg]).hex()
        signed_digest = signed.indirect["message_digest"]["digest"].native.hex()
        result = _judge(signed, file_digest, signed_digest, digest_alg, anchors, now,
                        notes, more + len(signed.nested), where)
        if signed.nested and depth == 0:
            result = replace(result, notes=result.notes + tuple(
                _nested_note(n, digest_of, anchors, now, where) for n in signed.nested[:4]))
        return result
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, UnsupportedAlgorithm) as exc:
        # asn1crypto parses lazily: damage can surface at any field, always as one of these.
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return AuthenticodeCheck(UNREADABLE, f"the signature cannot be read: {first_line}",
                                 notes=tuple(notes), **where)


def _nested_note(blob: bytes, digest_of: Callable[[str], bytes], anchors: Anchors, now: datetime,
                 where: dict[str, int]) -> str:
    """One line on a nested signature (a second signature, often SHA-256 beside a SHA-1 one)."""
    nested = check_blob(blob, digest_of, anchors, now, [], where, depth=1)
    who = f" by {nested.signer.display}" if nested.signer else ""
    alg = f" ({nested.digest_algorithm})" if nested.digest_algorithm else ""
    when = f", timestamped {nested.timestamp.time:%Y-%m-%d}" if nested.timestamp else ""
    return f"nested signature{alg}{who}: {nested.verdict}{when}" + (
        "" if nested.verdict == VALID else f" ({nested.reason})")


@dataclass(frozen=True)
class _Signed:
    signed_data: Any
    signer_info: Any
    indirect: SpcIndirectDataContent
    indirect_bytes: bytes            # the content octets the messageDigest attribute covers
    certificates: tuple[Any, ...]    # cryptography certificates from the bag
    nested: tuple[bytes, ...]        # nested signatures, each a DER ContentInfo


def _win_certificates(table: bytes) -> list[bytes]:
    """The PKCS #7 blobs in a PE attribute certificate table (WIN_CERTIFICATE entries,
    each padded to 8 bytes)."""
    out, pos = [], 0
    while pos + 8 <= len(table):
        length, _revision, kind = struct.unpack_from("<IHH", table, pos)
        if length < 8 or pos + length > len(table):
            break
        if kind == WIN_CERT_TYPE_PKCS_SIGNED_DATA:
            out.append(table[pos + 8:pos + length])
        pos += (length + 7) // 8 * 8
    return out


def _parse(blob: bytes) -> _Signed:
    from cryptography import x509

    info = cms.ContentInfo.load(_strip_padding(blob), strict=False)
    if info["content_type"].native != "signed_data":
        raise ValueError("it is not a PKCS #7 SignedData")
    sd = info["content"]
    content = sd["encap_content_info"]
    if content["content_type"].dotted != SPC_INDIRECT_DATA:
        raise ValueError(f"its content is {content['content_type'].dotted}, not Authenticode's")
    covered = bytes(content["content"].contents)   # the content octets, as signed
    indirect = SpcIndirectDataContent(contents=covered)
    indirect["message_digest"].native  # noqa: B018 - parsed now, so damage shows here
    signers = sd["signer_infos"]
    if len(signers) != 1:
        raise ValueError(f"it has {len(signers)} signers; Authenticode has exactly one")
    certs = tuple(x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"] or ()
                  if c.name == "certificate")
    nested = tuple(v.dump() for a in signers[0]["unsigned_attrs"] or ()
                   if a["type"].dotted == NESTED_SIGNATURE for v in a["values"])
    return _Signed(sd, signers[0], indirect, covered, certs, nested)


def _strip_padding(blob: bytes) -> bytes:
    """The DER element at the start of `blob`, without the zero padding WIN_CERTIFICATE adds."""
    if len(blob) < 2 or blob[0] != 0x30:
        raise ValueError("it does not start with a DER SEQUENCE")
    first = blob[1]
    if first < 0x80:
        return blob[:2 + first]
    n = first & 0x7F
    if n == 0 or n > 4 or len(blob) < 2 + n:
        raise ValueError("its DER length is malformed")
    return blob[:2 + n + int.from_bytes(blob[2:2 + n], "big")]


def _judge(signed: _Signed, file_digest: str, signed_digest: str, digest_alg: str,
           anchors: Anchors, now: datetime, notes: list[str], more: int,
           where: dict[str, int]) -> AuthenticodeCheck:
    si = signed.signer_info
    signer_cert = _find_cert(si["sid"], signed.certificates)
    signer = cert_info(signer_cert) if signer_cert is not None else None
    base: dict[str, Any] = dict(signer=signer, digest_algorithm=digest_alg, signed_digest=signed_digest,
                                file_digest=file_digest, more_signatures=more,
                                program_name=_program_name(si), **where)
    if signer_cert is None:
        return AuthenticodeCheck(UNREADABLE, "the signer's certificate is not in the signature",
                                 notes=tuple(notes), **base)
    if more:
        notes.append(f"{more} more signature(s) are attached; the verdict is the first's")
    if (pages := _page_hashes(signed.indirect)) is not None:
        notes.append(f"the signature carries {pages} page hashes; they are not checked apart, "
                     "the file digest covers every page")
    problem = _signer_problem(si, signer_cert, signed.indirect_bytes)
    if problem is not None:
        return AuthenticodeCheck(BAD_SIGNATURE, problem, notes=tuple(notes), **base)
    timestamp = _timestamp(si, signed.certificates)
    at = timestamp.time if timestamp is not None and timestamp.problem is None else now
    chain = chain_to_anchor(signer_cert, signed.certificates, anchors, at, CODE_SIGNING)
    base.update(timestamp=timestamp, chain=chain.chain, chain_status=chain.status,
                chain_detail=chain.detail, anchor=chain.anchor)
    if file_digest != signed_digest:
        return AuthenticodeCheck(MISMATCH, "the file's digest is not the one that was signed: "
                                 "its bytes changed after signing, or the signature was taken "
                                 "from another file", notes=tuple(notes), **base)
    return AuthenticodeCheck(VALID, f"the file is the bytes {signer.display} signed",
                             notes=tuple(notes), **base)


def _page_hashes(indirect: SpcIndirectDataContent) -> str | None:
    """'SHA-256' when SpcPeImageData carries a page hash table (signtool /ph), else None."""
    data = indirect["data"]
    if data["type"].dotted != SPC_PE_IMAGE_DATA or not isinstance(data["value"], core.Any):
        return None
    try:
        image = data["value"].parse(SpcPeImageData)
        link = image["file"]
        if link.name != "moniker" or link.chosen["class_id"].native != PAGE_HASHES_CLASS:
            return None
        serialized = link.chosen["serialized_data"].native
    except (ValueError, KeyError, TypeError):
        return None
    return next((kind for oid, kind in PAGE_HASH_KINDS.items() if oid in serialized), "unknown")


def _find_cert(sid: Any, certs: Iterable[Any]) -> Any:
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
        for c in certs:
            if c.serial_number == serial and c.issuer.public_bytes() == issuer:
                return c
        for c in certs:
            if c.serial_number == serial:
                return c
        return None
    key_id = sid.chosen.native
    from cryptography import x509

    for c in certs:
        try:
            if c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == key_id:
                return c
        except x509.ExtensionNotFound:
            continue
    return None


def _attribute(attrs: Any, name: str) -> Any:
    for a in attrs or ():
        if a["type"].native == name or a["type"].dotted == name:
            return a["values"][0]
    return None


def _signer_problem(si: Any, cert: Any, covered: bytes) -> str | None:
    """Why the signer's signature does not vouch for `covered`, or None when it does."""
    attrs = si["signed_attrs"]
    if not attrs:
        return "the signature has no signed attributes, which Authenticode requires"
    alg = si["digest_algorithm"]["algorithm"].native
    if alg not in HASHES:
        return f"the signature's digest uses {alg}, which arkeep does not check"
    wanted = _attribute(attrs, "message_digest")
    if wanted is None or wanted.native != hashlib.new(HASHES[alg], covered).digest():
        return "the signed attributes do not name the signed content's digest"
    return verify_signature(cert, si, _signed_attrs_der(attrs), alg)


def _signed_attrs_der(attrs: Any) -> bytes:
    """The signed attributes as signed: DER with the SET OF tag instead of [0] IMPLICIT."""
    der = attrs.dump()
    return b"\x31" + der[1:]


def verify_signature(cert: Any, si: Any, data: bytes, digest_alg: str) -> str | None:
    """None when `si`'s signature over `data` verifies with `cert`'s key, else why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    algorithm = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256,
                 "sha384": hashes.SHA384, "sha512": hashes.SHA512}[digest_alg]()
    key = cert.public_key()
    signature = si["signature"].native
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return f"the signer's key type ({type(key).__name__}) is not one arkeep checks"
    except InvalidSignature:
        return "the signature does not verify with the signer's certificate"
    return None


def _program_name(si: Any) -> str | None:
    value = _attribute(si["signed_attrs"], SPC_OPUS_INFO)
    if value is None:
        return None
    try:
        name = SpcSpOpusInfo(contents=bytes(value.contents))["program_name"].native
    except (ValueError, TypeError, KeyError):
        return None
    return name.strip() or None if isinstance(name, str) else None


def _timestamp(si: Any, outer_certs: tuple[Any, ...]) -> Timestamp | None:
    signature = si["signature"].native
    for a in si["unsigned_attrs"] or ():
        if a["type"].dotted == MS_RFC3161_TIMESTAMP:
            return _rfc3161(a["values"][0], signature)
        if a["type"].dotted == PKCS9_COUNTERSIGNATURE:
            return _countersignature(a["values"][0], signature, outer_certs)
    return None


def _rfc3161(token: Any, signature: bytes) -> Timestamp:
    from cryptography import x509

    sd = token["content"]
    covered = bytes(sd["encap_content_info"]["content"].contents)   # the DER TSTInfo, as signed
    tst = tsp.TSTInfo.load(covered)
    when = tst["gen_time"].native
    certs = tuple(x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"] or ()
                  if c.name == "certificate")
    tsi = sd["signer_infos"][0]
    tsa = _find_cert(tsi["sid"], certs)
    authority = cert_info(tsa) if tsa is not None else None
    imprint = tst["message_imprint"]
    alg = imprint["hash_algorithm"]["algorithm"].native
    if alg not in HASHES:
        return Timestamp(when, authority, "rfc3161", f"the timestamp uses {alg}")
    if imprint["hashed_message"].native != hashlib.new(HASHES[alg], signature).digest():
        return Timestamp(when, authority, "rfc3161", "the timestamp is of another signature")
    if tsa is None:
        return Timestamp(when, None, "rfc3161", "the timestamp authority's certificate is missing")
    problem = _signer_problem(tsi, tsa, covered)
    return Timestamp(when, authority, "rfc3161", problem and f"the timestamp's {problem[4:]}")


def _countersignature(csi: Any, signature: bytes, certs: tuple[Any, ...]) -> Timestamp | None:
    when = _attribute(csi["signed_attrs"], "signing_time")
    if when is None:
        return None
    tsa = _find_cert(csi["sid"], certs)
    authority = cert_info(tsa) if tsa is not None else None
    if tsa is None:
        return Timestamp(when.native, None, "authenticode",
                         "the timestamp authority's certificate is missing")
    problem = _signer_problem(csi, tsa, signature)
    return Timestamp(when.native, authority, "authenticode", problem and f"the timestamp's {problem[4:]}")
