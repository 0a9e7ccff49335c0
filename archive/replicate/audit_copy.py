"""The audit log on remotes: each store's own sealed copy, replaced only by a log that begins
with it.

A store's log is one chain; several stores of one archive (two machines, or a store rebuilt
after a loss while the old one still syncs) each have their own. So each store keeps a random
`log/audit.id` (made at its first sync) and writes its log to `log/<name>.zip` on every remote,
`name` being the keyed BLAKE3 of that id: a bundle like every unit (the same AES zip, the same
password) holding one entry, `<name>.jsonl`, the store's log as it was when sync last reached
that remote. The log only grows, so the rule is git's fast-forward: sync writes the store's log
over its copy only when that copy is the store's log as it was (the same lines, fewer or as
many); a copy that does not authenticate, whose chain or keyed checks fail, that holds entries
the store lacks, or that goes another way, is never replaced and is named. `rebuild` takes the
most recent authentic copy into a new store (so a lost laptop does not lose the trail; the new
store starts its own copy at its first sync), or a copy the store's log is the beginning of;
`verify --remote` reads every copy back with the checks made of the local log, and compares the
store's own with its log and with what the ledger says was written (a copy shorter than that was
cut short). Everything streams through files in the store's `tmp/`: the log may be long.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.errors import IntegrityError
from archive.replicate.ledger import LogCopyRecord
from archive.seal.engine import SealError, seal, unseal
from archive.storage import audit_log
from archive.system import durable
from backends.errors import NotFound

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.replicate.ledger import Ledger
    from archive.storage.store import Store
    from backends.base import Backend, UnitInfo

LOG_PREFIX = "log/"
# A copy declaring more is refused before a byte is written (five million entries and more:
# far beyond any log, and a bound on what a hostile copy could make us write to tmp/).
MAX_COPY = 1024**3
ID_FILE = "audit.id"
_COPY_KEY = re.compile(r"log/([0-9a-f]{64})\.zip")
_ID = re.compile(r"[0-9a-f]{32}")
# Entries of commands that only copy or check: on their own they do not make sync write the
# log again (every sync records one, so otherwise no sync would ever be "up to date"); they
# travel with the next entry of any other command.
ONLY_COPIES = frozenset({"sync", "verify", "audit"})
# What a copy is, compared with the store's log.
MISSING, DAMAGED, EDITED = "missing", "damaged", "edited"
SAME, BEHIND, AHEAD, DIVERGES = "same", "behind", "ahead", "diverges"


def copy_key(name: str) -> str:
    return f"{LOG_PREFIX}{name}.zip"


def entry_name(name: str) -> str:
    return f"{name}.jsonl"


def own_copy_name(store: Store, keyring: Keyring, create: bool = False) -> str | None:
    """The name of this store's copy on remotes, from `log/audit.id` (made if `create`)."""
    path = audit_log.log_path(store).with_name(ID_FILE)
    try:
        ident = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        ident = ""
    if not _ID.fullmatch(ident):
        if not create:
            return None
        ident = secrets.token_hex(16)
        path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_atomic(path, ident + "\n", mode=0o644)
    return keyring.unit_name("audit-log", ident)


def copies_on(backend: Backend) -> list[str]:
    """The names of the log copies a remote holds (one listing)."""
    return sorted(m.group(1) for info in backend.list(LOG_PREFIX)
                  if (m := _COPY_KEY.fullmatch(info.key)) is not None)


@dataclass(frozen=True)
class LogCopy:
    """A copy of a log on a remote: its state (above), its lines, its last entry's hash and
    time, and for a copy that is not the store's log as it was, why, in words for the user."""

    state: str
    lines: int = 0
    head: str = ""
    last_at: str = ""
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
def fetched(backend: Backend, keyring: Keyring, tmp_dir: Path, name: str) -> Iterator[Path | None]:
    """Copy `name` unsealed into a temp file in `tmp_dir` (removed afterwards), or None when the
    remote has none. IntegrityError if it does not authenticate or holds another entry: then
    nothing of it is trusted."""
    path = _fetch(backend, keyring, tmp_dir, name)
    try:
        yield path
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


