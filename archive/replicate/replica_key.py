"""A replica's `key.toml`: what it is, and bringing it in line with the store's.

Every replica carries the store's key file byte for byte, so that the passphrase and that one
replica rebuild the store. What a replica holds there is one of:

- `current`: the same bytes as the store's;
- `older-list`: the same wrapping (opens with the same passphrase) with an older copy of the
  sealed remote list (archive/replicate/remote_config.py): not a problem, brought up to date by sync;
- `stale`: this archive's key (same `key_id`) but other bytes: an older passphrase's wrapping
  (it does not open with the current passphrase), or an older copy of the sealed remote
  configuration;
- `missing`: no key file;
- `damaged`: not a readable wrapped key (not TOML, no `key_id`, fields missing or malformed);
- `foreign`: a readable wrapped key of another archive (another `key_id`).

`sync` and `repair` write the store's key file over a stale, damaged or missing one; a foreign one
is never overwritten (the location belongs to another archive). A missing key file where the
ledger says the remote held units, and no unit in sight, is an unmounted share or an empty mount
point: nothing is written there.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from archive.crypto import keys
from archive.errors import EnvironmentFailure, IntegrityError, UsageError, WrongPassphrase
from archive.replicate.units import KEY_UNIT
from archive.storage.hashing import hash_bytes
from archive.storage.store import Store
from backends.base import Backend
from backends.errors import NotFound

MAX_KEY_FILE = 64 * 1024
CURRENT, STALE, MISSING, DAMAGED, FOREIGN = "current", "stale", "missing", "damaged", "foreign"
OLDER_LIST = "older-list"


@dataclass(frozen=True)
class ReplicaKey:
    """What a remote's key file is (one of the states above), and why, in words for the user."""

    state: str
    key_id: str | None = None
    why: str = ""
    digest: str | None = None        # BLAKE3 of the bytes found, when there were any
    wrapping: str | None = None      # keys.wrapping_id of a readable wrapped key

    def problem(self) -> str | None:
        """A finding for `verify --remote`, or None when the key file is the store's."""
        if self.state in (CURRENT, OLDER_LIST):
            return None
        return {
            STALE: f"{KEY_UNIT} is out of date ({self.why}); `arkeep sync` or `arkeep repair` "
                   "writes the current one",
            MISSING: f"{KEY_UNIT} is missing: the passphrase alone cannot rebuild from this "
                     "replica; `arkeep repair` writes it",
            DAMAGED: f"{KEY_UNIT} is damaged ({self.why}); `arkeep repair` writes it again",
            FOREIGN: f"{KEY_UNIT} belongs to another archive (key id {self.key_id}); this "
                     "location is not a replica of this store",
        }[self.state]


def read_replica_key(backend: Backend, store: Store, passphrase: str | None = None) -> ReplicaKey:
    """Classify the remote's key file; with `passphrase`, one that differs from the store's must
    also open with it (the passphrase a rebuild from this replica will be given)."""
    try:
        with backend.open_read(KEY_UNIT) as f:
            theirs = f.read(MAX_KEY_FILE + 1)
    except NotFound:
        return ReplicaKey(MISSING)
    digest = hash_bytes(theirs)
    ours = store.key_path.read_bytes()
    our_id = store.config.get("key_id")
    table = _parse(theirs)
    if isinstance(table, str):
        return ReplicaKey(DAMAGED, None, table, digest)
    their_id, wrapping = table["key_id"], keys.wrapping_id(table)
    if theirs == ours:
        return ReplicaKey(CURRENT, our_id, digest=digest, wrapping=wrapping)
    if their_id != our_id:
        return ReplicaKey(FOREIGN, their_id, digest=digest)
    if wrapping and wrapping == store_wrapping(store):
        return ReplicaKey(OLDER_LIST, their_id, "an older copy of the sealed remote list", digest,
                          wrapping)
    if passphrase is not None:
        try:
            keys.unwrap_secret(table, passphrase)
        except WrongPassphrase:
            return ReplicaKey(STALE, their_id, "it does not open with the current passphrase: "
                              "an older passphrase, or damage", digest, wrapping)
        except UsageError as exc:
            return ReplicaKey(DAMAGED, their_id, str(exc).split("; ")[0], digest)
        return ReplicaKey(STALE, their_id, "it opens, but is not the store's copy", digest, wrapping)
    return ReplicaKey(STALE, their_id, "another wrapping of this archive's key", digest, wrapping)


def _parse(raw: bytes) -> dict[str, Any] | str:
    """The wrapped-key table, or why it is not one."""
    if len(raw) > MAX_KEY_FILE:
        return f"larger than {MAX_KEY_FILE // 1024} KiB"
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "not readable TOML"
    if table.get("kind") != "wrapped-key" or not isinstance(table.get("key_id"), str):
        return "no key id" if "key_id" not in table else "not an arkeep wrapped key"
    try:
        slots = keys.slot_tables(table)
    except UsageError as exc:
        return str(exc).split(" (")[0].split("; ")[0]
    if not all(isinstance(s.get("kdf"), dict) and isinstance(s.get("cipher"), dict)
               for s in slots.values()):
        return "no key derivation or cipher"
    return table


def store_wrapping(store: Store) -> str | None:
    """The wrapping of the store's own key file (what every replica should hold)."""
    return keys.wrapping_id(store.wrapped_key())


def write_key_file(backend: Backend, store: Store) -> None:
    """Put the store's key file on the remote (committed atomically)."""
    data = store.key_path.read_bytes()
    with backend.open_write(KEY_UNIT) as f:
        f.write(data)


def bring_key_file_up_to_date(backend: Backend, store: Store, held_units: int, had_key_file: bool,
                              units_in_sight: bool) -> tuple[ReplicaKey, bool]:
    """Sync's first step on a remote: write the store's key file unless it is there already.

    Refuses a foreign key file (never overwritten), and a missing one on a remote the ledger says
    held `held_units` units or this archive's key file (`had_key_file`) when no unit is in sight
    (`units_in_sight` false): that is an unmounted share or an empty mount point, not a replica
    to fill again. Returns what was found and whether the key file was written.
    """
    found = read_replica_key(backend, store)
    if found.state == CURRENT:
        return found, False
    if found.state == FOREIGN:
        raise IntegrityError(f"remote '{backend.name}' holds another archive (key id {found.key_id}); "
                             "use an empty location for this store")
    if found.state == MISSING and (held_units or had_key_file) and not units_in_sight:
        held = f"held {held_units} unit(s)" if held_units else f"held this archive's {KEY_UNIT}"
        raise EnvironmentFailure(
            f"remote '{backend.name}' {held} but has no {KEY_UNIT} and no units now: is it "
            f"mounted? Nothing was written to {backend.url}; mount it and sync again (emptied on "
            f"purpose or gone for good: `arkeep remote remove {backend.name}`, then add it again)")
    write_key_file(backend, store)
    return found, True


def push_after_passwd(backend: Backend, store: Store) -> str | None:
    """After `key passwd`: put the new key file on a remote that holds this archive's; None when
    it is there now, else why not (the remote's errors, e.g. not connected, are raised)."""
    backend.check()
    found = read_replica_key(backend, store)
    if found.state == CURRENT:
        return None
    if found.state in (STALE, DAMAGED, OLDER_LIST):
        write_key_file(backend, store)
        return None
    if found.state == FOREIGN:
        return f"it holds another archive's {KEY_UNIT} (key id {found.key_id})"
    return f"it has no {KEY_UNIT} yet (never synced, or not mounted); `arkeep sync {backend.name}` writes it"
