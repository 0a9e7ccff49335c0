"""Objects encrypted at rest: the documents that can carry a licence key (docs/FORMAT.md).

An encrypted object keeps the id of its plaintext (BLAKE3) and lives beside where the plain
object would be, as `objects/ab/cd/<id>.enc`:

    header   16 bytes  MAGIC
              4 bytes  chunk size C (little-endian; 1 MiB)
             16 bytes  salt, random for every object
    chunks   AES-256-GCM of the plaintext in pieces of C bytes (the last 0..C bytes, always
             present), each followed by its 16-byte tag; the nonce of piece i is i as 11 bytes
             big-endian then 0x01 for the last piece and 0x00 before it; the associated data
             is the 36-byte header
    trailer  32 bytes  BLAKE3 of everything before it (lets `verify` find rot without the key)

The key of one object is BLAKE3 keyed with the "stored documents" key (`Keyring.documents`,
derived from the archive secret) over the salt. The final-piece flag stops truncation at a piece
boundary; the header in the associated data stops a changed chunk size or salt; a piece moved
elsewhere fails its tag.
Memory is two pieces whatever the size of the object.
"""
from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import blake3

from archive.errors import IntegrityError
from archive.storage.hashing import Progress, new_hasher

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

MAGIC = b"ARKEEP-OBJECT-1\n"
PIECE = 1024 * 1024
TAG = 16
SALT = 16
HEADER = len(MAGIC) + 4 + SALT
TRAILER = 32
ENC_SUFFIX = ".enc"


def _cipher(documents: bytes, salt: bytes) -> Any:
    """AES-256-GCM under this object's key (cryptography is imported here: `arkeep list`
    imports the store, and start-up time is a budget)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(blake3.blake3(salt, key=documents).digest())


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def pieces_for(size: int, piece: int = PIECE) -> int:
    return max(1, -(-size // piece))


def encrypted_size(size: int, piece: int = PIECE) -> int:
    """The size on disk of an encrypted object holding `size` bytes."""
    return HEADER + size + TAG * pieces_for(size, piece) + TRAILER


class EncryptingWriter:
    """A forward-only writer: plaintext in, the encrypted object out to `fd`.

    `close()` writes the last piece and the trailer and returns (BLAKE3 of the plaintext, its
    size); the caller fsyncs and names the file."""

    def __init__(self, fd: int, documents: bytes, size_hint: int = 0) -> None:
        self._fd = fd
        salt = os.urandom(SALT)
        self._header = MAGIC + struct.pack("<I", PIECE) + salt
        self._aead = _cipher(documents, salt)
        self._plain = new_hasher(size_hint)
        self._outer = blake3.blake3()
        self._buf = bytearray()
        self._index = 0
        self._size = 0
        self._emit(self._header)

    def _emit(self, data: bytes) -> None:
        self._outer.update(data)
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])

    def _piece(self, data: bytes, last: bool) -> None:
        self._emit(self._aead.encrypt(_nonce(self._index, last), data, self._header))
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = len(data)
        self._plain.update(data)
        self._size += n
        self._buf += data
        # Keep at least one byte back: the last piece is only known at close().
        while len(self._buf) > PIECE:
            self._piece(bytes(self._buf[:PIECE]), last=False)
            del self._buf[:PIECE]
        return n

    def close(self) -> tuple[str, int]:
        self._piece(bytes(self._buf), last=True)
        self._buf = bytearray()
        self._emit(self._outer.digest())
        return self._plain.hexdigest(), self._size

    def flush(self) -> None:
        """The pieces go to the file descriptor as they are complete; nothing to flush."""


def encrypt_stream(src: BinaryIO, fd: int, documents: bytes, size_hint: int = 0,
                   progress: Progress | None = None) -> tuple[str, int]:
    """Encrypt everything `src` yields into `fd`; return the plaintext's BLAKE3 and size."""
    writer = EncryptingWriter(fd, documents, size_hint)
    buf = bytearray(PIECE)
    view = memoryview(buf)
    while n := src.readinto(buf):  # type: ignore[attr-defined]
        writer.write(view[:n])
        if progress:
            progress(n)
    return writer.close()