def _fetch(backend: Backend, keyring: Keyring, tmp_dir: Path, name: str) -> Path | None:
    """As fetched(), but the caller removes the temp file."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=tmp_dir, prefix=".arkeep-log-")
    path = Path(temp)
    try:
        with os.fdopen(fd, "wb") as out:
            found = _unseal(backend, keyring, name, out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if not found:
        path.unlink(missing_ok=True)
        return None
    return path


def _unseal(backend: Backend, keyring: Keyring, name: str, out: BinaryIO) -> bool:
    key = copy_key(name)
    try:
        with backend.open_read(key) as f:
            result = unseal(f, out, password=keyring.zip_password, max_size=MAX_COPY)
    except NotFound:
        return False
    except SealError as exc:
        raise IntegrityError(f"{key} on {backend.name}: {exc}") from None
    if result.entry_name != entry_name(name):
        raise IntegrityError(f"{key} on {backend.name}: holds another entry than its name says")
    return True


def inspect(store: Store, keyring: Keyring, theirs: Path | None) -> LogCopy:
    """What the copy in `theirs` is, with the checks `verify` makes of the local log (chain,
    keyed checks), then line by line against the store's log."""
    if theirs is None:
        return LogCopy(MISSING)
    last = audit_log.last_entry(theirs)
    head, at = (last.hash, last.at) if last else ("", "")
    problems = audit_log.check_file(theirs, keyring)
    cmp = audit_log.compare_files(audit_log.log_path(store), theirs)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return LogCopy(EDITED, cmp.theirs, head, at, problems[0] + more)
    if cmp.theirs_is_prefix:
        return LogCopy(SAME if cmp.ours == cmp.theirs else BEHIND, cmp.theirs, head, at)
    if cmp.ours_is_prefix:
        return LogCopy(AHEAD, cmp.theirs, head, at, f"it holds {cmp.theirs - cmp.ours} entries "
                       f"after the store's last ({cmp.ours})")
    return LogCopy(DIVERGES, cmp.theirs, head, at, f"it differs from the store's log from line "
                   f"{cmp.common + 1} on")


def read_copy(store: Store, keyring: Keyring, backend: Backend, name: str) -> LogCopy:
    """Fetch and inspect one copy; one that does not authenticate is DAMAGED."""
    try:
        with fetched(backend, keyring, store.tmp_dir, name) as theirs:
            return inspect(store, keyring, theirs)
    except IntegrityError as exc:
        return LogCopy(DAMAGED, why=str(exc).split(": ", 1)[-1])


# -- sync -------------------------------------------------------------------------------------

def push_log(store: Store, keyring: Keyring, backend: Backend, ledger: Ledger) -> LogPush:
    """Bring this store's copy on a remote up to its log, fast-forward only; call with the store
    lock held (no entry is appended meanwhile). The ledger remembers what was written, so a sync
    after one that wrote it reads nothing back unless the copy's size or time changed."""
    path = audit_log.log_path(store)
    last = audit_log.last_entry(path)
    if last is None:
        return LogPush()                     # no log yet: nothing to carry
    name = own_copy_name(store, keyring, create=True)
    assert name is not None
    key = copy_key(name)
    known = ledger.log_copy(backend.name)
    if known is not None and known.key != key:
        known = None
    try:
        there: UnitInfo | None = backend.info(key)
    except NotFound:
        there = None
    # The copy is what we wrote (its size and time as recorded: git's stat check) and the
    # store's log still begins with what we wrote (the same bytes): then the copy need not be
    # read back before it is replaced. Anything else (a log cut short or edited here, a copy
    # changed there) is decided by reading the copy.
    ours_as_written = (known is not None and there is not None and there.mtime is not None
                       and (there.size, there.mtime) == (known.size, known.mtime)
                       and audit_log.prefix_digest(path, known.plain_size) == known.plain_digest)
    if ours_as_written and known is not None and \
            audit_log.commands_after(path, known.plain_size) <= ONLY_COPIES:
        return LogPush()                     # holds what we wrote; since then only syncs
    if there is not None and not ours_as_written:
        copy = read_copy(store, keyring, backend, name)
        if copy.state == SAME:
            size = path.stat().st_size
            ledger.log_copy_seen(backend.name, LogCopyRecord(
                key, copy.lines, copy.head, there.size, there.mtime, size,
                audit_log.prefix_digest(path, size) or ""))
            return LogPush()
        if copy.state not in (BEHIND, MISSING):
            return LogPush(problem=refusal(key, copy))
    lines, size, digest = _write(keyring, backend, path, name)
    written = backend.info(key)
    ledger.log_copy_seen(backend.name, LogCopyRecord(key, lines, last.hash, written.size,
                                                     written.mtime, size, digest))
    return LogPush(sent=True)


def refusal(key: str, copy: LogCopy, whose: str = "the audit log") -> str:
    """Why sync leaves a copy as it is, and what to do."""
    what = {DAMAGED: "does not authenticate", EDITED: "was edited",
            AHEAD: "holds entries the store's log lacks",
            DIVERGES: "is not the store's log"}[copy.state]
    keep = ("keep it as evidence" if copy.state in (DAMAGED, EDITED) else
            "no entry of it is lost: keep it (7-Zip opens it with the recovery code)")
    return (f"{key} ({whose}) {what}: {copy.why}; not replaced. To go on, {keep}, "
            "then delete it on the remote: the next sync writes the store's log there")


