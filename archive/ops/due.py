"""`arkeep due`: the licences' calendar. What expires, ends or renews soon, what already has, and
licences with more seats in use than were bought.

Reads the licence records only (no passphrase, no remote). The dates are the records' own
`expires` and `maintenance_end`; what an expiry means follows the record's kind: a subscription
renews, a trial ends, any other licence expires. Three optional values under a record's `[extra]`
table, set with `arkeep due --set LIC …`, refine the calendar:

- `remind_days`: this licence's reminder threshold in days (0: never remind), instead of the
  window asked for (`--within`, or `[calendar] within_days` in arkeep.toml, default 90);
- `seats_in_use`: how many of its `seats` are in use (the model records no installations);
- `trial`: true for a trial licence, whatever its kind.

An entry is *overdue* when its date has passed (an expired licence, a lapsed subscription, an
ended trial) or when more seats are in use than owned; `due` then exits 1. Maintenance that ended
is listed while it ended within the window, as information: a perpetual licence keeps working.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from archive.errors import UsageError
from archive.ops.licences import licence_entries
from archive.storage.store import Store
from manifests.errors import ManifestInvalid
from manifests.model import License

DEFAULT_WITHIN_DAYS = 90
REMIND_DAYS, SEATS_IN_USE, TRIAL = "remind_days", "seats_in_use", "trial"

# What an entry is about (the JSON `what`).
EXPIRES, RENEWS, TRIAL_ENDS, MAINTENANCE, SEATS = (
    "expires", "renews", "trial-ends", "maintenance-ends", "seats")
# When it is (the JSON `state`).
OVERDUE, SOON, ENDED = "overdue", "soon", "ended"


@dataclass(frozen=True)
class DueItem:
    license: str
    product: str | None
    what: str
    state: str
    on: date | None           # the date it falls on (None for seats)
    days: int | None          # days from today to `on`, negative when past
    message: str
    releases: tuple[str, ...] = ()

    @property
    def overdue(self) -> bool:
        return self.state == OVERDUE

    def data(self) -> dict[str, Any]:
        return {"license": self.license, "product": self.product, "what": self.what,
                "state": self.state, "date": self.on.isoformat() if self.on else None,
                "days": self.days, "message": self.message, "releases": list(self.releases)}


@dataclass(frozen=True)
class Seats:
    license: str
    product: str | None
    owned: int
    in_use: int | None

    def data(self) -> dict[str, Any]:
        return {"license": self.license, "product": self.product, "owned": self.owned,
                "in_use": self.in_use}


@dataclass
class Calendar:
    today: date
    within_days: int
    items: list[DueItem]
    seats: list[Seats]
    damaged: list[str]

    @property
    def overdue(self) -> list[DueItem]:
        return [i for i in self.items if i.overdue]

    def data(self) -> dict[str, Any]:
        return {"ok": not self.overdue, "today": self.today.isoformat(),
                "within_days": self.within_days, "overdue": len(self.overdue),
                "items": [i.data() for i in self.items], "seats": [s.data() for s in self.seats],
                "damaged": self.damaged}


def default_within(config: dict[str, Any]) -> int:
    value = config.get("calendar", {}).get("within_days", DEFAULT_WITHIN_DAYS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"[calendar] within_days in arkeep.toml must be a whole number of days, "
                         f"not {value!r}")
    return value


def _in_use(lic: License) -> int | None:
    """Seats in use: the seats assigned (ops/seats.py) when any are recorded, else the number
    set with `due --set --seats-in-use`."""
    from archive.ops.seats import seats_in_use
    assigned = seats_in_use(lic)
    return assigned if assigned is not None else _extra_int(lic, SEATS_IN_USE)


def _extra_int(lic: License, name: str) -> int | None:
    value = lic.extra.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None           # someone else's field of the same name; ignored
    return value


def _days(n: int) -> str:
    n = abs(n)
    return "1 day" if n == 1 else f"{n} days"


def _when(days: int) -> str:
    if days == 0:
        return "today"
    return f"in {_days(days)}" if days > 0 else f"{_days(days)} ago"


def licence_items(lic: License, releases: tuple[str, ...], today: date, within: int,
                  forced: bool = False) -> list[DueItem]:
    """The calendar entries of one licence record. `forced`: `within` was asked for explicitly
    and wins over the record's own reminder threshold."""
    remind = _extra_int(lic, REMIND_DAYS)
    window = within if forced or remind is None else remind
    if remind == 0 and not forced:
        return []
    name = f"{lic.product or 'licence'} ({lic.id})"
    out: list[DueItem] = []

    def add(what: str, state: str, on: date | None, days: int | None, message: str) -> None:
        out.append(DueItem(lic.id, lic.product, what, state, on, days, message, releases))

    if lic.expires is not None:
        days = (lic.expires - today).days
        trial = lic.extra.get(TRIAL) is True
        what = TRIAL_ENDS if trial else RENEWS if lic.kind == "subscription" else EXPIRES
        if days < 0:
            verb = {TRIAL_ENDS: "trial ended", RENEWS: "subscription lapsed",
                    EXPIRES: "expired"}[what]
            add(what, OVERDUE, lic.expires, days,
                f"{name}: {verb} on {lic.expires} ({_when(days)}); renew it, or "
                f"`arkeep due --set {lic.id} --remind-days 0` to stop reminders")
        elif days <= window:
            verb = {TRIAL_ENDS: "trial ends", RENEWS: "subscription renews or lapses",
                    EXPIRES: "expires"}[what]
            add(what, SOON, lic.expires, days, f"{name}: {verb} on {lic.expires} ({_when(days)})")
    if lic.maintenance_end is not None:
        days = (lic.maintenance_end - today).days
        if 0 <= days <= window:
            add(MAINTENANCE, SOON, lic.maintenance_end, days,
                f"{name}: maintenance ends on {lic.maintenance_end} ({_when(days)}); updates "
                "released after it need a new licence")
        elif -window <= days < 0:
            add(MAINTENANCE, ENDED, lic.maintenance_end, days,
                f"{name}: maintenance ended on {lic.maintenance_end} ({_when(days)})")
    in_use = _in_use(lic)
    if lic.seats is not None and in_use is not None and in_use > lic.seats:
        add(SEATS, OVERDUE, None, None,
            f"{name}: {in_use} seats in use, {lic.seats} owned; buy {in_use - lic.seats} more "
            "or free some")
    return out