class _DecryptingRaw(io.RawIOBase):
    """The plaintext of an encrypted object, piece by piece, each authenticated before use."""

    def __init__(self, f: BinaryIO, documents: bytes, label: str) -> None:
        self._f = f
        self._label = label
        total = os.fstat(f.fileno()).st_size
        header = f.read(HEADER)
        if len(header) != HEADER or header[:len(MAGIC)] != MAGIC:
            raise IntegrityError(f"{label}: not an arkeep encrypted object (damaged header)")
        self._header = header
        (self._piece_size,) = struct.unpack("<I", header[len(MAGIC):len(MAGIC) + 4])
        if not 0 < self._piece_size <= 64 * PIECE:
            raise IntegrityError(f"{label}: damaged header (piece size)")
        body = total - HEADER - TRAILER
        step = self._piece_size + TAG
        self._pieces = max(1, -(-body // step))
        self.size = body - TAG * self._pieces
        if self.size < 0 or pieces_for(self.size, self._piece_size) != self._pieces:
            raise IntegrityError(f"{label}: the encrypted object is truncated or damaged")
        self._aead = _cipher(documents, header[len(MAGIC) + 4:])
        self._pos = 0
        self._cache: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def _load(self, index: int) -> bytes:
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        step = self._piece_size + TAG
        self._f.seek(HEADER + index * step)
        last = index == self._pieces - 1
        blob = self._f.read(step if not last else self.size - index * self._piece_size + TAG)
        from cryptography.exceptions import InvalidTag
        try:
            data = self._aead.decrypt(_nonce(index, last), blob, self._header)
        except InvalidTag:
            raise IntegrityError(f"{self._label}: the encrypted object does not authenticate "
                                 "(damaged, or from another archive)") from None
        self._cache = (index, data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        index, offset = divmod(self._pos, self._piece_size)
        data = self._load(index)
        n = min(len(b), len(data) - offset)
        b[:n] = data[offset:offset + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def open_decrypting(path: Path, documents: bytes, label: str = "") -> io.BufferedReader:
    """A readable, seekable binary stream of the plaintext of the encrypted object at `path`."""
    f = open(path, "rb")  # noqa: SIM115 - handed to the returned stream, which closes it
    try:
        raw = _DecryptingRaw(f, documents, label or str(path))
    except BaseException:
        f.close()
        raise
    return io.BufferedReader(raw, buffer_size=PIECE)


def open_plain(path: Path, keyring: Keyring) -> BinaryIO:
    """An object file's plaintext: a plain object as it is, an encrypted one decrypted."""
    if path.name.endswith(ENC_SUFFIX):
        return open_decrypting(path, keyring.documents)
    return open(path, "rb")


def plain_size(path: Path) -> int | None:
    """The plaintext size an encrypted object's length implies (None if no size fits)."""
    body = path.stat().st_size - HEADER - TRAILER
    pieces = max(1, -(-body // (PIECE + TAG)))
    size = body - TAG * pieces
    return size if size >= 0 and pieces_for(size) == pieces else None


def trailer_matches(path: Path, progress: Progress | None = None) -> bool:
    """Without the key: do the bytes still hash to the BLAKE3 written at the end? (rot check)"""
    hasher = blake3.blake3()
    with open(path, "rb", buffering=0) as f:
        remaining = os.fstat(f.fileno()).st_size - TRAILER
        if remaining < HEADER:
            return False
        buf = bytearray(PIECE)
        view = memoryview(buf)
        while remaining > 0:
            n = f.readinto(view[:min(PIECE, remaining)])
            if not n:
                return False
            hasher.update(view[:n])
            remaining -= n
            if progress:
                progress(n)
        return f.read(TRAILER) == hasher.digest()
