"""The zip structures around a bundle's one WinZip-AES entry: writing them, and reading them strictly.

Writing never seeks: for a stored entry every size is known before the first byte, so the local
header carries the exact sizes; for a deflated entry the sizes follow the data in a data
descriptor (general purpose bit 3). The central directory and end records come last.

Reading cross-checks every field that two places declare (local header against central header,
end records against where the central directory really is, data descriptor against central
header), so that almost any damaged header byte is reported rather than silently skipped. The
fields that nothing reads and nothing can cross-check are listed in docs (FORMAT.md, "Bundles"):
version made by, version needed, internal and external attributes, the zip comment and the
contents of extra fields other than ZIP64 (0x0001) and AES (0x9901).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from archive.seal.winzip_aes import OVERHEAD

LOCAL_SIG, CENTRAL_SIG, EOCD_SIG = 0x04034B50, 0x02014B50, 0x06054B50
ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG, DESCRIPTOR_SIG = 0x06064B50, 0x07064B50, 0x08074B50
AES_METHOD = 99
STORED, DEFLATED = 0, 8
AES_EXTRA_ID, ZIP64_EXTRA_ID = 0x9901, 0x0001
AES_STRENGTH_256 = 3
FLAG_ENCRYPTED, FLAG_DESCRIPTOR, FLAG_STRONG, FLAG_UTF8 = 0x0001, 0x0008, 0x0040, 0x0800
# bits 1-2 are deflate's speed hints; anything else (patched data, strong or central-directory
# encryption, ...) is outside what a bundle may use.
_ALLOWED_FLAGS = FLAG_ENCRYPTED | 0x0002 | 0x0004 | FLAG_DESCRIPTOR | FLAG_UTF8

U16_MAX, U32_MAX = 0xFFFF, 0xFFFFFFFF
VERSION = 51  # 5.1: WinZip AES (covers ZIP64's 4.5)
UNIX = 3
DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00: no real time leaks
EXTERNAL_ATTR = 0o100644 << 16  # a regular file, rw-r--r--, when 7-Zip extracts it on Unix

_LOCAL = struct.Struct("<IHHHHHIIIHH")  # 30 bytes
_CENTRAL = struct.Struct("<IBBHHHHHIIIHHHHHII")  # 46 bytes
_EOCD = struct.Struct("<IHHHHIIH")  # 22 bytes
_ZIP64_EOCD = struct.Struct("<IQHHIIQQQQ")  # 56 bytes
_ZIP64_LOCATOR = struct.Struct("<IIQI")  # 20 bytes
_AES_EXTRA = struct.Struct("<HHH2sBH")  # 11 bytes
MAX_TAIL = _EOCD.size + U16_MAX  # an EOCD record and the longest possible comment


class LayoutError(Exception):
    """A structural problem; `refused` is True for well-formed zips that are not valid bundles."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def _refuse(message: str) -> LayoutError:
    return LayoutError(message, refused=True)


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class EntrySpec:
    """What the writer declares about the single entry."""

    name: bytes
    utf8: bool
    method: int  # STORED or DEFLATED, inside the AES wrapper
    plain_size: int  # for DEFLATED with a descriptor, only known at the end
    sealed_size: int  # salt + verifier + data + MAC
    zip64: bool
    descriptor: bool

    @property
    def flags(self) -> int:
        return (FLAG_ENCRYPTED | (FLAG_DESCRIPTOR if self.descriptor else 0)
                | (FLAG_UTF8 if self.utf8 else 0))

    @property
    def aes_extra(self) -> bytes:
        # Vendor version 2 (AE-2): the CRC field is 0 and the MAC alone protects the data.
        return _AES_EXTRA.pack(AES_EXTRA_ID, 7, 2, b"AE", AES_STRENGTH_256, self.method)


def encode_local_header(spec: EntrySpec) -> bytes:
    if spec.descriptor:
        usize = csize = 0  # the real values follow the data
    else:
        usize, csize = spec.plain_size, spec.sealed_size
    extra = spec.aes_extra
    if spec.zip64:
        extra = struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, usize, csize) + extra
        usize = csize = U32_MAX
    head = _LOCAL.pack(LOCAL_SIG, VERSION, spec.flags, AES_METHOD, DOS_TIME, DOS_DATE, 0,
                       csize, usize, len(spec.name), len(extra))
    return head + spec.name + extra


def encode_descriptor(spec: EntrySpec) -> bytes:
    fmt = "<IIQQ" if spec.zip64 else "<IIII"
    return struct.pack(fmt, DESCRIPTOR_SIG, 0, spec.sealed_size, spec.plain_size)


