"""Recording a finished command in the store's audit log, and reading the log back."""
from __future__ import annotations

from typing import TYPE_CHECKING

from archive.errors import ArkeepError
from archive.storage import audit_log

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.storage.store import Store

# A command that finished waits this long at most for another writer before its entry is given
# up (and said so): the work is done, only the record of it is missing.
RECORD_WAIT = 30.0


def record(store: Store, command: str, target: str | None, exit_code: int,
           keyring: Keyring | None) -> str | None:
    """Append the entry under the store lock; None, or why it could not be written."""
    store.lock_wait = max(store.lock_wait, RECORD_WAIT)
    try:
        with store.writing(f"arkeep {command} (audit log)"):
            audit_log.append(store, command, target, exit_code, store.unlocked_slot, keyring)
    except (ArkeepError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def history(store: Store, target: str | None = None, limit: int | None = None
            ) -> list[audit_log.Entry]:
    """The entries, oldest first; with `target`, those whose target names it (case ignored)."""
    found = audit_log.entries(store)
    if target:
        want = target.casefold()
        found = [e for e in found if e.target and want in e.target.casefold()]
    return found[-limit:] if limit else found
