"""The audit log: who changed or revealed what in the store, append-only and hash-chained.

`log/audit.jsonl` in the store, one JSON object per line, in order. Each entry names the command
(`key remove`, `add`, `show`), its target (a PRODUCT@VERSION or a key slot name, never a
secret), the key slot that unlocked the store (none when the command needed no passphrase), the
OS user and host, the time and the exit status. It never holds a licence key, a passphrase, a
recovery code or a share: only those words arkeep itself chose.

Tamper evidence, and its limits: each entry carries `prev`, the `hash` of the entry before it
(64 zeros for the first), and its own `hash`, BLAKE3 of its other fields as canonical JSON; an
edited or removed entry breaks the chain at that point, which `arkeep verify` reports. Someone
who can write the file could recompute every hash after an edit, so an entry made by a command
that unlocked the store also carries `mac`, keyed BLAKE3 of its hash under a key derived from the
archive secret: with the passphrase at hand, `verify` checks those too, and an edit by someone
without the secret is found even if they recomputed the chain. Removing entries at the end leaves
a shorter, valid chain: not detectable from the file alone.
"""
from __future__ import annotations

import getpass
import io
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import blake3

if TYPE_CHECKING:
    from archive.crypto.keyring import Keyring
    from archive.storage.store import Store

LOG_DIR, LOG_FILE = "log", "audit.jsonl"
GENESIS = "0" * 64
MAX_LINE = 4096
_OVERLONG = "\0(a line longer than MAX_LINE)"
_FIELDS = ("seq", "at", "user", "host", "slot", "command", "target", "exit", "prev")


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    user: str
    host: str
    slot: str | None
    command: str
    target: str | None
    exit: int
    prev: str
    hash: str
    mac: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*_FIELDS, "hash", "mac")}


def log_path(store: Store) -> Path:
    return store.root / LOG_DIR / LOG_FILE


