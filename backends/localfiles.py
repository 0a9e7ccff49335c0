"""Local files written durably, and locks on them, on Windows, macOS and Linux.

The one implementation under every durable write of arkeep: a file is written to a temp name
in its own directory, fsynced, renamed over its final name, and the directory is fsynced, so a
crash, kill -9 or power cut leaves the old file or the new one, never a mix; whatever goes wrong
on the way, the temp file is removed.

It lives in `backends` because both packages that write local files need it and only this
direction is allowed: the directory and drive remotes here, and `archive`, which may import
`backends` but not the other way round. `archive` reaches it through `archive/system/durable.py`
(its one durable-write module) and `archive/system/oscompat.py` (its platform seam). `manifests`
may import neither package, so `manifests/catalog.py` keeps a small copy of `write_atomic`.

What each platform does differently, decided here and nowhere else in `backends`:
- Directory fsync: POSIX makes a rename durable by fsyncing the directory; Windows cannot open
  a directory as a file (NTFS journals the rename itself), so there it is a no-op.
- Read-only files: Windows refuses to delete a read-only file or to rename another file onto
  it, so `replace` and `unlink` clear the attribute first. Windows also refuses to replace a
  file another process has open; `replace` tries again for a moment before it gives up (a virus
  scanner or indexer often holds a new file briefly).
- Locks: `flock` on POSIX; on Windows `LockFileEx` of one byte far past the data (a locked range
  cannot be read or written through another handle), asked of kernel32 directly: msvcrt.locking
  reports a busy lock through an errno Wine leaves at 0. Both are released by the OS when their
  holder exits, even when it is killed. Windows also refuses to rename a file that any handle
  holds open, so a temp file's lock is let go just before its rename there (on POSIX, after).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

WINDOWS = os.name == "nt"

# The byte a store's lock file is locked at on Windows: past the holder's record at offset 0,
# which the refused process must still read. Fixed: two arkeeps must lock the same byte.
STORE_LOCK_OFFSET = 1 << 30
# The byte a temp file being written is locked at: past any file's data.
TEMP_LOCK_OFFSET = 1 << 62
_REPLACE_PATIENCE = 2.0

if WINDOWS:
    import ctypes
    import msvcrt
    from ctypes import wintypes

    class _Overlapped(ctypes.Structure):
        _fields_ = [("internal", ctypes.c_size_t), ("internal_high", ctypes.c_size_t),
                    ("offset", wintypes.DWORD), ("offset_high", wintypes.DWORD),
                    ("event", wintypes.HANDLE)]

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.LockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD,
                                     wintypes.DWORD, wintypes.DWORD, ctypes.POINTER(_Overlapped)]
    _kernel32.UnlockFileEx.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD,
                                       wintypes.DWORD, ctypes.POINTER(_Overlapped)]
    _LOCKFILE_FAIL_IMMEDIATELY, _LOCKFILE_EXCLUSIVE_LOCK = 0x1, 0x2
    _ERROR_LOCK_VIOLATION, _ERROR_IO_PENDING = 33, 997

    def _where(offset: int) -> _Overlapped:
        return _Overlapped(offset=offset & 0xFFFFFFFF, offset_high=offset >> 32)
else:
    import fcntl


# -- locks ------------------------------------------------------------------------------------

def try_lock(fd: int, offset: int = STORE_LOCK_OFFSET) -> bool:
    """Take an exclusive lock on the open file `fd` without waiting; False if another holds it.
    `offset`: the byte locked on Windows (POSIX locks the whole file)."""
    if not WINDOWS:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    where = _where(offset)
    if _kernel32.LockFileEx(msvcrt.get_osfhandle(fd),
                            _LOCKFILE_EXCLUSIVE_LOCK | _LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0,
                            ctypes.byref(where)):
        return True
    code = ctypes.get_last_error()
    if code in (_ERROR_LOCK_VIOLATION, _ERROR_IO_PENDING):
        return False
    raise ctypes.WinError(code)


def unlock(fd: int, offset: int = STORE_LOCK_OFFSET) -> None:
    if not WINDOWS:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    where = _where(offset)
    if not _kernel32.UnlockFileEx(msvcrt.get_osfhandle(fd), 0, 1, 0, ctypes.byref(where)):
        raise ctypes.WinError(ctypes.get_last_error())


def lock_while_writing(fd: int) -> int | None:
    """Mark the temp file open as `fd` as a write in progress: a lock held through a duplicate
    descriptor (returned) until `release_lock`. None where the file system has no locks."""
    held = os.dup(fd)
    try:
        if try_lock(held, TEMP_LOCK_OFFSET):
            return held
    except OSError:
        pass
    os.close(held)
    return None


def release_lock(held: int | None) -> None:
    if held is not None:
        os.close(held)          # closing the descriptor drops the lock, on every platform


def write_in_progress(path: str | os.PathLike[str]) -> bool | None:
    """Whether a live writer holds the lock of the temp file at `path` (see `lock_while_writing`);
    None if this file system cannot tell. Raises OSError if the file cannot be opened."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            free = try_lock(fd, TEMP_LOCK_OFFSET)
        except OSError:
            return None
        if free:
            unlock(fd, TEMP_LOCK_OFFSET)
        return not free
    finally:
        os.close(fd)


