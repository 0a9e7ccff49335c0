"""What files, locks and terminals do differently on Windows: the one place arkeep asks.

Everything else in `archive` calls these and never tests `os.name` itself. Also: where a user's
data lives.

- Locks, directory fsync, read-only files, replacing a file another process holds: the code is
  `backends/localfiles.py` (the remotes of `backends` need the same, and `backends` may not import
  `archive`), re-exported here for `archive`; its docstring says what each platform does.
  Durable writes themselves go through `archive/system/durable.py`.
- Positioned reads and writes: Windows has no `pread`/`pwrite`.
- Processes: `os.kill(pid, 0)` would end a process on Windows; the kernel is asked instead.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from backends.localfiles import WINDOWS, fsync_dir, replace, try_lock, unlink, unlock

__all__ = ["FOLDS_CASE", "WINDOWS", "data_home", "fsync_dir", "has_terminal", "process_alive",
           "read_at", "replace", "try_lock", "unlink", "unlock", "write_at"]

# Windows' and macOS's usual file systems (NTFS, APFS) treat `A.exe` and `a.exe` as one file.
FOLDS_CASE = WINDOWS or sys.platform == "darwin"


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
    import ctypes
    from ctypes import wintypes
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
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


def runtime_dir() -> Path:
    """This user's directory for sockets and other short-lived files, which only the user may
    enter: $XDG_RUNTIME_DIR/arkeep (emptied at logout), else a private folder in the temp
    directory; %LOCALAPPDATA%\\arkeep\\run on Windows. A folder there that another user owns,
    that others may enter, or that is a symbolic link is refused, not used."""
    if WINDOWS:
        base = data_home() / "arkeep" / "run"
        base.mkdir(parents=True, exist_ok=True)
        return base
    import stat
    import tempfile

    xdg = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(xdg) / "arkeep" if xdg else Path(tempfile.gettempdir()) / f"arkeep-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = base.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        from archive.errors import EnvironmentFailure
        raise EnvironmentFailure(f"{base} is not a private folder of yours (owner, mode or a link): "
                                 "arkeep keeps its agent's socket there; remove it or set XDG_RUNTIME_DIR")
    return base
