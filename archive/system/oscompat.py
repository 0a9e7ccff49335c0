"""What files, locks and terminals do differently on Windows: the one place arkeep asks.

Everything else calls these and never tests `os.name` itself (manifests/catalog.py keeps its own
directory fsync, as that package may not import archive). Also: where a user's data lives.

- Locks: `flock` on POSIX; on Windows `LockFileEx` of one byte far past the lock record, so
  the record (pid, host, command) stays readable by the process that is refused (kernel32 is
  asked directly: msvcrt.locking reports a busy lock through an errno Wine leaves at 0). Both
  are released by the OS when their holder exits, even when it is killed.
- Directory fsync: POSIX makes a rename durable by fsyncing the directory; Windows cannot open a
  directory as a file (NTFS journals the rename itself), so there it is a no-op.
- Read-only files: objects are made read-only once written. Windows refuses to delete a read-only
  file or to rename another file onto it, so `replace` and `unlink` clear the attribute first.
  Windows also refuses to replace a file another process has open; `replace` tries again for a
  moment before it gives up (a virus scanner or indexer often holds a new file briefly).
"""
from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path

WINDOWS = os.name == "nt"
# Windows' and macOS's usual file systems (NTFS, APFS) treat `A.exe` and `a.exe` as one file.
FOLDS_CASE = WINDOWS or sys.platform == "darwin"

# Windows locks byte ranges and a locked range cannot be read by others: the lock sits here, well
# past the few hundred bytes of the holder's record at offset 0.
_LOCK_OFFSET = 1 << 30
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
else:
    import fcntl


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file `fd` without waiting; False if another holds it."""
    if not WINDOWS:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    where = _Overlapped(offset=_LOCK_OFFSET)
    if _kernel32.LockFileEx(msvcrt.get_osfhandle(fd),
                            _LOCKFILE_EXCLUSIVE_LOCK | _LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0,
                            ctypes.byref(where)):
        return True
    code = ctypes.get_last_error()
    if code in (_ERROR_LOCK_VIOLATION, _ERROR_IO_PENDING):
        return False
    raise ctypes.WinError(code)


def unlock(fd: int) -> None:
    if not WINDOWS:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    where = _Overlapped(offset=_LOCK_OFFSET)
    if not _kernel32.UnlockFileEx(msvcrt.get_osfhandle(fd), 0, 1, 0, ctypes.byref(where)):
        raise ctypes.WinError(ctypes.get_last_error())


def read_at(fd: int, size: int, offset: int) -> bytes:
    if not WINDOWS:
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def write_at(fd: int, data: bytes, offset: int) -> None:
    if not WINDOWS:
        os.pwrite(fd, data, offset)
        return
    os.lseek(fd, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def process_alive(pid: int) -> bool:
    """True if a process `pid` runs on this machine (or may: when we are not allowed to ask)."""
    if WINDOWS:
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _windows_process_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows: ask the kernel instead.
    kernel32 = _kernel32
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def fsync_dir(path: Path | str) -> None:
    """Make a rename or a new entry in directory `path` durable (a no-op on Windows)."""
    if WINDOWS:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_writable(path: Path | str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not mode & stat.S_IWUSR:
        os.chmod(path, mode | stat.S_IWUSR)


def replace(src: Path | str, dst: Path | str) -> None:
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


def unlink(path: Path | str, missing_ok: bool = False) -> None:
    """Remove a file, also a read-only one (Windows refuses those)."""
    try:
        if WINDOWS:
            _make_writable(path)
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise


def data_home(platform: str | None = None, environ: Mapping[str, str] | None = None,
              home: Path | None = None) -> Path:
    """Where a user's application data lives: %LOCALAPPDATA% on Windows (not roamed: a store is
    large), ~/Library/Application Support on macOS, $XDG_DATA_HOME or ~/.local/share elsewhere:
    the places platformdirs' user_data_dir gives, in a few lines rather than a dependency.
    `platform` (as sys.platform spells it), `environ` and `home` default to this machine's; a
    test passes another platform's."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if platform == "win32":
        local = environ.get("LOCALAPPDATA")
        return Path(local) if local else home / "AppData" / "Local"
    if platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = environ.get("XDG_DATA_HOME", "")
    return Path(xdg) if xdg.strip() else home / ".local" / "share"


def has_terminal() -> bool:
    """True if a person can be asked (getpass reads the console, not stdin, on both)."""
    try:
        with open("CONIN$" if WINDOWS else "/dev/tty"):
            return True
    except OSError:
        return False