def encode_trailer(spec: EntrySpec, cd_offset: int) -> bytes:
    """Central directory header, then ZIP64 end records if the entry is ZIP64, then the end record.

    A ZIP64 entry gets ZIP64 everywhere (both sizes in the central ZIP64 field, the ZIP64 end
    record and its locator), so the choice is made once, before the first byte is written.
    """
    usize, csize, extra = spec.plain_size, spec.sealed_size, spec.aes_extra
    if spec.zip64:
        # The central ZIP64 field holds exactly the fields whose 32-bit slot says 0xFFFFFFFF.
        extra = struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, usize, csize) + extra
        usize = csize = U32_MAX
    elif max(usize, csize, cd_offset) >= U32_MAX:
        raise ValueError("a non-ZIP64 entry cannot hold these sizes")
    central = _CENTRAL.pack(CENTRAL_SIG, VERSION, UNIX, VERSION, spec.flags, AES_METHOD, DOS_TIME,
                            DOS_DATE, 0, csize, usize, len(spec.name), len(extra), 0, 0, 0,
                            EXTERNAL_ATTR, 0) + spec.name + extra
    cd_size = len(central)
    records = b""
    if spec.zip64:
        z64_offset = cd_offset + cd_size
        records = (_ZIP64_EOCD.pack(ZIP64_EOCD_SIG, 44, (UNIX << 8) | VERSION, VERSION, 0, 0, 1,
                                    1, cd_size, cd_offset)
                   + _ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, z64_offset, 1))
    eocd = _EOCD.pack(EOCD_SIG, 0, 0, 1, 1, cd_size, min(cd_offset, U32_MAX), 0)
    return central + records + eocd


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Layout:
    """Where the encrypted payload is and what the headers declare about it, all cross-checked."""

    name: str
    method: int  # STORED or DEFLATED inside the AES wrapper
    vendor_version: int  # 1 = AE-1 (CRC checked too), 2 = AE-2
    crc: int
    plain_size: int
    sealed_size: int  # salt + verifier + data + MAC
    payload_offset: int  # where the salt starts


@dataclass(frozen=True)
class _Header:
    flags: int
    method: int
    time: int
    date: int
    crc: int
    csize: int
    usize: int
    name: bytes
    extras: dict[int, bytes]


def _read_exact(f: BinaryIO, offset: int, length: int, what: str) -> bytes:
    f.seek(offset)
    data = f.read(length)
    if len(data) != length:
        raise LayoutError(f"truncated bundle: {what} at byte {offset} is incomplete")
    return data


def _parse_extras(blob: bytes, where: str) -> dict[int, bytes]:
    extras: dict[int, bytes] = {}
    pos = 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise LayoutError(f"malformed extra field in the {where}")
        ident, length = struct.unpack_from("<HH", blob, pos)
        body = blob[pos + 4:pos + 4 + length]
        if len(body) != length:
            raise LayoutError(f"malformed extra field 0x{ident:04x} in the {where}")
        if ident in extras:
            raise LayoutError(f"extra field 0x{ident:04x} appears twice in the {where}")
        extras[ident] = body
        pos += 4 + length
    return extras


def _find_eocd(f: BinaryIO, file_size: int) -> int:
    """Offset of the end-of-central-directory record whose comment ends exactly at EOF."""
    if file_size < _EOCD.size:
        raise LayoutError("not a zip file (too short to hold an end-of-central-directory record)")
    start = max(0, file_size - MAX_TAIL)
    tail = _read_exact(f, start, file_size - start, "end of file")
    pos = tail.rfind(b"PK\x05\x06")
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            comment_len = struct.unpack_from("<H", tail, pos + 20)[0]
            if pos + _EOCD.size + comment_len == len(tail):
                return start + pos
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
    raise LayoutError("not a zip file, or truncated: no end-of-central-directory record")


