"""WinZip AES-256 (AE-1/AE-2) primitives, fast: OpenSSL for AES and HMAC, numpy for the counter.

WinZip AES derives 66 bytes with PBKDF2-HMAC-SHA1 (1,000 rounds) from the password and a 16-byte
salt: a 32-byte AES key, a 32-byte HMAC-SHA1 key and a 2-byte password verifier. The entry data is
encrypted with AES in counter mode whose 128-bit counter is LITTLE-endian and starts at 1, so
OpenSSL's CTR mode (big-endian) cannot be used. Instead we write the counter blocks ourselves with
numpy (the low 64 bits are enough: the high half stays 0 below 2**68 bytes), encrypt them with
AES-ECB into a keystream and XOR. The authentication code is HMAC-SHA1 over the ciphertext,
truncated to 10 bytes. Every heavy call here (AES, XOR, SHA-1) releases the GIL on large buffers,
so the callers overlap them across threads.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SALT_LEN = 16  # AES-256 ("strength 3")
VERIFIER_LEN = 2
MAC_LEN = 10
OVERHEAD = SALT_LEN + VERIFIER_LEN + MAC_LEN  # 28 bytes added around the (compressed) data
PBKDF2_ROUNDS = 1000
_BLOCK = 16


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


class CtrCipher:
    """AES-256-CTR with WinZip's little-endian counter, for buffers at any byte offset.

    `max_chunk` bounds one call; the scratch arrays (counter blocks and keystream) are allocated
    once. An instance is not thread-safe: use it from one thread (one pipeline stage) at a time.
    Encryption and decryption are the same operation.
    """

    def __init__(self, aes_key: bytes, max_chunk: int) -> None:
        self._ecb = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
        blocks = max_chunk // _BLOCK + 2  # room for a misaligned start and a partial tail
        self._steps = np.arange(blocks, dtype="<u8")
        self._counters = np.zeros((blocks, 2), dtype="<u8")  # (low, high) halves; high stays 0
        # update_into wants len(out) >= len(in) + block - 1.
        self._keystream = np.empty(blocks * _BLOCK + _BLOCK, dtype=np.uint8)
        self._max_chunk = max_chunk

    @property
    def max_chunk(self) -> int:
        return self._max_chunk

    def xor(self, data: np.ndarray, out: np.ndarray, offset: int) -> None:
        """out[:n] = data[:n] XOR keystream[offset:offset+n], n = len(data); both uint8 arrays."""
        n = len(data)
        if n > self._max_chunk:
            raise ValueError(f"chunk of {n} bytes exceeds the cipher's maximum {self._max_chunk}")
        if n == 0:
            return
        first_block, skip = divmod(offset, _BLOCK)
        blocks = -(-(skip + n) // _BLOCK)
        if first_block + blocks >= 2**64:
            raise ValueError("WinZip AES counter beyond 64 bits (an entry of 2**68 bytes)")
        low = self._counters[:blocks, 0]
        np.add(self._steps[:blocks], np.uint64(first_block + 1), out=low)
        counter_bytes = self._counters[:blocks].view(np.uint8).reshape(-1)
        self._ecb.update_into(counter_bytes, self._keystream)
        stream = self._keystream[skip:skip + n]
        if n % 8 == 0 and skip % 8 == 0:
            # 8-byte lanes are measurably faster than bytes for the common aligned case.
            np.bitwise_xor(data.view("<u8"), stream.view("<u8"), out=out[:n].view("<u8"))
        else:
            np.bitwise_xor(data, stream, out=out[:n])
