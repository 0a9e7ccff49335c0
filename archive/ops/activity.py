"""Recording a finished command in the store's audit log, and reading the log back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import ArkeepError, UsageError
from archive.storage import audit_log
from manifests.stamp import revision_of

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


# -- earlier versions of manifests ------------------------------------------------------------

def _kind_and_id(store: Store, ref: str) -> tuple[str, str]:
    """A release (PRODUCT@VERSION, also one removed since) or a licence id with kept versions."""
    from manifests.errors import ReleaseNotFound

    def kept(kind: str, ident: str) -> bool:
        try:
            return bool(store.catalog.versions(kind, ident))
        except ValueError:          # not an id of that kind
            return False

    if ref.startswith("lic-"):
        if kept("license", ref) or (_is_id(store, ref) and store.catalog.has_license(ref)):
            return "license", ref
        raise UsageError(f"no licence record '{ref}' and no kept version of one")
    try:
        return "release", store.catalog.resolve(ref).id
    except ReleaseNotFound:
        guess = ref.strip().casefold()
        if kept("release", guess):
            return "release", guess
        raise


def _is_id(store: Store, ref: str) -> bool:
    try:
        store.catalog.license_path(ref)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Version:
    number: int                  # 1 = the oldest kept
    revision: int
    saved: str                   # when it was replaced (UTC, the file's time)
    path: Path

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "revision": self.revision, "replaced": self.saved,
                "file": str(self.path)}


def versions(store: Store, ref: str) -> tuple[str, str, list[Version]]:
    kind, ident = _kind_and_id(store, ref)
    out = []
    for number, path in enumerate(store.catalog.versions(kind, ident), 1):
        saved = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
        out.append(Version(number, revision_of(path.read_bytes()[:64]), saved.isoformat(), path))
    return kind, ident, out


def restore_version(store: Store, ref: str, number: int) -> tuple[str, str, int]:
    """Write kept version `number` back as the manifest's next revision (the one it replaces is
    kept in turn); returns kind, id and the new revision."""
    from manifests.codec import parse_license, parse_release

    with store.writing("arkeep log --restore-version"):
        kind, ident, found = versions(store, ref)
        chosen = next((v for v in found if v.number == number), None)
        if chosen is None:
            raise UsageError(f"{ident} has no kept version {number}; `arkeep log {ref} "
                             f"--versions` lists {len(found)}")
        data = chosen.path.read_bytes()
        if kind == "release":
            path = store.catalog.write_release(parse_release(data, str(chosen.path)))
        else:
            path = store.catalog.write_license(parse_license(data, str(chosen.path)))
        return kind, ident, store.catalog.revision(path)
