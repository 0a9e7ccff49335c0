"""The digest Authenticode signs in a Windows Installer file (MSI, MSP), and its signature: the
root stream "\\x05DigitalSignature" (checked by archive/intake/authenticode.py).

The MSI digest, as signtool and osslsigncode make it: walk the storages from the root; in each,
take the children in the order of their raw UTF-16LE names (with the terminating zero, compared
byte by byte), hash each stream's content (empty streams add nothing) and recurse into each
storage, then hash the storage's CLSID (16 bytes). At the root the two signature streams are
left out. When "\\x05MsiDigitalSignatureEx" is present, it holds a digest of the metadata
(names, sizes, state bits, times, CLSIDs, in the same order), which must match the file and is
hashed first. The compound file is read with olefile; large streams are read sector by sector
through its FAT, so a 4 GB installer is never held in memory.
"""
from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

SIGNATURE = "\x05DigitalSignature"
SIGNATURE_EX = "\x05MsiDigitalSignatureEx"
STORAGE, STREAM, ROOT = 1, 2, 5
MAX_DEPTH = 64
MAX_SIGNATURE_BYTES = 16 * 1024 * 1024


class MsiUnreadable(ValueError):
    """The compound file or its signature stream cannot be read."""


@dataclass
class MsiSignature:
    """An MSI's Authenticode signature and how to compute the digest it should sign. Holds the
    file open: use it as a context manager."""

    blob: bytes | None          # None: the file is not signed
    notes: list[str]
    ole: Any
    path: Path
    prehash: bytes | None

    def digest(self, algorithm: str) -> bytes:
        h = hashlib.new(algorithm)
        if self.prehash is not None:
            if _metadata_digest(self.ole.root, algorithm) != self.prehash:
                return b"\0" * h.digest_size     # metadata changed: no digest can match
            h.update(self.prehash)
        try:
            for chunk in _content(self.ole, self.path, self.ole.root, [], 0):
                h.update(chunk)
        except OSError as exc:
            raise MsiUnreadable(f"a stream cannot be read: {exc}") from None
        return h.digest()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ole.close()


def msi_signature(path: Path) -> MsiSignature:
    """Open an MSI and read its signature streams; MsiUnreadable when it cannot be read."""
    import olefile

    try:
        ole = olefile.OleFileIO(str(path))
    except (OSError, ValueError, struct.error) as exc:
        raise MsiUnreadable(f"not a readable Windows Installer file: {exc}") from None
    try:
        names = {kid.name: kid for kid in ole.root.kids}
        signature = names.get(SIGNATURE)
        if signature is None or signature.entry_type != STREAM:
            return MsiSignature(None, [], ole, path, None)
        if signature.size > MAX_SIGNATURE_BYTES:
            raise MsiUnreadable("the signature stream is larger than any real signature")
        blob = ole.openstream([SIGNATURE]).read()
        prehash = ole.openstream([SIGNATURE_EX]).read() if SIGNATURE_EX in names else None
        notes = ["the signature also covers the streams' metadata (MsiDigitalSignatureEx)"] \
            if prehash is not None else []
        return MsiSignature(blob, notes, ole, path, prehash)
    except (OSError, ValueError, struct.error, IndexError, KeyError) as exc:
        ole.close()
        raise MsiUnreadable(f"the Windows Installer file cannot be read: {exc}") from None
    except BaseException:
        ole.close()
        raise


def _sorted(entry: Any) -> list[Any]:
    return sorted(entry.kids, key=lambda kid: kid.name_raw[:kid.namelength])


def _skipped(kid: Any, depth: int) -> bool:
    return depth == 0 and kid.name in (SIGNATURE, SIGNATURE_EX)


def _clsid(entry: Any) -> bytes:
    return uuid.UUID(entry.clsid).bytes_le if entry.clsid else bytes(16)


def _content(ole: Any, path: Path, entry: Any, where: list[str], depth: int) -> Iterator[bytes]:
    if depth > MAX_DEPTH:
        raise ValueError("storages are nested too deeply")
    for kid in _sorted(entry):
        if _skipped(kid, depth):
            continue
        if kid.entry_type == STREAM and kid.size:
            yield from _stream(ole, path, kid, [*where, kid.name])
        elif kid.entry_type == STORAGE:
            yield from _content(ole, path, kid, [*where, kid.name], depth + 1)
    yield _clsid(entry)


def _stream(ole: Any, path: Path, kid: Any, names: list[str]) -> Iterator[bytes]:
    """A stream's bytes: small ones (in the mini stream) through olefile, large ones sector by
    sector along the FAT chain, so that memory stays bounded by one sector."""
    if kid.size < ole.minisectorcutoff:
        yield ole.openstream(names).read()
        return
    size, left = ole.sectorsize, kid.size
    sector, seen = kid.isectStart, 0
    with open(path, "rb") as f:
        while left > 0:
            if sector >= len(ole.fat) or seen > len(ole.fat):
                raise ValueError(f"the stream {kid.name!r} runs off its sector chain")
            f.seek((sector + 1) * size)
            chunk = f.read(min(size, left))
            if not chunk:
                raise ValueError(f"the stream {kid.name!r} is cut short")
            yield chunk
            left -= len(chunk)
            sector = ole.fat[sector]
            seen += 1


def _metadata(entry: Any) -> bytes:
    out = b""
    if entry.entry_type != ROOT:
        out += entry.name_raw[:max(entry.namelength - 2, 0)]
    if entry.entry_type != STREAM:
        out += _clsid(entry)
    else:
        out += struct.pack("<I", entry.sizeLow)
    out += struct.pack("<I", entry.dwUserFlags)
    if entry.entry_type != ROOT:
        out += struct.pack("<QQ", entry.createTime, entry.modifyTime)
    return out


def _metadata_digest(root: Any, algorithm: str) -> bytes:
    h = hashlib.new(algorithm)

    def walk(entry: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ValueError("storages are nested too deeply")
        h.update(_metadata(entry))
        for kid in _sorted(entry):
            if _skipped(kid, depth):
                continue
            if kid.entry_type == STREAM:
                h.update(_metadata(kid))
            elif kid.entry_type == STORAGE:
                walk(kid, depth + 1)

    walk(root, 0)
    return h.digest()