def _central_directory_bounds(f: BinaryIO, file_size: int) -> tuple[int, int]:
    """(offset, size) of the central directory, after checking the end records against it."""
    eocd_pos = _find_eocd(f, file_size)
    _, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _ = _EOCD.unpack(
        _read_exact(f, eocd_pos, _EOCD.size, "end record"))
    cd_end = eocd_pos
    loc_pos = eocd_pos - _ZIP64_LOCATOR.size
    locator = _read_exact(f, loc_pos, _ZIP64_LOCATOR.size, "ZIP64 locator") if loc_pos >= 0 else b""
    if locator[:4] == b"PK\x06\x07":
        _, z_disk, z_offset, z_disks = _ZIP64_LOCATOR.unpack(locator)
        if z_disk != 0 or z_disks > 1:
            raise _refuse("multi-volume zip archives are not bundles")
        if z_disks != 1:
            raise LayoutError("the ZIP64 locator counts 0 disks")
        if z_offset + _ZIP64_EOCD.size > loc_pos:
            raise LayoutError("the ZIP64 locator points past itself")
        (sig, rec_size, _made, _need, z_this, z_cd_disk, z_n_disk, z_n_total, z_cd_size,
         z_cd_offset) = _ZIP64_EOCD.unpack(_read_exact(f, z_offset, _ZIP64_EOCD.size, "ZIP64 end"))
        if sig != ZIP64_EOCD_SIG or z_offset + 12 + rec_size != loc_pos:
            raise LayoutError("the ZIP64 end record is not where its locator says")
        for small, large, marker in ((disk, z_this, U16_MAX), (cd_disk, z_cd_disk, U16_MAX),
                                     (n_disk, z_n_disk, U16_MAX), (n_total, z_n_total, U16_MAX),
                                     (cd_size, z_cd_size, U32_MAX),
                                     (cd_offset, z_cd_offset, U32_MAX)):
            if small not in (large, marker):
                raise LayoutError("the end record and the ZIP64 end record disagree")
        disk, cd_disk, n_disk, n_total = z_this, z_cd_disk, z_n_disk, z_n_total
        cd_size, cd_offset, cd_end = z_cd_size, z_cd_offset, z_offset
    elif U32_MAX in (cd_size, cd_offset) or U16_MAX in (disk, cd_disk, n_disk, n_total):
        raise LayoutError("the end record needs a ZIP64 end record, which is missing")
    if disk != 0 or cd_disk != 0:
        raise _refuse("multi-volume zip archives are not bundles")
    if n_disk != n_total:
        raise LayoutError("the end record's two entry counts disagree")
    if n_total != 1:
        raise _refuse(f"the zip has {n_total} entries; a bundle has exactly one")
    if cd_offset + cd_size != cd_end:
        raise LayoutError("the central directory is not where the end record says")
    if not _CENTRAL.size <= cd_size <= _CENTRAL.size + 3 * U16_MAX:
        raise LayoutError(f"implausible central directory size {cd_size}")
    return cd_offset, cd_size


def _zip64_values(extras: dict[int, bytes], wanted: list[int], markers: list[int],
                  where: str) -> list[int]:
    """Replace the 32-bit fields that say 0xFFFFFFFF by the ZIP64 extra field's 8-byte values."""
    needed = sum(1 for value, marker in zip(wanted, markers) if value == marker)
    if needed == 0:
        return wanted
    body = extras.get(ZIP64_EXTRA_ID, b"")
    if len(body) < 8 * needed:
        raise LayoutError(f"the {where} needs a ZIP64 extra field, which is missing or short")
    values, pos = [], 0
    for value, marker in zip(wanted, markers):
        if value == marker:
            value = struct.unpack_from("<Q", body, pos)[0]
            pos += 8
        values.append(value)
    return values


def _parse_central(blob: bytes) -> tuple[_Header, int]:
    (sig, _made_ver, _made_sys, _need, flags, method, time, date, crc, csize, usize, nlen, elen,
     clen, disk, _iattr, _eattr, offset) = _CENTRAL.unpack_from(blob)
    if sig != CENTRAL_SIG:
        raise LayoutError("bad central directory header signature")
    if _CENTRAL.size + nlen + elen + clen != len(blob):
        raise LayoutError("the central directory header's lengths do not match its size")
    name = blob[_CENTRAL.size:_CENTRAL.size + nlen]
    extras = _parse_extras(blob[_CENTRAL.size + nlen:_CENTRAL.size + nlen + elen],
                           "central directory")
    usize, csize, offset, disk = _zip64_values(
        extras, [usize, csize, offset, disk], [U32_MAX, U32_MAX, U32_MAX, U16_MAX],
        "central directory header")
    if disk != 0:
        raise _refuse("multi-volume zip archives are not bundles")
    return _Header(flags, method, time, date, crc, csize, usize, name, extras), offset


def _parse_local(f: BinaryIO, offset: int) -> tuple[_Header, int]:
    (sig, _need, flags, method, time, date, crc, csize, usize, nlen,
     elen) = _LOCAL.unpack(_read_exact(f, offset, _LOCAL.size, "local header"))
    if sig != LOCAL_SIG:
        raise LayoutError("bad local header signature")
    rest = _read_exact(f, offset + _LOCAL.size, nlen + elen, "local header")
    extras = _parse_extras(rest[nlen:], "local header")
    if U32_MAX in (usize, csize):
        # In a local header the ZIP64 field holds both sizes whenever either needs it.
        body = extras.get(ZIP64_EXTRA_ID, b"")
        if len(body) < 16:
            raise LayoutError("the local header needs a ZIP64 extra field, which is missing")
        z_usize, z_csize = struct.unpack_from("<QQ", body)
        usize = z_usize if usize == U32_MAX else usize
        csize = z_csize if csize == U32_MAX else csize
    header = _Header(flags, method, time, date, crc, csize, usize, rest[:nlen], extras)
    return header, offset + _LOCAL.size + nlen + elen