# -- files and directories ----------------------------------------------------------------------

def fsync_dir(path: str | os.PathLike[str], *, strict: bool = True) -> None:
    """Make a rename or a new entry in directory `path` durable (a no-op on Windows).
    `strict=False` for file systems of others (a NAS, a FUSE mount) that may refuse to open or
    fsync a directory: there it is done where it can be."""
    if WINDOWS:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


def _make_writable(path: str | os.PathLike[str]) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not mode & stat.S_IWUSR:
        os.chmod(path, mode | stat.S_IWUSR)


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """`os.replace`, also onto a read-only file or one another process holds for a moment."""
    if not WINDOWS:
        os.replace(src, dst)
        return
    deadline = time.monotonic() + _REPLACE_PATIENCE
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            _make_writable(dst)
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def unlink(path: str | os.PathLike[str], missing_ok: bool = False) -> None:
    """Remove a file, also a read-only one (Windows refuses those)."""
    try:
        if WINDOWS:
            _make_writable(path)
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise


def remove(path: str | os.PathLike[str], *, strict: bool = True) -> None:
    """Remove a file (a read-only one too) and make the removal durable; gone already is fine."""
    try:
        if WINDOWS:
            _make_writable(path)
        os.unlink(path)
    except FileNotFoundError:
        return
    fsync_dir(os.path.dirname(os.path.abspath(path)), strict=strict)


def publish(temp: str | os.PathLike[str], dest: str | os.PathLike[str], *,
            mode: int | None = None, strict: bool = True) -> None:
    """Give the complete, fsynced file `temp` the name `dest` durably: its mode set, renamed
    (onto a read-only file too), the directory fsynced. For files written aside, elsewhere
    in the same file system (a store's tmp/); `AtomicWriter` does the whole of a write."""
    if mode is not None:
        os.chmod(temp, mode)
    replace(temp, dest)
    fsync_dir(os.path.dirname(os.path.abspath(dest)), strict=strict)


