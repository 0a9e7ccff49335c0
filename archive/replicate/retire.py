"""The part of sync that makes a remote follow `remove` and `prune`: delete the units of what
left the store.

A unit is deleted only when all of these hold: the ledger's `retired` table names its
manifest or object, the store no longer has it (a release added again under the same id, or
an object ingested again, keeps its units), no unit this sync wants has its name, and the
remote's listing shows it. Manifests go before objects, so a remote never holds a manifest
whose objects were deleted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from archive.replicate.ledger import Ledger
from archive.replicate.plan import UnitPlan
from archive.replicate.units import KIND_LICENSE, KIND_OBJECT, KIND_RELEASE, UnitNamer, UnitRef
from archive.storage.store import Store
from backends.base import Backend

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring

_ORDER = {KIND_RELEASE: 0, KIND_LICENSE: 1, KIND_OBJECT: 2}


def retired_units(store: Store, keyring: Keyring, plan: UnitPlan, ledger: Ledger) -> list[UnitRef]:
    """The units of retired manifests and objects that no remote should keep, manifests first."""
    namer = UnitNamer(keyring)
    still_here = {KIND_RELEASE: store.catalog.has_release, KIND_LICENSE: store.catalog.has_license,
                  KIND_OBJECT: store.has_object}
    make = {KIND_RELEASE: namer.release, KIND_LICENSE: namer.license, KIND_OBJECT: namer.object}
    wanted = {w.unit.name for w in plan.units}
    units = [make[kind](ref) for kind, ref in ledger.retired()
             if kind in make and not still_here[kind](ref)]
    return sorted((u for u in units if u.name not in wanted), key=lambda u: _ORDER[u.kind])


def delete_retired(backend: Backend, units: list[UnitRef], present: dict[str, int],
                   ledger: Ledger) -> int:
    """Delete from one remote the retired units its listing shows; forget every retired unit's
    ledger row for it. Returns how many were deleted."""
    deleted = 0
    for unit in units:
        if unit.name in present:
            backend.delete(unit.key)
            del present[unit.name]
            deleted += 1
        ledger.forget_copy(backend.name, unit.name)
    return deleted