def _digest(fields: dict[str, Any]) -> str:
    text = json.dumps({k: fields[k] for k in _FIELDS}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return blake3.blake3(text.encode("utf-8")).hexdigest()


def _who() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return user[:64], socket.gethostname()[:128]


def _raw_lines(f: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Each line of an open log (without its newline), and whether it is longer than any entry
    arkeep writes: such a line is read in pieces and stands as the BLAKE3 of its bytes, so a
    damaged or hostile copy cannot make a reader hold a huge line in memory."""
    while True:
        raw = f.readline(MAX_LINE + 2)
        if not raw:
            return
        if raw.endswith(b"\n") and len(raw) <= MAX_LINE + 1:
            yield raw[:-1], False
            continue
        if not raw.endswith(b"\n") and len(raw) <= MAX_LINE:    # a last line without newline
            yield raw, False
            continue
        digest = blake3.blake3(raw)
        while not raw.endswith(b"\n"):
            raw = f.readline(64 * 1024)
            if not raw:
                break
            digest.update(raw)
        yield digest.digest(), True


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, (raw, overlong) in enumerate(_raw_lines(f), 1):
            yield number, (_OVERLONG if overlong else raw.decode("utf-8", errors="replace"))


def entries(store: Store) -> list[Entry]:
    """The entries that parse, in file order (check() says what is wrong with the others)."""
    out = []
    for _, line in _lines(log_path(store)):
        entry = _parse(line)
        if isinstance(entry, Entry):
            out.append(entry)
    return out


def prefix_digest(path: Path, size: int) -> str | None:
    """BLAKE3 of the first `size` bytes of the log, or None if it is shorter (sync's check that
    the log still begins with what it wrote: bytes, not entries, so a long log costs little)."""
    digest = blake3.blake3()
    left = size
    try:
        with path.open("rb") as f:
            while left:
                chunk = f.read(min(left, 1024 * 1024))
                if not chunk:
                    return None
                digest.update(chunk)
                left -= len(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def commands_after(path: Path, offset: int) -> set[str]:
    """The commands of the entries after the first `offset` bytes (a line that is not an entry
    counts as the command "?")."""
    found = set()
    with path.open("rb") as f:
        f.seek(offset)
        for raw, overlong in _raw_lines(f):
            entry = _parse(_OVERLONG if overlong else raw.decode("utf-8", errors="replace"))
            found.add(entry.command if isinstance(entry, Entry) else "?")
    return found


def _parse(line: str) -> Entry | str:
    if line is _OVERLONG or len(line) > MAX_LINE:
        return "longer than any entry arkeep writes"
    try:
        raw = json.loads(line)
        entry = Entry(**{k: raw[k] for k in (*_FIELDS, "hash")}, mac=raw.get("mac"))
        if not isinstance(entry.seq, int) or not isinstance(entry.hash, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return "not an entry (edited, or damaged)"
    return entry


def last_entry(path: Path) -> Entry | None:
    """The last entry, read from the end of the file (appending costs the same at any length).
    A last line that is not an entry is passed over: the chain then breaks there, for verify."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4 * MAX_LINE))
            tail = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(tail):
        parsed = _parse(line)
        if isinstance(parsed, Entry):
            return parsed
    return None


def append(store: Store, command: str, target: str | None, exit_code: int,
           slot: str | None = None, keyring: Keyring | None = None) -> Entry:
    """Add one entry; call with the store lock held (the chain has one writer at a time)."""
    path = log_path(store)
    last = last_entry(path)
    user, host = _who()
    fields: dict[str, Any] = {
        "seq": (last.seq + 1) if last else 1,
        "at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "user": user, "host": host, "slot": slot, "command": command[:200],
        "target": target[:300] if target else None, "exit": int(exit_code),
        "prev": last.hash if last else GENESIS}
    fields["hash"] = _digest(fields)
    fields["mac"] = keyring.audit_mac(fields["hash"]) if keyring is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return Entry(**fields)


def check(store: Store, keyring: Keyring | None = None) -> list[str]:
    """What is wrong with the store's log (check_file)."""
    return check_file(log_path(store), keyring)


def check_file(path: Path, keyring: Keyring | None = None) -> list[str]:
    """What is wrong with a log file (the store's, or a replica's copy read back): every broken
    link, edited entry and (with the keyring) every entry whose MAC does not match, each named
    by its line. Read line by line: the log may be long."""
    problems: list[str] = []
    prev, seq = GENESIS, 0
    for number, line in _lines(path):
        entry = _parse(line)
        if isinstance(entry, str):
            problems.append(f"line {number}: {entry}")
            continue
        if entry.prev != prev or entry.seq != seq + 1:
            problems.append(f"line {number} (entry {entry.seq}): the entry before it was removed "
                            "or changed (the chain breaks here)")
        if _digest(entry.as_json()) != entry.hash:
            problems.append(f"line {number} (entry {entry.seq}): edited after it was written "
                            "(its hash does not match)")
        elif keyring is not None and entry.mac is not None and keyring.audit_mac(entry.hash) != entry.mac:
            problems.append(f"line {number} (entry {entry.seq}): edited after it was written "
                            "(its hashes were recomputed, but the keyed check fails)")
        prev, seq = entry.hash, entry.seq
    return problems


@dataclass(frozen=True)
class Comparison:
    """Two copies of one log, line by line: how many lines each has and how many they share
    from the start. The log only grows, so one copy should be the other's beginning."""

    ours: int
    theirs: int
    common: int

    @property
    def theirs_is_prefix(self) -> bool:
        """Theirs is ours as it was (or is): ours may replace it without losing an entry."""
        return self.common == self.theirs

    @property
    def ours_is_prefix(self) -> bool:
        return self.common == self.ours


def _open_or_empty(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return io.BytesIO(b"")


def compare_files(ours: Path, theirs: Path) -> Comparison:
    """Compare two log files line by line (bytes as written), in constant memory; a missing
    file is an empty log."""
    counts = [0, 0]
    common, diverged = 0, False
    with _open_or_empty(ours) as a, _open_or_empty(theirs) as b:
        for x, y in zip_longest(_raw_lines(a), _raw_lines(b)):
            counts[0] += x is not None
            counts[1] += y is not None
            if not diverged and x is not None and x == y:
                common += 1
            else:
                diverged = True
    return Comparison(counts[0], counts[1], common)
