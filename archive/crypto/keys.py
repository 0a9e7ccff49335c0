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
CONTEXT_AUDIT_LOG = "arkeep 2026-12 audit log v1"
SECRET_PREFIX, SECRET_VERSION = "ENC[AES256_GCM,", "v1"
_MANIFEST_AAD = b"arkeep manifest secret v1"
SLOTS_SCHEMA = 2         # a key file of several key slots (archive/crypto/slots.py)
FIRST_SLOT = "owner"     # the name of the one slot of a key file that names none


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


def _wrapping(secret: bytes, passphrase: str) -> dict[str, Any]:
    """One wrapping of the secret under a passphrase: the `kdf` and `cipher` tables."""
    salt, nonce = os.urandom(16), os.urandom(12)
    kek = _kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(kek).encrypt(nonce, secret, key_id(secret).encode())
    b64 = lambda b: base64.b64encode(b).decode()
    return {"kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": b64(salt)},
            "cipher": {"name": "AES-256-GCM", "nonce": b64(nonce), "ciphertext": b64(ciphertext)}}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def wrap_secret(secret: bytes, passphrase: str) -> dict[str, Any]:
    """The table written to key.toml: everything needed to unwrap, nothing that reveals the secret.
    One key slot; archive/crypto/slots.py adds more."""
    return {"schema": 1, "kind": "wrapped-key", "key_id": key_id(secret), "created": _now(),
            **_wrapping(secret, passphrase)}


def _wrapping_parts(table: Any) -> tuple[str, str, str]:
    return (table["kdf"]["salt"], table["cipher"]["nonce"], table["cipher"]["ciphertext"])


def wrapping_id(table: dict[str, Any]) -> str | None:
    """A short fingerprint of the wrappings of the secret (salts, nonces and ciphertexts of every
    key slot): it changes with every `key passwd`, `key add` and `key remove`, so two key files
    with the same `key_id` but different wrappings open with different passphrases. None for a
    table without them. A key file of one slot (schema 1) keeps the fingerprint it always had."""
    try:
        if table.get("schema") == SLOTS_SCHEMA:
            slots = table["slots"]
            parts: list[str] = []
            for name in sorted(slots):
                parts += [name, *map(str, _wrapping_parts(slots[name]))]
        else:
            parts = list(map(str, _wrapping_parts(table)))
    except (KeyError, TypeError, AttributeError):
        return None
    return blake3.blake3("\0".join(parts).encode()).hexdigest()[:16]


def _damaged(exc: Exception) -> UsageError:
    return UsageError(f"key.toml is damaged ({type(exc).__name__}); use the recovery code")


def slot_tables(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The key slots of a key file, by name: one per person (or recovery code) that opens it.

    A key file of schema 1 (every store made before key slots, and any store of one slot) holds
    its one wrapping at the top level; its slot is named by `slot`, else `FIRST_SLOT`. Schema 2
    holds a table `slots` of them. Raises UsageError for a file that is neither.
    """
    if table.get("kind") != "wrapped-key" or table.get("schema") not in (1, SLOTS_SCHEMA):
        raise UsageError("key.toml is not an arkeep wrapped key of schema 1 or 2")
    try:
        if table["schema"] == 1:
            name = str(table.get("slot", FIRST_SLOT))
            one = {"kdf": table["kdf"], "cipher": table["cipher"]}
            if table.get("created") is not None:
                one["created"] = table["created"]
            return {name: one}
        slots = table["slots"]
        if not isinstance(slots, dict) or not slots or not all(isinstance(v, dict)
                                                               for v in slots.values()):
            raise TypeError("slots")
        return dict(slots)
    except (KeyError, TypeError) as exc:
        raise _damaged(exc) from None


def _unwrap_one(slot: dict[str, Any], ident: str, passphrase: str) -> bytes:
    try:
        kdf, cipher = slot["kdf"], slot["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "AES-256-GCM":
            raise UsageError(f"key.toml uses {kdf['name']}/{cipher['name']}, unknown to this arkeep")
        kek = _kek(passphrase, base64.b64decode(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        nonce, ciphertext = base64.b64decode(cipher["nonce"]), base64.b64decode(cipher["ciphertext"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(exc) from None
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, ident.encode())
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase") from None
    except ValueError as exc:  # e.g. a nonce of the wrong length: damaged, not a wrong passphrase
        raise UsageError(f"key.toml is damaged ({exc}); use the recovery code") from None


def unwrap_slot(table: dict[str, Any], passphrase: str,
                prefer: tuple[str, ...] = ()) -> tuple[bytes, str]:
    """The secret and the name of the key slot the passphrase opened. Every slot is tried (one
    scrypt each; those named in `prefer` first), so a wrong passphrase costs one scrypt per slot."""
    slots = slot_tables(table)
    ident = table.get("key_id")
    if not isinstance(ident, str):
        raise _damaged(KeyError("key_id"))
    order = [n for n in prefer if n in slots] + [n for n in slots if n not in prefer]
    for name in order:
        try:
            return _unwrap_one(slots[name], ident, passphrase), name
        except WrongPassphrase:
            continue
    raise WrongPassphrase("wrong passphrase" if len(slots) == 1 else
                          f"wrong passphrase (it opens none of the {len(slots)} key slots)")


def unwrap_secret(table: dict[str, Any], passphrase: str) -> bytes:
    return unwrap_slot(table, passphrase)[0]


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