def _records(store: Store, damaged: list[ManifestInvalid]) -> Iterator[tuple[License, tuple[str, ...]]]:
    for path in store.catalog.license_files():
        try:
            yield store.catalog.read_license_file(path), ()
        except ManifestInvalid as exc:
            damaged.append(exc)


def calendar(store: Store, today: date, within: int | None = None,
             name_releases: bool = True) -> Calendar:
    """Every licence record's entries, overdue first, then soonest; records that cannot be read
    are named. `name_releases` False skips reading the release manifests (for `status`, which
    names releases itself)."""
    forced = within is not None
    window = within if within is not None else default_within(store.config)
    damaged: list[ManifestInvalid] = []
    items: list[DueItem] = []
    seats: list[Seats] = []
    records = ((e.license, tuple(r.id for r in e.releases))
               for e in licence_entries(store, damaged)) if name_releases \
        else _records(store, damaged)
    for lic, releases in records:
        items += licence_items(lic, releases, today, window, forced)
        if lic.seats is not None:
            seats.append(Seats(lic.id, lic.product, lic.seats, _in_use(lic)))
    items.sort(key=lambda i: (not i.overdue, i.days if i.days is not None else -10**6, i.license))
    return Calendar(today, window, items, seats, [str(d) for d in damaged])


def set_reminders(store: Store, lid: str, remind_days: int | None = None,
                  seats_in_use: int | None = None, trial: bool | None = None) -> License:
    """Write the calendar's own values into a licence record's [extra] (a new revision)."""
    for label, value in (("--remind-days", remind_days), ("--seats-in-use", seats_in_use)):
        if value is not None and value < 0:
            raise UsageError(f"{label} must be 0 or more")
    with store.writing("arkeep due --set"):
        lic = store.catalog.load_license(lid)
        extra = dict(lic.extra)
        for name, value in ((REMIND_DAYS, remind_days), (SEATS_IN_USE, seats_in_use),
                            (TRIAL, trial)):
            if value is not None:
                extra[name] = value
        if extra == lic.extra:
            return lic
        updated = dataclasses.replace(lic, extra=extra)
        store.catalog.write_license(updated)
        return updated
