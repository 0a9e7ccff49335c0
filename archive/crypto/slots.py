"""Key slots: the one archive secret wrapped once per person, each under their own passphrase.

A key file (key.toml) holds one or more key slots. Each slot is an independent wrapping of the
same 20-byte archive secret (scrypt + AES-256-GCM, archive/crypto/keys.py), so any one slot's
passphrase opens the whole archive, and removing a slot stops only that passphrase from opening
*this* key file. It does not change the secret: whoever opened the archive once could have kept
the recovery code or a copy of the old key file (docs/THREATS.md says what that means).

A key file of one slot is written in schema 1, the form every arkeep has read, with the slot's
name in `slot` when it is not `owner`; several slots make schema 2 (`[slots.NAME]` tables), so an
older arkeep refuses the file with a clear message instead of opening it with the first slot
only. Removing slots down to one writes schema 1 again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from archive.crypto import keys
from archive.errors import UsageError, WrongPassphrase

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

_NAME = re.compile(r"[^\W_][\w.-]{0,39}")
# Top-level fields that belong to the key file as a whole and survive every change of slots.
_FILE_FIELDS = ("schema", "kind", "key_id", "created", "slot", "slots", "kdf", "cipher")


@dataclass(frozen=True)
class SlotInfo:
    """What `key list` shows of a slot: never anything that helps open it."""

    name: str
    created: datetime | None
    kdf: str


def check_name(name: str) -> str:
    """A slot name: a person's name or handle, 1-40 letters, digits, '.', '_' or '-'."""
    if not _NAME.fullmatch(name or ""):
        raise UsageError(f"{name!r} is not a key slot name: use 1-40 letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit (e.g. alice, bob.smith)")
    return name


def slot_infos(table: dict[str, Any]) -> list[SlotInfo]:
    out = []
    for name, slot in keys.slot_tables(table).items():
        created = slot.get("created")
        kdf = slot.get("kdf") or {}
        out.append(SlotInfo(name, created if isinstance(created, datetime) else None,
                            f"{kdf.get('name')} n={kdf.get('n')} r={kdf.get('r')} p={kdf.get('p')}"))
    return sorted(out, key=lambda s: (s.created is None, s.created or datetime.min, s.name))


def _with_slots(table: dict[str, Any], slots: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The key file `table` with its slots replaced by `slots`, in the smallest schema that
    holds them; every other field (the sealed remote list) kept."""
    rest = {k: v for k, v in table.items() if k not in _FILE_FIELDS}
    head = {"kind": "wrapped-key", "key_id": table["key_id"], "created": table.get("created")}
    if head["created"] is None:
        del head["created"]
    if len(slots) == 1:
        (name, slot), = slots.items()
        one = {"schema": 1, **head, "kdf": slot["kdf"], "cipher": slot["cipher"]}
        if name != keys.FIRST_SLOT:
            one["slot"] = name
        return {**one, **rest}
    return {"schema": keys.SLOTS_SCHEMA, **head, **rest, "slots": slots}


def _new_slot(keyring: Keyring, passphrase: str) -> dict[str, Any]:
    """One more wrapping of the keyring's secret, made by the keyring (which alone holds it)."""
    if not passphrase:
        raise UsageError("the new passphrase is empty; nothing was changed")
    wrapped = keyring.wrap(passphrase)
    return {"created": wrapped["created"], "kdf": wrapped["kdf"], "cipher": wrapped["cipher"]}


def _check_keyring(table: dict[str, Any], keyring: Keyring) -> None:
    if keyring.key_id != table.get("key_id"):
        raise UsageError("that keyring is not this key file's archive secret; nothing was changed")


def _refuse_shared(table: dict[str, Any], passphrase: str, besides: str) -> None:
    """Each person their own passphrase: one that opens another slot is refused (the audit
    trail names the slot that opened the store, which must say who it was)."""
    others = {n: s for n, s in keys.slot_tables(table).items() if n != besides}
    if not others:
        return
    try:
        _, name = keys.unwrap_slot(_with_slots(table, others), passphrase)
    except WrongPassphrase:
        return
    raise UsageError(f"that passphrase already opens key slot {name!r}; each key slot needs its "
                     "own passphrase. Nothing was changed")


def add_slot(table: dict[str, Any], keyring: Keyring, name: str, passphrase: str) -> dict[str, Any]:
    """A new key file with one more slot: the secret wrapped under `passphrase` as `name`."""
    _check_keyring(table, keyring)
    slots = keys.slot_tables(table)
    if check_name(name) in slots:
        raise UsageError(f"there is already a key slot named {name!r}; `arkeep key passwd {name}` "
                         "changes its passphrase")
    _refuse_shared(table, passphrase, name)
    return _with_slots(table, {**slots, name: _new_slot(keyring, passphrase)})


def rewrap_slot(table: dict[str, Any], keyring: Keyring, name: str, passphrase: str) -> dict[str, Any]:
    """A new key file where slot `name` opens with `passphrase` (and no longer with its old one)."""
    _check_keyring(table, keyring)
    slots = keys.slot_tables(table)
    if name not in slots:
        raise UsageError(f"no key slot named {name!r}; `arkeep key list` shows them")
    _refuse_shared(table, passphrase, name)
    fresh = _new_slot(keyring, passphrase)
    if slots[name].get("created") is not None:
        fresh["created"] = slots[name]["created"]
    return _with_slots(table, {**slots, name: fresh})


def remove_slot(table: dict[str, Any], name: str) -> dict[str, Any]:
    """A new key file without slot `name`; the last slot cannot be removed."""
    slots = keys.slot_tables(table)
    if name not in slots:
        raise UsageError(f"no key slot named {name!r}; `arkeep key list` shows them")
    if len(slots) == 1:
        raise UsageError(f"{name!r} is the only key slot: without it nobody could open the store "
                         "with a passphrase; add another (`arkeep key add`) first")
    return _with_slots(table, {n: s for n, s in slots.items() if n != name})
