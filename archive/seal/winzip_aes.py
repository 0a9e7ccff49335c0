"""WinZip AES-256 (AE-1/AE-2) primitives, fast: OpenSSL for AES and HMAC, a counter table for CTR.

WinZip AES derives 66 bytes with PBKDF2-HMAC-SHA1 (1,000 rounds) from the password and a 16-byte
salt: a 32-byte AES key, a 32-byte HMAC-SHA1 key and a 2-byte password verifier. The entry data is
encrypted with AES in counter mode whose 128-bit counter is LITTLE-endian and starts at 1, so
OpenSSL's CTR mode (big-endian) cannot be used: it counts in the other end of the block, so no
choice of starting block makes two consecutive OpenSSL counters equal two consecutive WinZip ones.
Instead we lay out the counter blocks ourselves, encrypt them with AES-ECB into a keystream and
XOR it onto the data. The counter blocks come from one table of 2**16 blocks whose two low bytes
count 0..65535 (the rest zero), which is the first window (the first 1 MiB of every entry); a later
2**16-aligned window is a copy of it whose higher bytes, the same in all its blocks, are rewritten
one byte column at a time when the window changes. The XOR is pycryptodomex's C `strxor`
(pycryptodomex comes with pyzipper, which export uses), called through ctypes (see `_xor`). The authentication code is HMAC-SHA1
over the ciphertext, truncated to 10 bytes. Every heavy call here (AES, XOR, SHA-1) releases the
GIL on large buffers, so the callers overlap them across threads.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import hmac
import importlib.machinery
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SALT_LEN = 16  # AES-256 ("strength 3")
VERIFIER_LEN = 2
MAC_LEN = 10
OVERHEAD = SALT_LEN + VERIFIER_LEN + MAC_LEN  # 28 bytes added around the (compressed) data
PBKDF2_ROUNDS = 1000
_BLOCK = 16
_WINDOW = 1 << 16  # counter blocks whose values differ only in their two low bytes
_COUNTER_LIMIT = 1 << 128


def new_salt() -> bytes:
    return os.urandom(SALT_LEN)


def derive_keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """(aes_key, hmac_key, verifier) for `password` and `salt`, as WinZip AES-256 defines them."""
    material = hashlib.pbkdf2_hmac("sha1", password, salt, PBKDF2_ROUNDS, 32 + 32 + VERIFIER_LEN)
    return material[:32], material[32:64], material[64:]


def new_mac(hmac_key: bytes) -> hmac.HMAC:
    """HMAC-SHA1 backed by OpenSSL (hashlib), which releases the GIL on large updates."""
    return hmac.new(hmac_key, digestmod="sha1")


def verifier_matches(expected: bytes, stored: bytes) -> bool:
    return hmac.compare_digest(expected, stored)


def mac_matches(mac: hmac.HMAC, stored: bytes) -> bool:
    return hmac.compare_digest(mac.digest()[:MAC_LEN], stored)


Buffer = bytes | bytearray | memoryview


def _pointer(buffer: Buffer) -> object:
    """What ctypes passes as a `const uint8_t *` to `buffer`'s first byte, without a copy."""
    if isinstance(buffer, bytes):
        return buffer
    view = memoryview(buffer)
    if view.readonly:
        return bytes(view)
    return (ctypes.c_char * view.nbytes).from_buffer(view)


@functools.cache
def _xor() -> Callable[[Buffer, Buffer, Buffer, int], None]:
    """xor(a, b, out, n): out[:n] = a[:n] XOR b[:n], in C, the GIL released.

    pycryptodomex's own `strxor` declares its C function through cffi, whose C parser costs
    every command that seals ~25 ms of start-up; its library is loaded here with ctypes instead
    (~1 ms). Should that library not be where pycryptodomex keeps it, its own wrapper serves."""
    spec = importlib.util.find_spec("Cryptodome.Util")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_strxor{suffix}"
            if path.is_file():
                return _ctypes_xor(path)
    from Cryptodome.Util.strxor import strxor

    def fallback(a: Buffer, b: Buffer, out: Buffer, n: int) -> None:
        strxor(memoryview(a)[:n], memoryview(b)[:n], output=memoryview(out)[:n])
    return fallback


