"""Seats: who holds a licence's seats, on which machine, and what a departing person must give back.

Kept in the licence record, under `[extra]` as `[[extra.assignments]]` tables (docs/FORMAT.md,
"Seats and assignments"): `person`, optional `machine` and `key_index` (which of the record's
keys, 0 for `key`, 1.. for `extra_keys`), `release` (the release it was assigned through),
`since` (a date), `until` (a date, once unassigned), `activated` (the date of the last
activation on that machine, or absent) and `events` (a list of "DATE activated|deactivated|
assigned|unassigned"). A record without them, and an arkeep that does not know them, read the
record as before: [extra] is free for such fields. Names, machines and dates only: never a key.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from archive.errors import UsageError
from archive.storage.store import Store
from manifests.model import License, Release

ASSIGNMENTS = "assignments"
MAX_NAME = 100


@dataclass(frozen=True)
class Seat:
    license_id: str
    product: str
    release: str | None
    person: str
    machine: str | None
    key_index: int | None
    since: str | None
    until: str | None
    activated: str | None       # date of the last activation still in force

    @property
    def active(self) -> bool:
        return self.until is None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
        raise UsageError(f"{what}: 1 to {MAX_NAME} printable characters")
    return value


def assignments(lic: License) -> list[dict[str, Any]]:
    found = lic.extra.get(ASSIGNMENTS)
    if not isinstance(found, list):
        return []
    return [dict(a) for a in found if isinstance(a, dict) and isinstance(a.get("person"), str)]


def seats_of(lic: License) -> list[Seat]:
    out = []
    for a in assignments(lic):
        key_index = a.get("key_index")
        out.append(Seat(lic.id, lic.product or lic.id, a.get("release"), a["person"],
                        a.get("machine"), key_index if isinstance(key_index, int) else None,
                        _date_text(a.get("since")), _date_text(a.get("until")),
                        _date_text(a.get("activated"))))
    return out


def _date_text(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else (value if isinstance(value, str) else None)


def seats_in_use(lic: License) -> int | None:
    """Active assignments, or None for a record that has none recorded."""
    found = assignments(lic)
    return sum(1 for a in found if a.get("until") is None) if found else None


def _licence_of(store: Store, release: Release, license_id: str | None) -> License:
    if license_id is not None:
        if license_id not in release.licenses:
            raise UsageError(f"{release.id} is not linked to licence {license_id}; its licences: "
                             f"{', '.join(release.licenses) or 'none'}")
        return store.catalog.load_license(license_id)
    if not release.licenses:
        raise UsageError(f"{release.id} has no licence record: seats belong to a licence "
                         "(`arkeep add … --key-file F` records one)")
    if len(release.licenses) > 1:
        raise UsageError(f"{release.id} has {len(release.licenses)} licences "
                         f"({', '.join(release.licenses)}): say which with --license ID")
    return store.catalog.load_license(release.licenses[0])


def _matching(found: list[dict[str, Any]], person: str, machine: str | None) -> list[dict[str, Any]]:
    return [a for a in found if a.get("until") is None and a["person"].casefold() == person.casefold()
            and (machine is None or (a.get("machine") or "").casefold() == machine.casefold())]


def _save(store: Store, lic: License, found: list[dict[str, Any]]) -> None:
    store.catalog.write_license(dataclasses.replace(lic, extra={**lic.extra, ASSIGNMENTS: found}))


def assign(store: Store, ref: str, person: str, machine: str | None = None,
           key_index: int | None = None, license_id: str | None = None,
           activated: bool | None = None, on: date | None = None) -> Seat:
    """Assign a seat of the release's licence to `person` (on `machine`), or record an
    activation (`activated` True) or deactivation (False) of a seat already assigned."""
    person = _text(person, "--to") or ""
    machine = _text(machine, "--machine")
    on = on or date.today()
    with store.writing("arkeep assign"):
        release = store.catalog.resolve(ref)
        lic = _licence_of(store, release, license_id)
        if key_index is not None:
            keys = 1 + len(lic.extra_keys) if lic.key is not None else len(lic.extra_keys)
            if not 0 <= key_index < max(keys, 1):
                raise UsageError(f"--key-index {key_index}: licence {lic.id} holds {keys} key(s) "
                                 "(0 is its key, 1… its extra keys)")
        found = assignments(lic)
        current = _matching(found, person, machine)
        if current and activated is None:
            raise UsageError(f"{person} already holds a seat of {lic.id}"
                             + (f" on {machine}" if machine else "")
                             + "; --activated or --deactivated records an event")
        if not current:
            owned = lic.seats
            active = sum(1 for a in found if a.get("until") is None)
            entry: dict[str, Any] = {"person": person, "release": release.id, "since": on,
                                     "events": [f"{on.isoformat()} assigned"]}
            if machine:
                entry["machine"] = machine
            if key_index is not None:
                entry["key_index"] = key_index
            found.append(entry)
            current = [entry]
            if owned is not None and active + 1 > owned:
                entry["events"].append(f"{on.isoformat()} over the {owned} seat(s) owned")
        seat = current[0]
        if activated is not None:
            seat.setdefault("events", []).append(
                f"{on.isoformat()} {'activated' if activated else 'deactivated'}")
            if activated:
                seat["activated"] = on
            else:
                seat.pop("activated", None)
        _save(store, lic, found)
        return next(s for s in seats_of(store.catalog.load_license(lic.id))
                    if s.person == seat["person"] and s.machine == seat.get("machine") and s.active)


def unassign(store: Store, ref: str, person: str, machine: str | None = None,
             license_id: str | None = None, on: date | None = None) -> list[Seat]:
    """End `person`'s seats of the release's licence (on `machine`, else all of theirs)."""
    on = on or date.today()
    with store.writing("arkeep unassign"):
        release = store.catalog.resolve(ref)
        lic = _licence_of(store, release, license_id)
        found = assignments(lic)
        ending = _matching(found, person, machine)
        if not ending:
            raise UsageError(f"{person} holds no seat of {lic.id}"
                             + (f" on {machine}" if machine else "") + "; `arkeep handover "
                             f"{person}` lists what they hold")
        for a in ending:
            a["until"] = on
            a.setdefault("events", []).append(f"{on.isoformat()} unassigned")
        _save(store, lic, found)
    ended = {(a["person"], a.get("machine")) for a in ending}
    return [s for s in seats_of(store.catalog.load_license(lic.id))
            if (s.person, s.machine) in ended and s.until == on.isoformat()]


@dataclass(frozen=True)
class Handover:
    person: str
    seats: list[Seat]

    @property
    def to_deactivate(self) -> list[Seat]:
        return [s for s in self.seats if s.activated]


def handover(store: Store, person: str) -> Handover:
    """Every seat `person` holds now, across all licence records; those activated on a machine
    must be deactivated (or the machine handed on) before the seat is reassigned."""
    want = person.strip().casefold()
    held = []
    for path in store.catalog.license_files():
        lic = store.catalog.read_license_file(path)
        held += [s for s in seats_of(lic) if s.active and s.person.casefold() == want]
    return Handover(person, sorted(held, key=lambda s: (s.product.casefold(), s.machine or "")))
