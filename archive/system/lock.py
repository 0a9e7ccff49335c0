"""One writer per store: an advisory lock that names its holder and dies with it.

The lock is an OS lock on `<store>/lock` (flock, or LockFileEx on Windows: the platform seam,
`oscompat.try_lock`), so the kernel releases it when the holder exits, even after kill -9: a lock
file left behind by a dead process is recognised as stale and taken over. The file also records
pid, host and command, so a second writer is told who holds the store.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from archive.errors import StoreLocked
from archive.system import oscompat


def _describe(info: dict[str, object]) -> str:
    return (f"pid {info.get('pid', '?')} on {info.get('host', '?')} "
            f"({info.get('command', '?')}, since {info.get('since', '?')})")


@contextmanager
def store_lock(path: Path, command: str, wait: float = 0.0,
               waiting: Callable[[str], None] | None = None) -> Iterator[dict[str, object] | None]:
    """Hold the store lock; yields what a stale previous holder left behind, if anything.

    With `wait` (seconds, `math.inf` for as long as it takes) a busy lock is tried again until
    then; `waiting` is told the holder once, when the wait starts."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        start = time.monotonic()
        told = False
        while True:
            if oscompat.try_lock(fd):
                break
            if time.monotonic() - start >= wait:
                holder = _holder(fd)
                if wait > 0:
                    raise StoreLocked(
                        f"the store is still in use by {_describe(holder)} after waiting "
                        f"{wait:g} s; try again later or wait longer (--wait)")
                raise StoreLocked(
                    f"the store is in use by {_describe(holder)}; wait for it to finish "
                    "and try again, or give --wait to wait for it")
            if not told and waiting is not None:
                waiting(_describe(_holder(fd)))
                told = True
            time.sleep(0.1)
        stale = _read(fd) or None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "since": datetime.now(UTC).replace(microsecond=0).isoformat()}
        record = json.dumps(info).encode()
        oscompat.write_at(fd, record, 0)
        os.ftruncate(fd, len(record))
        try:
            yield stale
        finally:
            os.ftruncate(fd, 0)
            oscompat.unlock(fd)
    finally:
        os.close(fd)


def _holder(fd: int, patience: float = 1.0) -> dict[str, object]:
    """The holder's record. A holder writes it just after taking the lock, so a second writer
    that comes at that moment reads nothing, or the previous (dead) holder's record: read again
    for a moment until it names a live process (or one on another host, which we cannot check)."""
    deadline = time.monotonic() + patience
    while True:
        info = _read(fd)
        if _names_a_live_holder(info) or time.monotonic() >= deadline:
            return info
        time.sleep(0.01)


def _names_a_live_holder(info: dict[str, object]) -> bool:
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    if info.get("host") != socket.gethostname():
        return True
    return oscompat.process_alive(pid)


def _read(fd: int) -> dict[str, object]:
    raw = oscompat.read_at(fd, 4096, 0)
    try:
        value = json.loads(raw.decode()) if raw else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def command_line_summary() -> str:
    """The subcommand only: never argv in full, which could hold a path the user considers private."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return "arkeep " + (args[0] if args else "")
