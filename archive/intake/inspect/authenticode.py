"""Who signed a Windows program: the Authenticode signer's certificate, found by the SignerInfo.

The PE security directory holds a WIN_CERTIFICATE whose body is a PKCS #7 SignedData. The
certificates come from `cryptography`; which of them is the signer's is named by the first
SignerInfo's issuer and serial number, read here with a few lines of DER. The signature is
not verified: this says who the file claims signed it, which is what an archive wants to show.
"""
from __future__ import annotations

from typing import Any

from archive.intake.inspect.reading import Reading

SECURITY_DIRECTORY = 4
WIN_CERT_TYPE_PKCS_SIGNED_DATA = 2


def signer_of(pe: Any, data: Any, r: Reading) -> tuple[str | None, str | None] | None:
    """(common name, organisation) of the signer, or None when the file is not signed."""
    dirs = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(dirs) <= SECURITY_DIRECTORY:
        return None
    entry = dirs[SECURITY_DIRECTORY]
    offset, size = entry.VirtualAddress, entry.Size
    if not offset or not size:
        return None
    if offset + size > len(data):
        r.problem(f"truncated: the Authenticode signature should end at byte {offset + size:,} but "
                  f"the file has only {len(data):,} bytes")
        return None
    blob = bytes(data[offset:offset + size])
    length = int.from_bytes(blob[0:4], "little")
    cert_type = int.from_bytes(blob[6:8], "little")
    if cert_type != WIN_CERT_TYPE_PKCS_SIGNED_DATA or length < 8 or length > size:
        r.note("the program carries a signature arkeep cannot read (not PKCS #7)")
        return None
    der = blob[8:length]
    try:
        der = der[:_tlv(der, 0)[2]]          # WIN_CERTIFICATE pads to 8 bytes; DER has no padding
    except ValueError:
        r.note("the Authenticode signature is present but could not be read")
        return None
    try:
        from cryptography.hazmat.primitives.serialization import pkcs7

        certs = pkcs7.load_der_pkcs7_certificates(der)
    except Exception:  # noqa: BLE001 - any parse failure is one plain note
        r.note("the Authenticode signature is present but could not be read")
        return None
    ident = _signer_identifier(der)
    if ident is None:
        r.note("the Authenticode signature names no signer arkeep can read")
        return None
    issuer, serial = ident
    chosen = [c for c in certs if c.serial_number == serial and c.issuer.public_bytes() == issuer] \
        or [c for c in certs if c.serial_number == serial]
    if not chosen:
        r.note("the Authenticode signer's certificate is not included in the signature")
        return None
    return _names(chosen[0])


def _names(cert: Any) -> tuple[str | None, str | None]:
    from cryptography.x509.oid import NameOID

    def first(oid: Any) -> str | None:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    return first(NameOID.COMMON_NAME), first(NameOID.ORGANIZATION_NAME)


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`."""
    if pos + 2 > len(buf):
        raise ValueError("short DER element")
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ValueError("DER element runs past the end")
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, content end) of each element in [start, end)."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = _tlv(buf, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def _signer_identifier(der: bytes) -> tuple[bytes, int] | None:
    """Issuer (DER) and serial number from ContentInfo -> SignedData -> first SignerInfo."""
    try:
        _, cstart, cend = _tlv(der, 0)                        # ContentInfo SEQUENCE
        content = _children(der, cstart, cend)
        explicit = next(c for c in content if c[0] == 0xA0)   # [0] EXPLICIT content
        _, sstart, send = _tlv(der, explicit[2])              # SignedData SEQUENCE
        signed = _children(der, sstart, send)
        signer_infos = [c for c in signed if c[0] == 0x31][-1]   # the last SET is signerInfos
        first = _children(der, signer_infos[2], signer_infos[3])[0]
        fields = _children(der, first[2], first[3])
        ias = fields[1]                                       # issuerAndSerialNumber
        if ias[0] != 0x30:
            return None                                       # a subjectKeyIdentifier signer
        name, number = _children(der, ias[2], ias[3])[:2]
        issuer = der[name[1]:name[3]]
        serial = int.from_bytes(der[number[2]:number[3]], "big", signed=True)
        return issuer, serial
    except (ValueError, StopIteration, IndexError):
        return None