def _check_encryption(central: _Header) -> tuple[int, int]:
    """(vendor_version, inner method) of a WinZip AES-256 entry; refuses anything else."""
    flags = central.flags
    if not flags & FLAG_ENCRYPTED:
        raise _refuse("the entry is not encrypted; a bundle is AES-256 encrypted")
    if flags & FLAG_STRONG:
        raise _refuse("the entry uses PKWARE strong encryption, not WinZip AES-256")
    if central.method != AES_METHOD:
        raise _refuse("the entry uses ZipCrypto (traditional zip encryption), not AES-256")
    if flags & ~_ALLOWED_FLAGS:
        raise _refuse(f"the entry sets unsupported general purpose flags 0x{flags:04x}")
    body = central.extras.get(AES_EXTRA_ID)
    if body is None or len(body) != 7:
        raise LayoutError("the entry says AES but has no valid AES extra field")
    vendor_version, vendor, strength, method = struct.unpack("<H2sBH", body)
    if vendor != b"AE" or vendor_version not in (1, 2):
        raise LayoutError("the AES extra field has an unknown vendor or version")
    if strength != AES_STRENGTH_256:
        bits = {1: "AES-128", 2: "AES-192"}.get(strength, f"unknown AES strength {strength}")
        raise _refuse(f"the entry is encrypted with {bits}; bundles use AES-256")
    if method not in (STORED, DEFLATED):
        raise _refuse(f"unsupported compression method {method}; bundles are stored or deflated")
    return vendor_version, method


def _cross_check(local: _Header, central: _Header) -> None:
    if local.name != central.name:
        raise LayoutError("the local and central headers name different entries")
    if (local.flags, local.method, local.time, local.date) != (
            central.flags, central.method, central.time, central.date):
        raise LayoutError("the local and central headers disagree (flags, method or time)")
    if local.extras.get(AES_EXTRA_ID) != central.extras.get(AES_EXTRA_ID):
        raise LayoutError("the local and central AES extra fields disagree")
    pairs = ((local.crc, central.crc), (local.csize, central.csize),
             (local.usize, central.usize))
    if central.flags & FLAG_DESCRIPTOR:
        ok = all(value in (0, real) for value, real in pairs)  # writers may leave them zero
    else:
        ok = all(value == real for value, real in pairs)
    if not ok:
        raise LayoutError("the local and central headers declare different sizes or CRC")


def _check_descriptor(f: BinaryIO, offset: int, length: int, central: _Header) -> None:
    """The data descriptor must fill the gap between the data and the central directory."""
    if not central.flags & FLAG_DESCRIPTOR:
        if length:
            raise LayoutError(f"{length} unexplained bytes between the data and the directory")
        return
    if length not in (12, 16, 20, 24):
        raise LayoutError("the data descriptor is missing or has the wrong size")
    blob = _read_exact(f, offset, length, "data descriptor")
    if length in (16, 24):
        if blob[:4] != b"PK\x07\x08":
            raise LayoutError("bad data descriptor signature")
        blob = blob[4:]
    fmt = "<IQQ" if len(blob) == 20 else "<III"
    crc, csize, usize = struct.unpack(fmt, blob)
    if (crc, csize, usize) != (central.crc, central.csize, central.usize):
        raise LayoutError("the data descriptor and the central header disagree")


def read_layout(f: BinaryIO, file_size: int) -> Layout:
    """Parse and cross-check a one-entry WinZip AES-256 zip; raise LayoutError on any doubt."""
    cd_offset, cd_size = _central_directory_bounds(f, file_size)
    central, local_offset = _parse_central(_read_exact(f, cd_offset, cd_size, "central directory"))
    vendor_version, method = _check_encryption(central)
    if local_offset != 0:
        raise LayoutError("the entry does not start at the beginning of the file")
    local, payload_offset = _parse_local(f, local_offset)
    _cross_check(local, central)
    data_end = payload_offset + central.csize
    if data_end > cd_offset:
        raise LayoutError("the entry's data overlaps the central directory (truncated or damaged)")
    _check_descriptor(f, data_end, cd_offset - data_end, central)
    if central.csize < OVERHEAD:
        raise LayoutError("the encrypted entry is too short to hold salt, verifier and MAC")
    if method == STORED and central.csize - OVERHEAD != central.usize:
        raise LayoutError("the stored entry's sizes are inconsistent")
    try:
        name = central.name.decode("utf-8" if central.flags & FLAG_UTF8 else "cp437")
    except UnicodeDecodeError:
        raise LayoutError("the entry name is not valid UTF-8") from None
    return Layout(name, method, vendor_version, central.crc, central.usize, central.csize,
                  payload_offset)