def sync_tree(root: str | os.PathLike[str]) -> None:
    """fsync every file and directory under `root` (a folder written aside, about to be renamed
    into place as a whole)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            # Windows flushes only a handle open for writing
            fd = os.open(path, os.O_RDWR if WINDOWS else os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)


class AtomicWriter:
    """One durable write of `dest`: a temp file that takes `dest`'s name on `commit()` and
    disappears on `discard()`. Memory stays constant whatever is written through `file`.

    The temp file is made in `dest`'s directory (in `temp_dir` if given: it must be on the same
    file system), named `prefix…suffix` (`temp` names it exactly; `opener` then opens it, for a
    caller with its own way to open files). `mode`: the file's permissions once written (else
    mkstemp's 0600, or the opener's). `lock`: hold a lock on the temp file until it is renamed,
    so that a cleaner sees a write in progress (`write_in_progress`). `strict=False`: a
    directory that cannot be fsynced is not an error (another's file system). `sync_dir=False`:
    the directory is not fsynced, for a file that is only a step (it is moved on, durably, by
    `publish`)."""

    def __init__(self, dest: str | os.PathLike[str], *, mode: int | None = None,
                 text: bool = False, encoding: str = "utf-8", newline: str | None = None,
                 buffering: int = -1, prefix: str = ".tmp-", suffix: str = "",
                 temp_dir: str | os.PathLike[str] | None = None,
                 temp: str | os.PathLike[str] | None = None,
                 opener: Callable[[str], IO[Any]] | None = None,
                 lock: bool = False, strict: bool = True, sync_dir: bool = True) -> None:
        self.dest = os.fspath(dest)
        self.directory = os.path.dirname(os.path.abspath(self.dest))
        self.mode = mode
        self.strict = strict
        self.sync_dir = sync_dir
        self._lock: int | None = None
        self._done = False
        if temp is None:
            import tempfile  # on first write only: with shutil and random, ~3 ms of start-up

            fd, self.temp = tempfile.mkstemp(dir=temp_dir or self.directory, prefix=prefix,
                                             suffix=suffix)
            try:
                self.file: IO[Any] = os.fdopen(
                    fd, "w" if text else "wb", buffering,
                    **({"encoding": encoding, "newline": newline} if text else {}))
            except BaseException:
                os.close(fd)
                unlink(self.temp, missing_ok=True)
                raise
        else:
            self.temp = os.fspath(temp)
            self.file = opener(self.temp) if opener is not None else open(  # noqa: SIM115
                self.temp, "x" if text else "xb", buffering,
                **({"encoding": encoding, "newline": newline} if text else {}))
        if lock:
            self._lock = lock_while_writing(self.file.fileno())

    def commit(self, before_replace: Callable[[], None] | None = None) -> None:
        """flush, fsync, close, rename onto `dest`, fsync the directory. On any error the temp
        file is discarded and the error raised. `before_replace`: a last check before the
        rename (a drive: is it still the same drive?)."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            if self.mode is not None:
                os.chmod(self.temp, self.mode)
            if before_replace is not None:
                before_replace()
            if WINDOWS:                       # Windows renames no file that a handle holds open
                release_lock(self._lock)
                self._lock = None
            replace(self.temp, self.dest)
            self._done = True
            if self.sync_dir:
                fsync_dir(self.directory, strict=self.strict)
        except BaseException:
            self.discard()
            raise
        finally:
            release_lock(self._lock)
            self._lock = None

    def discard(self) -> None:
        """Throw the write away: the temp file closed and removed. Idempotent, never raises
        OSError (the error that made the caller discard is the one worth reporting)."""
        with suppress(OSError):
            self.file.close()
        release_lock(self._lock)
        self._lock = None
        if not self._done:
            with suppress(OSError):
                unlink(self.temp, missing_ok=True)


@contextmanager
def atomic_writer(dest: str | os.PathLike[str], **options: Any) -> Iterator[IO[Any]]:
    """A writable file whose contents replace `dest` durably when the with-block ends; if the
    block raises, `dest` is untouched and no temp file is left. Options: see `AtomicWriter`."""
    writer = AtomicWriter(dest, **options)
    try:
        yield writer.file
    except BaseException:
        writer.discard()
        raise
    writer.commit()


def write_atomic(dest: str | os.PathLike[str], data: str | bytes, **options: Any) -> None:
    """Replace `dest` durably by `data` (text is written as UTF-8 unless `encoding` says else;
    give `newline="\\n"` for the same bytes on every platform). Options: see `AtomicWriter`."""
    text = isinstance(data, str)
    with atomic_writer(dest, text=text, **options) as f:
        f.write(data)