def _write(keyring: Keyring, backend: Backend, path: Path, name: str) -> tuple[int, int, str]:
    """Seal the log as it is now into the remote's copy; its lines, size and BLAKE3."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        src = _Prefix(f, size)
        with backend.open_write(copy_key(name)) as raw:
            sealed = seal(src, raw, password=keyring.zip_password, entry_name=entry_name(name),  # type: ignore[arg-type]
                          size=size)
    return src.newlines, size, sealed.blake3


# -- verify --remote --------------------------------------------------------------------------

def check_copies(store: Store, keyring: Keyring, backend: Backend, ledger: Ledger) -> list[str]:
    """What is wrong with the remote's copies of the log, for `verify --remote`: the store's
    own, compared with its log and with what sync wrote there; every other store's, checked as
    a log. A copy not written yet is no problem (replicas made before logs travelled have none
    until their next sync); one missing or shorter than what sync wrote there is."""
    problems = []
    own = own_copy_name(store, keyring)
    known = ledger.log_copy(backend.name)
    names = copies_on(backend)
    for name in names:
        copy = read_copy(store, keyring, backend, name)
        if name == own:
            problem = _own_problem(copy, known if known and known.key == copy_key(name) else None)
        elif copy.state in (DAMAGED, EDITED):
            problem = refusal(copy_key(name), copy, "another store's audit log")
        else:
            problem = None
        if problem:
            problems.append(problem)
    if own is not None and own not in names and known is not None and known.key == copy_key(own):
        problems.append(f"{copy_key(own)} (the audit log) is missing; sync wrote {known.lines} "
                        "entries there; `arkeep sync` writes it again")
    return problems


def _own_problem(copy: LogCopy, known: LogCopyRecord | None) -> str | None:
    key = known.key if known else "the store's copy"
    if copy.state in (SAME, BEHIND):
        if known is not None and copy.lines < known.lines:
            return (f"{key} (the audit log) was cut short: it holds {copy.lines} entries, sync "
                    f"wrote {known.lines}; `arkeep sync` writes the store's log again")
        return None
    if copy.state == AHEAD:
        return (f"the store's audit log lacks entries this replica's copy holds ({copy.why}): "
                "removed from its end? Sync leaves that copy as it is, so they are not lost")
    return refusal(key, copy)


# -- rebuild ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogTaken:
    taken: str | None = None       # what came from the replica
    problems: tuple[str, ...] = ()  # copies on the replica that are bad


def take_log(store: Store, keyring: Keyring, backend: Backend) -> LogTaken:
    """A copy from the replica into the store: into a store without a log, the most recent
    authentic copy (by its last entry's time); into a store with one, the longest copy that its
    log is the beginning of; never over a log with entries a copy lacks. A replica without
    copies (made before logs travelled) gives nothing and is no problem. Each copy is read once,
    into a temp file; the one chosen is the one written into the store."""
    problems: list[str] = []
    best: tuple[tuple[object, ...], Path, LogCopy] | None = None
    local = audit_log.last_entry(audit_log.log_path(store)) is not None
    try:
        for name in copies_on(backend):
            try:
                theirs = _fetch(backend, keyring, store.tmp_dir, name)
            except IntegrityError as exc:
                problems.append(f"{exc} (the audit log); not taken")
                continue
            if theirs is None:
                continue
            copy = inspect(store, keyring, theirs)
            rank = (copy.lines,) if local else (copy.last_at, copy.lines)
            if copy.state == EDITED:
                problems.append(f"{copy_key(name)} on {backend.name} (the audit log) was edited: "
                                f"{copy.why}; not taken")
            elif (copy.state == AHEAD or (not local and copy.lines)) and \
                    (best is None or rank > best[0]):  # type: ignore[operator]
                if best is not None:
                    best[1].unlink(missing_ok=True)
                best, theirs = (rank, theirs, copy), None
            if theirs is not None:
                theirs.unlink(missing_ok=True)
        if best is None:
            return LogTaken(problems=tuple(problems))
        path = audit_log.log_path(store)
        path.parent.mkdir(parents=True, exist_ok=True)
        with best[1].open("rb") as src, \
                durable.writing(path, f"cannot write {path}", mode=0o600) as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        return LogTaken(f"audit log: {best[2].lines} entries from the replica", tuple(problems))
    finally:
        if best is not None:
            best[1].unlink(missing_ok=True)
