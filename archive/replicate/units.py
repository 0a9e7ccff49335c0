"""What is replicated, and under which names: units.

Every object and every manifest becomes one sealed unit on a remote, named by a keyed BLAKE3
digest so that a remote reveals neither product names nor plain digests. Manifest units keep one
name per manifest id (an edited manifest replaces its unit); object units are content-addressed.
The wrapped key travels as `key.toml`, so the passphrase and any one replica rebuild the store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from backends.base import Backend

KEY_UNIT = "key.toml"
UNITS_PREFIX = "units/"
KIND_OBJECT, KIND_RELEASE, KIND_LICENSE = "object", "release", "license"
MANIFEST_KINDS = (KIND_RELEASE, KIND_LICENSE)


@dataclass(frozen=True)
class UnitRef:
    """One unit: its kind, what it holds (object digest or manifest id), and its name on remotes."""

    kind: str
    ref: str
    name: str

    @property
    def key(self) -> str:
        return f"{UNITS_PREFIX}{self.name[:2]}/{self.name}.zip"

    @property
    def entry_name(self) -> str:
        """The single entry inside the bundle: what 7-Zip extracts it as."""
        return f"{self.name}.toml" if self.kind in MANIFEST_KINDS else self.name


class UnitNamer:
    """Names units with the keyring's unit-name key."""

    def __init__(self, keyring: Keyring) -> None:
        self._name = keyring.unit_name

    def object(self, digest: str) -> UnitRef:
        return UnitRef(KIND_OBJECT, digest, self._name(KIND_OBJECT, digest))

    def release(self, rid: str) -> UnitRef:
        return UnitRef(KIND_RELEASE, rid, self._name(KIND_RELEASE, rid))

    def license(self, lid: str) -> UnitRef:
        return UnitRef(KIND_LICENSE, lid, self._name(KIND_LICENSE, lid))


def unit_name_of_key(key: str) -> str | None:
    """The unit name in a remote key `units/ab/<name>.zip`, or None for anything else."""
    if not key.startswith(UNITS_PREFIX) or not key.endswith(".zip"):
        return None
    name = key.rsplit("/", 1)[-1][:-4]
    if len(name) == 64 and all(c in "0123456789abcdef" for c in name) and key == f"{UNITS_PREFIX}{name[:2]}/{name}.zip":
        return name
    return None


# What unit_name_of_key accepts, as one regular expression (the same rule, checked in C
# rather than character by character; with 20,000 units that was a tenth of a no-op sync):
# units/ab/<ab + 62 hex>.zip
_UNIT_KEY = re.compile(r"units/([0-9a-f]{2})/(\1[0-9a-f]{62})\.zip")


def listing(backend: Backend) -> dict[str, int]:
    """Unit name -> size, from one recursive listing."""
    found: dict[str, int] = {}
    match = _UNIT_KEY.fullmatch
    for info in backend.list("units/"):
        m = match(info.key)
        if m is not None:
            found[m.group(2)] = info.size
    return found
