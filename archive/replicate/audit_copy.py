"""The audit log on remotes: one sealed copy per replica, replaced only by a log that begins
with it.

`log/audit.zip` on a remote is a bundle like every unit (the same AES zip, the same password)
holding one entry, `audit.jsonl`: the store's log (archive/storage/audit_log.py) as it was when
sync last reached that remote. The log only grows, so the rule is git's fast-forward: sync
writes the store's log over a copy only when that copy is the store's log as it was (the same
lines, fewer or as many); a copy that does not authenticate, whose chain or keyed checks fail,
that holds entries the store lacks, or that goes another way, is never replaced and is named.
`rebuild` takes the copy into a new store (so a lost laptop does not lose the trail), or into a
store whose log is the copy's beginning; `verify --remote` reads it back with the same checks
as the local log, and compares it with the store's and with what the ledger says was written
(a copy shorter than that was cut short). Everything streams through files in the store's
`tmp/`: the log may be long.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.errors import IntegrityError
from archive.seal.engine import SealError, seal, unseal
from archive.storage import audit_log
from archive.system import durable
from backends.errors import NotFound

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.replicate.ledger import Ledger
    from archive.storage.store import Store
    from backends.base import Backend, UnitInfo

REMOTE_KEY = "log/audit.zip"
ENTRY_NAME = "audit.jsonl"
# Entries of commands that only copy or check: on their own they do not make sync write the
# log again (every sync records one, so otherwise no sync would ever be "up to date"); they
# travel with the next entry of any other command.
ONLY_COPIES = frozenset({"sync", "verify", "audit"})
# What a copy is, compared with the store's log.
MISSING, DAMAGED, EDITED = "missing", "damaged", "edited"
SAME, BEHIND, AHEAD, DIVERGES = "same", "behind", "ahead", "diverges"


@dataclass(frozen=True)
class LogCopy:
    """A remote's copy of the log: its state (above), its lines, its last entry's hash, and
    for a copy that is not the store's log as it was, why, in words for the user."""

    state: str
    lines: int = 0
    head: str = ""
    why: str = ""


@dataclass(frozen=True)
class LogPush:
    """What sync did with one remote's copy: `sent` it, or left it for the `problem` named."""

    sent: bool = False
    problem: str | None = None


class _Prefix:
    """The first `size` bytes of a file: what was in the log when sync looked at it."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left, self.newlines = f, size, 0

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        self._left -= len(data)
        self.newlines += data.count(b"\n")
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


@contextmanager
def fetched(backend: Backend, keyring: Keyring, tmp_dir: Path) -> Iterator[Path | None]:
    """The remote's copy unsealed into a temp file in `tmp_dir` (removed afterwards), or None
    when the remote has none. IntegrityError if it does not authenticate or holds another
    entry: then nothing of it is trusted."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".arkeep-log-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            found = _unseal(backend, keyring, out)
        yield path if found else None
    finally:
        path.unlink(missing_ok=True)


def _unseal(backend: Backend, keyring: Keyring, out: BinaryIO) -> bool:
    try:
        with backend.open_read(REMOTE_KEY) as f:
            result = unseal(f, out, password=keyring.zip_password)
    except NotFound:
        return False
    except SealError as exc:
        raise IntegrityError(f"{REMOTE_KEY} on {backend.name}: {exc}") from None
    if result.entry_name != ENTRY_NAME:
        raise IntegrityError(f"{REMOTE_KEY} on {backend.name}: holds another entry than the audit log")
    return True


def inspect(store: Store, keyring: Keyring, theirs: Path | None) -> LogCopy:
    """What the copy in `theirs` is, with the checks `verify` makes of the local log (chain,
    keyed checks), then line by line against the store's log."""
    if theirs is None:
        return LogCopy(MISSING)
    last = audit_log.last_entry(theirs)
    head = last.hash if last else ""
    problems = audit_log.check_file(theirs, keyring)
    cmp = audit_log.compare_files(audit_log.log_path(store), theirs)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return LogCopy(EDITED, cmp.theirs, head, problems[0] + more)
    if cmp.theirs_is_prefix:
        return LogCopy(SAME if cmp.ours == cmp.theirs else BEHIND, cmp.theirs, head)
    if cmp.ours_is_prefix:
        return LogCopy(AHEAD, cmp.theirs, head, f"it holds {cmp.theirs - cmp.ours} entries after "
                       f"the store's last ({cmp.ours})")
    return LogCopy(DIVERGES, cmp.theirs, head, f"it differs from the store's log from line "
                   f"{cmp.common + 1} on")


def read_copy(store: Store, keyring: Keyring, backend: Backend) -> LogCopy:
    """Fetch and inspect a remote's copy; one that does not authenticate is DAMAGED."""
    try:
        with fetched(backend, keyring, store.tmp_dir) as theirs:
            return inspect(store, keyring, theirs)
    except IntegrityError as exc:
        return LogCopy(DAMAGED, why=str(exc).split(": ", 1)[-1])


# -- sync -------------------------------------------------------------------------------------