def _ctypes_xor(library: Path) -> Callable[[Buffer, Buffer, Buffer, int], None]:
    function = ctypes.CDLL(str(library)).strxor
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    function.restype = None

    def xor(a: Buffer, b: Buffer, out: Buffer, n: int) -> None:
        function(_pointer(a), _pointer(b), _pointer(out), n)
    return xor


@functools.cache
def _window_table() -> bytes:
    """Counter blocks 0 .. 2**16-1, 16 little-endian bytes each (1 MiB, built once, ~1 ms)."""
    table = bytearray(_WINDOW * _BLOCK)
    table[0::_BLOCK] = bytes(range(256)) * (_WINDOW // 256)
    table[1::_BLOCK] = b"".join(bytes((high,)) * 256 for high in range(256))
    return bytes(table)


class CtrCipher:
    """AES-256-CTR with WinZip's little-endian counter, for buffers at any byte offset.

    `max_chunk` bounds one call; the scratch buffers (counter blocks and keystream) are allocated
    once. An instance is not thread-safe: use it from one thread (one pipeline stage) at a time.
    Encryption and decryption are the same operation.
    """

    def __init__(self, aes_key: bytes, max_chunk: int) -> None:
        self._ecb = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
        blocks = max_chunk // _BLOCK + 2  # room for a misaligned start and a partial tail
        # The counters of the current 2**16-block window past the first, made on first use.
        self._window: bytearray | None = None
        self._base = 0  # the counter of the window's first block
        # update_into wants len(out) >= len(in) + block - 1.
        self._keystream = memoryview(bytearray(blocks * _BLOCK + _BLOCK))
        self._max_chunk = max_chunk

    @property
    def max_chunk(self) -> int:
        return self._max_chunk

    def xor(self, data: bytes | bytearray | memoryview, out: bytearray | memoryview,
            offset: int) -> None:
        """out[:n] = data[:n] XOR keystream[offset:offset+n], n = len(data)."""
        n = len(data)
        if n > self._max_chunk:
            raise ValueError(f"chunk of {n} bytes exceeds the cipher's maximum {self._max_chunk}")
        if n == 0:
            return
        first_block, skip = divmod(offset, _BLOCK)
        blocks = -(-(skip + n) // _BLOCK)
        counter = first_block + 1  # WinZip's counter starts at 1
        if counter + blocks > _COUNTER_LIMIT:
            raise ValueError("WinZip AES counter beyond 128 bits")
        done = 0
        while done < blocks:
            low = counter % _WINDOW
            take = min(blocks - done, _WINDOW - low)
            self._ecb.update_into(self._counter_blocks(counter - low, low, take),
                                  self._keystream[done * _BLOCK:])
            done += take
            counter += take
        target = memoryview(out)
        if target.readonly or target.nbytes < n:
            raise ValueError(f"the output must be writable and hold {n} bytes")
        _xor()(data, self._keystream[skip:skip + n], target, n)

    def _counter_blocks(self, base: int, low: int, count: int) -> memoryview:
        """The `count` counter blocks base+low, base+low+1, ... (base a multiple of 2**16)."""
        if base == 0:
            return memoryview(_window_table())[low * _BLOCK:(low + count) * _BLOCK]
        if self._window is None:
            self._window = bytearray(_window_table())  # the window of base 0
        if base != self._base:
            # Rewrite only the bytes that differ from the previous window's: one byte column of
            # 65,536 for most windows, since consecutive windows differ in their third byte.
            changed, column = (base ^ self._base) >> 16, 2
            while changed:
                if changed & 0xFF:
                    value = (base >> (8 * column)) & 0xFF
                    self._window[column::_BLOCK] = bytes((value,)) * _WINDOW
                changed >>= 8
                column += 1
            self._base = base
        return memoryview(self._window)[low * _BLOCK:(low + count) * _BLOCK]
