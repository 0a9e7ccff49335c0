"""`arkeep key add / list / remove / passwd`: key slots of the store, carried to every replica.

Each change is written to the store's key.toml, then at once to every reachable remote that
holds this archive's key file; the others get it at their next `arkeep sync`. Until then they
keep the key file as it was, so a removed passphrase still opens *their* copy (the command says
which, and `arkeep status` keeps naming them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from archive.crypto import keys, slots
from archive.storage import audit_log
from archive.storage.store import Store

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring


@dataclass
class SlotChange:
    """What a key slot change did: the slot, and the remotes that got the new key file or not."""

    slot: str
    updated: list[str] = field(default_factory=list)
    not_updated: dict[str, str] = field(default_factory=dict)     # remote -> why


@dataclass(frozen=True)
class SlotRow:
    name: str
    created: datetime | None
    last_used: datetime | None       # the last change or reveal it made, by the audit log
    kdf: str
    current: bool                    # the slot this command was opened with

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "last_used": self.last_used,
                "kdf": self.kdf, "current": self.current}


def slots_last_used(store: Store) -> dict[str, datetime]:
    """When each key slot last unlocked a command the audit log records (a change or a reveal;
    archive/storage/audit_log.py), as this store's log says."""
    used: dict[str, datetime] = {}
    for entry in audit_log.entries(store):
        if entry.slot:
            try:
                used[entry.slot] = datetime.fromisoformat(entry.at)
            except ValueError:
                continue
    return used


def list_slots(store: Store) -> list[SlotRow]:
    used = slots_last_used(store)
    return [SlotRow(s.name, s.created, used.get(s.name), s.kdf, s.name == store.unlocked_slot)
            for s in slots.slot_infos(store.wrapped_key())]


def slot_names(store: Store) -> list[str]:
    return list(keys.slot_tables(store.wrapped_key()))


def add_slot(store: Store, keyring: Keyring, name: str, passphrase: str) -> SlotChange:
    """Call with the store lock held and `keyring` from store.unlock."""
    store.save_wrapped_key(slots.add_slot(store.wrapped_key(), keyring, name, passphrase))
    return _pushed(store, name)


def change_passphrase(store: Store, keyring: Keyring, name: str, passphrase: str) -> SlotChange:
    store.save_wrapped_key(slots.rewrap_slot(store.wrapped_key(), keyring, name, passphrase))
    return _pushed(store, name)


def remove_slot(store: Store, name: str) -> SlotChange:
    store.save_wrapped_key(slots.remove_slot(store.wrapped_key(), name))
    return _pushed(store, name)


def _pushed(store: Store, name: str) -> SlotChange:
    change = SlotChange(name)
    change.updated, change.not_updated = push_key_file(store)
    return change


def push_key_file(store: Store) -> tuple[list[str], dict[str, str]]:
    """Put the store's key file on every reachable remote that holds this archive's."""
    from archive.errors import ArkeepError
    from archive.replicate.remotes import ledger_of, load_remotes, open_remote
    from archive.replicate.replica_key import push_after_passwd, store_wrapping
    from backends.errors import BackendError

    updated: list[str] = []
    missed: dict[str, str] = {}
    wrapping = store_wrapping(store)
    with ledger_of(store) as ledger:
        for spec in load_remotes(store).values():
            try:
                why = push_after_passwd(open_remote(spec, last_seen=ledger.last_seen(spec.name)), store)
            except (BackendError, ArkeepError) as exc:
                why = f"not reachable ({exc})"
            if why is None:
                updated.append(spec.name)
                if wrapping:
                    ledger.key_file_seen(spec.name, wrapping)
            else:
                missed[spec.name] = why
    return updated, missed
