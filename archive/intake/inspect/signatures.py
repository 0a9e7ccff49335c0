"""Our own small table of file signatures: which format a file is, judged by its bytes.

The name of a file is only a hint: a format is claimed when its magic bytes are where the
format puts them. `identify` reads at most the first 64 KiB and the last 512 bytes.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 0x9800          # covers the ISO 9660 descriptors at 0x8001, 0x8801, 0x9001
TAIL_BYTES = 512


@dataclass(frozen=True)
class Signature:
    format: str        # short id used throughout arkeep.inspect: "pe", "ole", "deb", ...
    label: str         # what a person calls it
    offset: int
    magic: bytes


# Order matters: the first match wins (a more specific signature before a more general one).
SIGNATURES: tuple[Signature, ...] = (
    Signature("deb", "Debian package (.deb)", 0, b"!<arch>\ndebian-binary"),
    Signature("ar", "ar archive", 0, b"!<arch>\n"),
    Signature("ole", "OLE compound file", 0, bytes.fromhex("d0cf11e0a1b11ae1")),
    Signature("rpm", "RPM package", 0, bytes.fromhex("edabeedb")),
    Signature("xar", "xar archive", 0, b"xar!"),
    Signature("appimage", "AppImage (type 2)", 8, b"AI\x02"),
    Signature("appimage", "AppImage (type 1)", 8, b"AI\x01"),
    Signature("elf", "ELF program", 0, b"\x7fELF"),
    Signature("pe", "Windows program", 0, b"MZ"),
    Signature("zip", "zip archive", 0, b"PK\x03\x04"),
    Signature("zip", "zip archive (empty)", 0, b"PK\x05\x06"),
    Signature("iso9660", "ISO 9660 disc image", 0x8001, b"CD001"),
    Signature("iso9660", "ISO 9660 disc image", 0x8801, b"CD001"),
    Signature("iso9660", "ISO 9660 disc image", 0x9001, b"CD001"),
    Signature("udf", "UDF disc image", 0x8001, b"BEA01"),
    Signature("pdf", "PDF document", 0, b"%PDF-"),
    Signature("7z", "7-Zip archive", 0, bytes.fromhex("377abcaf271c")),
    Signature("rar", "RAR archive", 0, b"Rar!\x1a\x07"),
    Signature("gzip", "gzip-compressed file", 0, b"\x1f\x8b"),
    Signature("xz", "xz-compressed file", 0, bytes.fromhex("fd377a585a00")),
    Signature("bzip2", "bzip2-compressed file", 0, b"BZh"),
    Signature("zstd", "zstd-compressed file", 0, bytes.fromhex("28b52ffd")),
    Signature("cab", "Microsoft cabinet", 0, b"MSCF"),
    Signature("tar", "tar archive", 257, b"ustar"),
)

# The OLE root storage's class id says which kind of Windows Installer file it is.
MSI_CLASS_IDS = {
    "000C1084-0000-0000-C000-000000000046": ("msi", "Windows Installer package (MSI)"),
    "000C1086-0000-0000-C000-000000000046": ("msp", "Windows Installer patch (MSP)"),
    "000C1082-0000-0000-C000-000000000046": ("mst", "Windows Installer transform (MST)"),
}

# What a file name's extension promises, so that a mismatch can be said plainly.
EXTENSION_FORMATS = {
    ".exe": "pe", ".msi": "ole", ".msp": "ole", ".deb": "deb", ".rpm": "rpm", ".pkg": "xar",
    ".mpkg": "xar", ".xip": "xar", ".iso": "iso9660", ".appimage": "appimage", ".zip": "zip",
    ".dmg": "dmg", ".pdf": "pdf", ".7z": "7z", ".rar": "rar", ".cab": "cab",
}
EXPECTED_MAGIC = {
    "pe": "a Windows program starts with 'MZ'",
    "ole": "a Windows Installer file starts with the OLE signature D0 CF 11 E0",
    "deb": "a .deb starts with '!<arch>' followed by 'debian-binary'",
    "rpm": "an RPM starts with ED AB EE DB",
    "xar": "a macOS installer package starts with 'xar!'",
    "iso9660": "an ISO 9660 image has 'CD001' at byte 32769",
    "appimage": "an AppImage is an ELF program marked 'AI' at byte 8",
    "zip": "a zip archive starts with 'PK'",
    "dmg": "a disk image ends with a 'koly' trailer",
    "pdf": "a PDF starts with '%PDF-'",
    "7z": "a 7-Zip archive starts with '7z'",
    "rar": "a RAR archive starts with 'Rar!'",
    "cab": "a cabinet starts with 'MSCF'",
}

_EMAIL_HEADER = re.compile(
    rb"^(Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|"
    rb"X-[A-Za-z0-9-]+|DKIM-Signature|ARC-[A-Za-z-]+|Reply-To|Content-Type):[ \t]", re.IGNORECASE)


def match(head: bytes, tail: bytes = b"") -> Signature | None:
    """The first signature whose magic bytes are in `head` (the file's first bytes)."""
    for sig in SIGNATURES:
        if head[sig.offset:sig.offset + len(sig.magic)] == sig.magic:
            return sig
    if len(tail) >= 512 and tail[-512:-508] == b"koly":
        return Signature("dmg", "Apple disk image (.dmg)", -512, b"koly")
    if looks_like_email(head):
        return Signature("email", "email message", 0, b"")
    return None


def looks_like_email(head: bytes) -> bool:
    """An RFC 5322 message: the first lines are header fields, and From or Subject is among them."""
    lines = head[:4096].split(b"\n")[:40]
    if not lines or not _EMAIL_HEADER.match(lines[0].lstrip(b"\xef\xbb\xbf")):
        return False
    names = {line.split(b":", 1)[0].lower() for line in lines if _EMAIL_HEADER.match(line)}
    return bool(names & {b"from", b"subject"}) and len(names) >= 2


def read_ends(path: Path) -> tuple[bytes, bytes, int]:
    """The first HEAD_BYTES, the last TAIL_BYTES and the size of a file."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(HEAD_BYTES)
        if size > len(head):
            f.seek(max(size - TAIL_BYTES, 0))
            tail = f.read(TAIL_BYTES)
        else:
            tail = head[-TAIL_BYTES:]
    return head, tail, size


def identify(path: Path) -> Signature | None:
    head, tail, _ = read_ends(path)
    return match(head, tail)


def expected_format(path: Path) -> str | None:
    """The format a file's extension promises (`.msi` -> 'ole'), or None."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "gzip"
    return EXTENSION_FORMATS.get(Path(name).suffix)
