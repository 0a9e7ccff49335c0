"""The sealing engine's own path for a small stored entry: one write, in the calling thread.

`engine.seal` moves data through slots and stages sized for installers; for a 2 KB manifest that
machinery costs more than the sealing itself, and a first sync of 10,000 releases pays it 10,000
times. `engine.seal` takes this path by itself for a stored entry that fits in one read of at
most SMALL_MAX bytes: it writes exactly the bytes the streaming path writes for the same salt
(tests/perf/test_seal_small.py compares them byte for byte), with the same primitives. Only the
per-bundle PBKDF2 (1,000 rounds, ~1 ms, required by the format) remains.
"""
from __future__ import annotations

from typing import BinaryIO

from archive.seal.winzip_aes import MAC_LEN, OVERHEAD, CtrCipher, derive_keys, new_mac
from archive.seal.zip_layout import STORED, EntrySpec, encode_local_header, encode_trailer

SMALL_MAX = 1 << 20     # above this, the pipeline is the faster way


def write_small(data: bytes, dst: BinaryIO, *, password: bytes, name: bytes, utf8: bool,
                salt: bytes) -> int:
    """Write the bundle of a stored entry holding `data` to `dst` in one write; return its size.

    The caller (engine.seal) has checked the password and encoded the name."""
    size = len(data)
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
    return len(bundle)
