"""Sealing a few bytes (a manifest, a licence record) in the calling thread.

`seal.seal` moves data through a thread pipeline with 4 MiB slots: right for an installer, but
for a 2 KB manifest the thread hand-offs cost ~10 ms, which a first sync of 10,000 releases pays
10,000 times. This writes exactly what `seal.seal(..., compress=False)` writes for the same salt
(tests/perf/test_seal_small.py compares them byte for byte), with the same primitives, in one go.
Only the per-bundle PBKDF2 (1,000 rounds, ~1 ms, required by the format) remains.
"""
from __future__ import annotations

from typing import BinaryIO

import blake3

from archive.seal.engine import SealResult, seal
from archive.seal.winzip_aes import MAC_LEN, OVERHEAD, CtrCipher, derive_keys, new_mac, new_salt
from archive.seal.zip_layout import STORED, EntrySpec, encode_local_header, encode_trailer

SMALL_MAX = 1 << 20     # above this, the pipeline is the faster way


def seal_small(data: bytes, dst: BinaryIO, *, password: bytes, entry_name: str,
               salt: bytes | None = None) -> SealResult:
    """Write a stored (uncompressed) bundle holding `data` to `dst` in one write.

    `salt` is for tests only (comparing with seal.seal); a bundle must always get a fresh one.
    """
    if len(data) > SMALL_MAX:
        return seal(_Bytes(data), dst, password=password, entry_name=entry_name, size=len(data),
                    compress=False)
    if not isinstance(password, (bytes, bytearray)) or not password:
        raise ValueError("the password must be non-empty bytes")
    if not entry_name or "\x00" in entry_name:
        raise ValueError("entry name must be a non-empty string without NUL characters")
    try:
        name, utf8 = entry_name.encode("ascii"), False
    except UnicodeEncodeError:
        name, utf8 = entry_name.encode("utf-8"), True
    size = len(data)
    salt = salt if salt is not None else new_salt()
    aes_key, hmac_key, verifier = derive_keys(bytes(password), salt)
    spec = EntrySpec(name, utf8, STORED, size, size + OVERHEAD, zip64=False, descriptor=False)
    cipher = bytearray(size)
    CtrCipher(aes_key, max(size, 1)).xor(data, cipher, 0)
    mac = new_mac(hmac_key)
    mac.update(cipher)
    body = encode_local_header(spec) + salt + verifier + cipher + mac.digest()[:MAC_LEN]
    bundle = body + encode_trailer(spec, cd_offset=len(body))
    view = memoryview(bundle)
    while len(view):
        written = dst.write(view)
        view = view[written if written is not None else len(view):]
    return SealResult(entry_name, size, len(bundle), blake3.blake3(data).hexdigest())


class _Bytes:
    """The minimal reader seal.seal needs, over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self._view, self._pos = memoryview(data), 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else self._pos + n
        piece = self._view[self._pos:end]
        self._pos += len(piece)
        return bytes(piece)

    def readinto(self, buf: memoryview) -> int:
        piece = self._view[self._pos:self._pos + len(buf)]
        buf[:len(piece)] = piece
        self._pos += len(piece)
        return len(piece)
