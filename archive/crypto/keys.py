"""The archive secret: creation, the recovery code, wrapping under a passphrase, the contexts of
the keys derived from it (crypto/keyring.py derives them, once per unlock).

The secret is 160 random bits. The recovery code is that secret in base32, and the code as printed
is the zip password of every bundle, because WinZip AES stretches passwords with only 1,000 rounds
of PBKDF2-SHA1: the password must carry the entropy itself. The passphrase, which a person chooses,
only ever meets scrypt.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import UsageError, WrongPassphrase

SECRET_BYTES = 20
# OWASP's scrypt floor is N=2^17, r=8, p=1; N=2^16, r=8, p=2 is its listed equivalent: the same
# work per guess (OpenSSL runs the two lanes one after the other) in 64 MiB instead of 128 MiB,
# which keeps every command under 150 MB. Keys made with other parameters still open.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**16, 8, 2
# A key.toml comes back from remotes during rebuild: refuse a cost that would hang the unlock
# (16 x ours) or exceed the memory bound, rather than trust the file.
_SCRYPT_MAX_WORK = 16 * 2**17 * 8
_SCRYPT_MAXMEM = 256 * 1024 * 1024
CONTEXT_UNIT_NAMES = "arkeep 2026-11 unit names v1"
CONTEXT_MANIFEST_SECRETS = "arkeep 2026-11 manifest secrets v1"
CONTEXT_KEY_ID = "arkeep 2026-11 key id v1"
CONTEXT_REMOTE_CONFIG = "arkeep 2026-12 remote config v1"
CONTEXT_DOCUMENTS = "arkeep 2026-12 stored documents v1"
CONTEXT_FINGERPRINT = "arkeep 2026-11 import fingerprint v1"
CONTEXT_HARVEST_FINGERPRINT = "arkeep 2026-12 harvest fingerprint v1"
SECRET_PREFIX, SECRET_VERSION = "ENC[AES256_GCM,", "v1"
_MANIFEST_AAD = b"arkeep manifest secret v1"


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def recovery_code(secret: bytes) -> str:
    """'ABCD-EFGH-…': 32 base32 characters in groups of four; exactly the bundles' zip password."""
    text = base64.b32encode(secret).decode().rstrip("=")
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_recovery_code(text: str) -> bytes:
    """Accept the code in any case, with or without dashes and spaces."""
    cleaned = re.sub(r"[\s-]", "", text).upper()
    if len(cleaned) != 32 or not re.fullmatch(r"[A-Z2-7]+", cleaned):
        raise UsageError("that is not a recovery code: expect 32 letters and digits 2-7 "
                         "in groups of four, as printed on the recovery kit")
    return base64.b32decode(cleaned)


def derive(secret: bytes, context: str) -> bytes:
    return blake3.blake3(secret, derive_key_context=context).digest()


def key_id(secret: bytes) -> str:
    """A short public fingerprint of the secret: tells which archive a key or remote belongs to."""
    return derive(secret, CONTEXT_KEY_ID)[:8].hex()


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if min(n, r, p) < 1 or n * r * p > _SCRYPT_MAX_WORK:
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_SCRYPT_MAXMEM, dklen=32)


def wrap_secret(secret: bytes, passphrase: str) -> dict[str, Any]:
    """The table written to key.toml: everything needed to unwrap, nothing that reveals the secret."""
    salt, nonce = os.urandom(16), os.urandom(12)
    kek = _kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ident = key_id(secret)
    ciphertext = AESGCM(kek).encrypt(nonce, secret, ident.encode())
    b64 = lambda b: base64.b64encode(b).decode()
    return {
        "schema": 1, "kind": "wrapped-key", "key_id": ident,
        "created": datetime.now(UTC).replace(microsecond=0),
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": b64(salt)},
        "cipher": {"name": "AES-256-GCM", "nonce": b64(nonce), "ciphertext": b64(ciphertext)},
    }


def wrapping_id(table: dict[str, Any]) -> str | None:
    """A short fingerprint of one wrapping of the secret (its salt, nonce and ciphertext): it
    changes with every `key passwd`, so two key files with the same `key_id` but different
    wrappings open with different passphrases. None for a table without them."""
    try:
        parts = (table["kdf"]["salt"], table["cipher"]["nonce"], table["cipher"]["ciphertext"])
    except (KeyError, TypeError):
        return None
    return blake3.blake3("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def unwrap_secret(table: dict[str, Any], passphrase: str) -> bytes:
    try:
        if table.get("schema") != 1 or table.get("kind") != "wrapped-key":
            raise UsageError("key.toml is not an arkeep wrapped key of schema 1")
        kdf, cipher = table["kdf"], table["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "AES-256-GCM":
            raise UsageError(f"key.toml uses {kdf['name']}/{cipher['name']}, unknown to this arkeep")
        kek = _kek(passphrase, base64.b64decode(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        nonce, ciphertext = base64.b64decode(cipher["nonce"]), base64.b64decode(cipher["ciphertext"])
        ident = str(table["key_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"key.toml is damaged ({type(exc).__name__}); use the recovery code") from None
    try:
        secret = AESGCM(kek).decrypt(nonce, ciphertext, ident.encode())
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase") from None
    except ValueError as exc:  # e.g. a nonce of the wrong length: damaged, not a wrong passphrase
        raise UsageError(f"key.toml is damaged ({exc}); use the recovery code") from None
    return secret


@dataclass(frozen=True)
class SecretBox:
    """Encrypts secret values with one derived key: those of local manifests (`Keyring.box`),
    and the list of remotes kept in key.toml (`Keyring.config_box`)."""

    key: bytes = field(repr=False)

    def seal(self, plain: str) -> str:
        nonce = os.urandom(12)
        data = AESGCM(self.key).encrypt(nonce, plain.encode("utf-8"), _MANIFEST_AAD)
        return f"{SECRET_PREFIX}{SECRET_VERSION},{base64.b64encode(nonce + data).decode()}]"

    def open(self, token: str) -> str:
        if not (token.startswith(SECRET_PREFIX + SECRET_VERSION + ",") and token.endswith("]")):
            raise UsageError("a secret value in a manifest is not in the ENC[AES256_GCM,v1,…] form")
        try:
            raw = base64.b64decode(token[len(SECRET_PREFIX) + len(SECRET_VERSION) + 1:-1], validate=True)
            return AESGCM(self.key).decrypt(raw[:12], raw[12:], _MANIFEST_AAD).decode("utf-8")
        except (ValueError, InvalidTag):
            raise UsageError("a secret value in a manifest cannot be decrypted with this store's "
                             "key (damaged, or from another archive)") from None