def push_log(store: Store, keyring: Keyring, backend: Backend, ledger: Ledger) -> LogPush:
    """Bring a remote's copy up to the store's log, fast-forward only; call with the store lock
    held (no entry is appended meanwhile). The ledger remembers what was written, so a sync
    after one that wrote it reads nothing back unless the copy's size or time changed."""
    path = audit_log.log_path(store)
    last = audit_log.last_entry(path)
    if last is None:
        return LogPush()                     # no log yet: nothing to carry
    known = ledger.log_copy(backend.name)
    try:
        there: UnitInfo | None = backend.info(REMOTE_KEY)
    except NotFound:
        there = None
    # Size and time as recorded when we wrote it (git's stat check): then the copy is ours and
    # need not be read back before it is replaced.
    ours_as_written = (known is not None and there is not None and there.mtime is not None
                       and (there.size, there.mtime) == (known[2], known[3]))
    if ours_as_written and known is not None and \
            audit_log.commands_after(path, known[0]) <= ONLY_COPIES:
        return LogPush()                     # holds what we wrote; since then only syncs
    if there is not None and not ours_as_written:
        copy = read_copy(store, keyring, backend)
        if copy.state == SAME:
            ledger.log_copy_seen(backend.name, copy.lines, copy.head, there.size, there.mtime)
            return LogPush()
        if copy.state not in (BEHIND, MISSING):
            return LogPush(problem=refusal(copy))
    lines = _write(keyring, backend, path)
    written = backend.info(REMOTE_KEY)
    ledger.log_copy_seen(backend.name, lines, last.hash, written.size, written.mtime)
    return LogPush(sent=True)


def refusal(copy: LogCopy) -> str:
    """Why sync leaves a copy as it is, and what to do."""
    what = {DAMAGED: "does not authenticate", EDITED: "was edited",
            AHEAD: "holds entries the store's log lacks",
            DIVERGES: "is not the store's log"}[copy.state]
    return (f"{REMOTE_KEY} (the audit log) {what}: {copy.why}; not replaced. `arkeep verify "
            "--remote` names it; keep it as evidence, then delete it on the remote and sync")


def _write(keyring: Keyring, backend: Backend, path: Path) -> int:
    """Seal the log as it is now into the remote's copy; returns its number of lines."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        src = _Prefix(f, size)
        with backend.open_write(REMOTE_KEY) as raw:
            seal(src, raw, password=keyring.zip_password, entry_name=ENTRY_NAME, size=size)  # type: ignore[arg-type]
    return src.newlines


# -- verify --remote --------------------------------------------------------------------------

def check_copy(store: Store, keyring: Keyring, backend: Backend, ledger: Ledger) -> str | None:
    """What is wrong with a remote's copy of the log, for `verify --remote`, or None. A copy not
    written yet is no problem (a replica made before logs travelled has none until its next
    sync); one missing or shorter than what sync wrote there is."""
    known = ledger.log_copy(backend.name)
    copy = read_copy(store, keyring, backend)
    if copy.state == MISSING:
        if known is None:
            return None
        return (f"{REMOTE_KEY} (the audit log) is missing; sync wrote {known[0]} entries there; "
                "`arkeep sync` writes it again")
    if copy.state in (SAME, BEHIND):
        if known is not None and copy.lines < known[0]:
            return (f"{REMOTE_KEY} (the audit log) was cut short: it holds {copy.lines} entries, "
                    f"sync wrote {known[0]}; `arkeep sync` writes the store's log again")
        return None
    if copy.state == AHEAD:
        return (f"the store's audit log lacks entries this replica's copy holds ({copy.why}): "
                "entries removed from its end? `arkeep rebuild --merge` from this replica takes "
                "them back")
    return refusal(copy)


# -- rebuild ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogTaken:
    taken: str | None = None       # what came from the replica
    kept: str | None = None        # why the store's log was kept instead
    problem: str | None = None     # the replica's copy is bad


def take_log(store: Store, keyring: Keyring, backend: Backend) -> LogTaken:
    """The replica's copy into the store: into a store without a log, or over a log that is the
    copy's beginning; never over a log with entries the copy lacks. A replica without a copy
    (made before logs travelled) gives nothing and is no problem."""
    path = audit_log.log_path(store)
    try:
        with fetched(backend, keyring, store.tmp_dir) as theirs:
            return _take(store, keyring, theirs, path, backend.name)
    except IntegrityError as exc:
        return LogTaken(problem=f"{exc}; the audit log was not taken")


def _take(store: Store, keyring: Keyring, theirs: Path | None, path: Path, remote: str) -> LogTaken:
    copy = inspect(store, keyring, theirs)
    if copy.state == MISSING:
        return LogTaken()
    if copy.state == EDITED:
        return LogTaken(problem=f"{REMOTE_KEY} on {remote} (the audit log) was edited: "
                        f"{copy.why}; not taken")
    if copy.state in (SAME, BEHIND):
        return LogTaken()
    if copy.state == DIVERGES:
        return LogTaken(kept=f"audit log: the replica's copy is not this store's log "
                        f"({copy.why}); kept the store's")
    assert theirs is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    with theirs.open("rb") as src, durable.writing(path, f"cannot write {path}", mode=0o600) as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return LogTaken(taken=f"audit log: {copy.lines} entries from the replica")
