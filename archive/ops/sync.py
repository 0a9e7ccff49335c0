"""`arkeep sync`: push to each remote the units it lacks; one listing per remote.

Order on every remote: the wrapped key, then objects, then licence records, then releases, so
a remote never holds a manifest whose objects are missing. A unit is recorded as present only
after the backend has committed it (rename, completed upload); a killed sync is resumed by
running it again, since the next listing shows exactly what made it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from backends.base import Backend
from backends.errors import BackendError, NotConnected

from ..errors import IntegrityError
from ..ledger import BAD, HOW_LISTED, HOW_READ, HOW_WRITTEN, MISSING, PRESENT, Ledger
from ..plan import UnitPlan, WantedUnit
from ..sealing import seal_bytes, seal_unit, unseal_unit
from ..store import Store
from ..units import KEY_UNIT, KIND_OBJECT, unit_name_of_key

ProgressFor = Callable[[str, int], Callable[[int], None] | None]

# Leftovers of a killed write (a temp file on a directory or drive remote, an unfinished S3
# upload) are removed at the start of every sync. A local writer locks its temp file, so a
# write in progress is never touched there; unfinished uploads carry no such mark, so only
# those started longer ago than this are aborted, sparing another machine's upload in progress.
STALE_TEMP_AFTER = 24 * 3600


@dataclass
class RemoteSyncResult:
    remote: str
    status: str = "synced"            # synced | up-to-date | skipped | failed
    message: str = ""
    pushed: int = 0
    pushed_bytes: int = 0
    present: int = 0
    last_seen: datetime | None = None
    errors: list[str] = field(default_factory=list)
    pushed_units: list[WantedUnit] = field(default_factory=list)


def check_key_unit(backend: Backend, store: Store) -> bool:
    """True if the remote's key.toml is ours and current; raise if it belongs to another archive."""
    ours = store.key_path.read_bytes()
    if not backend.exists(KEY_UNIT):
        return False
    with backend.open_read(KEY_UNIT) as f:
        theirs = f.read(64 * 1024)
    if theirs == ours:
        return True
    import tomllib
    try:
        their_id = tomllib.loads(theirs.decode("utf-8")).get("key_id")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        their_id = None
    if their_id != store.config.get("key_id"):
        raise IntegrityError(f"remote '{backend.name}' holds another archive (key id {their_id}); "
                             "use an empty location for this store")
    return False


def listing(backend: Backend) -> dict[str, int]:
    """Unit name -> size, from one recursive listing."""
    found: dict[str, int] = {}
    for info in backend.list("units/"):
        name = unit_name_of_key(info.key)
        if name is not None:
            found[name] = info.size
    return found


def sync_remote(store: Store, secret: bytes, backend: Backend, plan: UnitPlan, ledger: Ledger,
                progress_for: ProgressFor | None = None) -> RemoteSyncResult:
    result = RemoteSyncResult(backend.name)
    try:
        backend.check()
    except NotConnected:
        result.status, result.last_seen = "skipped", ledger.last_seen(backend.name)
        seen = f"last seen {result.last_seen:%Y-%m-%d %H:%M} UTC" if result.last_seen else "never seen"
        result.message = f"not connected, {seen}"
        return result
    ledger.seen(backend.name)
    try:
        backend.cleanup_temp(older_than=STALE_TEMP_AFTER)
    except BackendError:
        pass  # housekeeping only: if the remote cannot be written, the writes below say so
    if not check_key_unit(backend, store):
        with backend.open_write(KEY_UNIT) as f:
            f.write(store.key_path.read_bytes())
        result.pushed += 1
    present = listing(backend)
    known = ledger.by_unit(backend.name)
    todo = _reconcile(backend, secret, plan, present, known, ledger)
    result.present = len(plan.units) - len(todo)
    total = sum(w.size for w in todo)
    progress = progress_for(f"sync {backend.name}", total) if progress_for and total else None
    for wanted in todo:
        _push(backend, secret, wanted, ledger, progress)
        result.pushed += 1
        result.pushed_bytes += wanted.size
        result.pushed_units.append(wanted)
    ledger.seen(backend.name, synced=True)
    if result.pushed == 0:
        result.status = "up-to-date"
    return result


def _reconcile(backend: Backend, secret: bytes, plan: UnitPlan, present: dict[str, int],
               known: dict, ledger: Ledger) -> list[WantedUnit]:
    """Bring the ledger in line with the listing; return the units to push, in push order."""
    todo: list[WantedUnit] = []
    with ledger.transaction():
        for name, copy in known.items():
            if name not in present and copy.state == PRESENT:
                ledger.mark(backend.name, name, MISSING)
    for wanted in plan.units:
        name = wanted.unit.name
        copy = known.get(name)
        if name not in present:
            todo.append(wanted)
            continue
        if copy is not None and copy.state == BAD:
            todo.append(wanted)
            continue
        if copy is not None and copy.size is not None and copy.size != present[name]:
            ledger.mark(backend.name, name, BAD)
            todo.append(wanted)
            continue
        if wanted.unit.kind == KIND_OBJECT:
            if copy is None or copy.state != PRESENT:
                ledger.record(backend.name, name, wanted.unit.kind, wanted.unit.ref, PRESENT,
                              present[name], wanted.source_digest, HOW_LISTED)
            continue
        if copy is not None and copy.state == PRESENT and copy.source_digest == wanted.source_digest:
            continue
        if _manifest_is_current(backend, secret, wanted):
            ledger.record(backend.name, name, wanted.unit.kind, wanted.unit.ref, PRESENT,
                          present[name], wanted.source_digest, HOW_READ)
        else:
            todo.append(wanted)
    return todo


def _manifest_is_current(backend: Backend, secret: bytes, wanted: WantedUnit) -> bool:
    """A manifest unit whose ledger entry is unknown or stale: read it and compare."""
    try:
        with backend.open_read(wanted.unit.key) as f:
            unseal_unit(f, wanted.unit, secret, None, wanted.expected_digest, backend.name,
                        max_size=4 * 1024 * 1024)
        return True
    except (IntegrityError, BackendError):
        return False


def _push(backend: Backend, secret: bytes, wanted: WantedUnit, ledger: Ledger,
          progress: Callable[[int], None] | None) -> None:
    unit = wanted.unit
    with backend.open_write(unit.key) as out:
        if wanted.data is not None:
            sealed = seal_bytes(wanted.data, unit, out, secret)
            if progress:
                progress(len(wanted.data))
        else:
            assert wanted.path is not None
            with open(wanted.path, "rb") as src:
                sealed = seal_unit(src, wanted.size, unit, out, secret, progress)
        if sealed.blake3 != wanted.expected_digest:
            # The local object is corrupt or changed under us: raising inside the write makes the
            # backend discard it, so bytes we did not mean to send never reach the remote.
            raise IntegrityError(f"{', '.join(f'{r} / {n}' for r, n in wanted.labels)}: the local "
                                 "copy does not match its BLAKE3; nothing was sent. Run "
                                 "`arkeep verify` and `arkeep repair`")
    ledger.record(backend.name, unit.name, unit.kind, unit.ref, PRESENT, sealed.sealed_size,
                  wanted.source_digest, HOW_WRITTEN)


