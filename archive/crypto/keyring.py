"""The keyring: everything one unlock of the archive secret gives, made once and handed on.

Below the command line nothing holds the raw secret: a function that seals bundles, names units,
opens licence keys or documents at rest takes the `Keyring` and asks it for the one key it needs.
Each key is derived here, in one place, with the contexts of `keys.py`; the values are those the
earlier call sites derived, so every bundle, unit name and token made before still opens.

The keyring never shows a secret: its repr and str carry only the public key id, and it has no
`__dict__` for a debugger or a logging formatter to spill.
"""
from __future__ import annotations

from typing import Any

import blake3

from archive.crypto import keys

__all__ = ["Keyring"]


class Keyring:
    """The keys derived from one archive secret.

    `zip_password` seals and opens bundles; `box` encrypts the secret values of manifests;
    `config_box` the list of remotes kept on remotes; `documents` is the key under which each
    document at rest gets its own; `unit_name` names units on remotes; `fingerprint` tells an
    imported item or a harvested key seen before.
    """

    __slots__ = ("__secret", "_audit", "_fingerprints", "_unit_names", "box", "config_box", "documents",
                 "key_id", "zip_password")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != keys.SECRET_BYTES:
            raise ValueError("an archive secret is 20 bytes")
        self.__secret = secret
        self.key_id: str = keys.key_id(secret)
        # The recovery code as printed is the zip password (keys.py says why).
        self.zip_password: bytes = keys.recovery_code(secret).encode("ascii")
        self.box = keys.SecretBox(keys.derive(secret, keys.CONTEXT_MANIFEST_SECRETS))
        self.config_box = keys.SecretBox(keys.derive(secret, keys.CONTEXT_REMOTE_CONFIG))
        self.documents: bytes = keys.derive(secret, keys.CONTEXT_DOCUMENTS)
        self._unit_names = keys.derive(secret, keys.CONTEXT_UNIT_NAMES)
        self._audit = keys.derive(secret, keys.CONTEXT_AUDIT_LOG)
        self._fingerprints = {"import": keys.derive(secret, keys.CONTEXT_FINGERPRINT),
                              "harvest": keys.derive(secret, keys.CONTEXT_HARVEST_FINGERPRINT)}

    @classmethod
    def new(cls) -> Keyring:
        """A keyring for a fresh secret (a new archive)."""
        return cls(keys.new_secret())

    @classmethod
    def from_recovery_code(cls, code: str) -> Keyring:
        return cls(keys.parse_recovery_code(code))

    @classmethod
    def unwrap(cls, table: dict[str, Any], passphrase: str) -> Keyring:
        """Open a key.toml table with the passphrase (WrongPassphrase, or UsageError if damaged)."""
        return cls(keys.unwrap_secret(table, passphrase))

    @classmethod
    def unwrap_slot(cls, table: dict[str, Any], passphrase: str,
                    prefer: tuple[str, ...] = ()) -> tuple[Keyring, str]:
        """Open a key.toml table of one or more key slots (archive/crypto/slots.py): the keyring
        and the name of the slot the passphrase opened."""
        secret, name = keys.unwrap_slot(table, passphrase, prefer)
        return cls(secret), name

    @property
    def recovery_code(self) -> str:
        """The code printed on the recovery kit; only the kit and `init` may show it."""
        return keys.recovery_code(self.__secret)

    def wrap(self, passphrase: str) -> dict[str, Any]:
        """The key.toml table that opens this keyring with `passphrase`."""
        return keys.wrap_secret(self.__secret, passphrase)

    def unit_name(self, kind: str, ref: str) -> str:
        """The keyed BLAKE3 name of a unit on remotes (replicate/units.py builds the unit)."""
        return blake3.blake3(f"{kind}\0{ref}".encode(), key=self._unit_names).hexdigest()

    def audit_mac(self, entry_hash: str) -> str:
        """The keyed check of one audit log entry (archive/storage/audit_log.py)."""
        return blake3.blake3(entry_hash.encode("ascii"), key=self._audit).hexdigest()[:32]

    def fingerprint(self, data: bytes, of: str = "import") -> str:
        """A keyed digest of `data`: the same imported item (`of="import"`) or harvested key
        (`of="harvest"`) gives the same fingerprint, and nobody without the secret can tell."""
        return blake3.blake3(data, key=self._fingerprints[of]).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Keyring(key_id={self.key_id})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Keyring is not pickled: that would write the archive secret out")

    def __copy__(self) -> Keyring:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Keyring:
        return self
