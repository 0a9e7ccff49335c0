"""Reading the Windows registry: hive files from a disk (through regipy), or the live registry
(through winreg), behind one small interface the harvest asks.

A hive from an old disk may be damaged, truncated, from a Windows we never saw, or made to
hurt: every read is bounded (the file's size, the number of subkeys listed, the size of a value)
and every failure of the parser becomes `HiveUnreadable` with a reason, never a traceback. Only
paths and counts go into a message: a value can be a key.
"""
from __future__ import annotations

import logging
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from archive.errors import UsageError
from archive.intake.harvest.layout import open_regular

MAX_HIVE_BYTES = 1024 * 1024 * 1024   # a SOFTWARE hive is tens of MB; a bigger file is not one
MAX_SUBKEYS = 20_000                  # listed under one key (Uninstall holds a few hundred)
MAX_LOOKUP = 200_000                  # looked at to find one subkey (Classes holds tens of thousands)
MAX_VALUES = 4_096                    # read from one key
MAX_VALUE_BYTES = 1024 * 1024         # a value larger than this is skipped
MAX_READ = 4 * MAX_VALUE_BYTES        # the most regipy reads at once (a larger value is cut short)
KNOWN_MINOR = range(2, 7)             # regf 1.2 (NT 4) to 1.6 (Windows 10 and 11)

T = TypeVar("T")


class HiveUnreadable(UsageError):
    """A hive that cannot be read, with the reason (never a value from inside it)."""


class Registry(Protocol):
    """What the harvest asks of a registry hive, offline or live. Paths are backslash-separated,
    relative to the hive's root, matched without regard to case."""

    label: str

    def subkeys(self, path: str) -> list[str] | None:
        """The names of the subkeys of `path` (at most MAX_SUBKEYS); None when it does not exist."""

    def values(self, path: str) -> dict[str, Any] | None:
        """The values of `path`, by name ('' for the default value); None when it does not exist."""


def _quiet_regipy() -> None:
    # regipy logs parse failures; they are ours to report, once, in our words.
    log = logging.getLogger("regipy")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())


def check_header(path: Path) -> list[str]:
    """Read the 4 KiB base block: refuse what is not a hive, and return notes on what is odd
    (a version Windows never wrote, a hive not closed cleanly)."""
    if path.is_symlink():
        raise HiveUnreadable(f"{path}: a symbolic link, not followed (it could lead off the disk)")
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4096)
    except OSError as exc:
        raise HiveUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size > MAX_HIVE_BYTES:
        raise HiveUnreadable(f"{path}: {size} bytes, larger than any registry hive "
                             f"({MAX_HIVE_BYTES} at most); not read")
    if head[:4] != b"regf":
        raise HiveUnreadable(f"{path}: not a registry hive (no 'regf' signature)")
    if len(head) < 4096 or size < 8192:
        raise HiveUnreadable(f"{path}: truncated ({size} bytes; a hive has a 4 KiB header and "
                             "at least one 4 KiB bin)")
    primary, secondary, _, major, minor = struct.unpack_from("<IIQII", head, 4)
    root_cell = struct.unpack_from("<I", head, 0x24)[0]
    root_sig = b""
    try:
        with open_regular(path) as f:
            first_bin = f.read(4096 + 8)
            if 4096 + root_cell + 6 <= size:
                f.seek(4096 + root_cell + 4)
                root_sig = f.read(2)
    except OSError as exc:
        raise HiveUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if first_bin[4096:4100] != b"hbin":
        raise HiveUnreadable(f"{path}: damaged (its first bin has no 'hbin' signature)")
    if root_sig != b"nk":
        raise HiveUnreadable(f"{path}: damaged (its root key is not where the header says)")
    notes = []
    if major != 1 or minor not in KNOWN_MINOR:
        notes.append(f"format version {major}.{minor}, not one Windows is known to write "
                     "(1.2 to 1.6); read as far as it goes")
    if primary != secondary:
        notes.append("not closed cleanly: the last changes are in its .LOG files, which are "
                     "not applied, so what is read may be older than what Windows showed")
    data_size = struct.unpack_from("<I", head, 0x28)[0]
    if 4096 + data_size > size:
        notes.append(f"shorter than its header says ({size} of {4096 + data_size} bytes): "
                     "keys past the end are missing")
    return notes


class OfflineHive:
    """A hive file, read with regipy."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.notes = check_header(path)
        _quiet_regipy()
        self._hive = self._guard(lambda: _mapped_hive(path), "its root key")
        # keys found, by path folded to lower case: listing a key with hundreds of subkeys and
        # then reading each would otherwise walk from the root, and scan its siblings, each time
        self._keys: dict[str, Any] = {"": self._hive.root}

    def close(self) -> None:
        """Let go of the file's map (on Windows an open map keeps the file from being moved)."""
        stream = getattr(self._hive, "_stream", None)
        if stream is not None and hasattr(stream, "close"):
            stream.close()

    def _guard(self, read: Callable[[], T], what: str) -> T:
        try:
            return read()
        except (HiveUnreadable, ImportError):
            raise                           # a missing regipy is named as such, not as damage
        except MemoryError:
            raise HiveUnreadable(f"{self.path}: damaged ({what} would need more memory than "
                                 "the file holds)") from None
        except RecursionError:
            raise HiveUnreadable(f"{self.path}: damaged ({what} loops back on itself)") from None
        # regipy raises its own errors, construct's, and struct, index, unicode and value errors
        # on a damaged hive: each is a damaged hive here.
        except Exception as exc:  # noqa: BLE001
            raise HiveUnreadable(f"{self.path}: damaged or truncated where {what} should be "
                                 f"({type(exc).__name__})") from None

    def _key(self, path: str) -> Any:
        parts = [p for p in path.split("\\") if p]
        folded = "\\".join(parts).casefold()
        if folded in self._keys:
            return self._keys[folded]

        def find() -> Any:
            key = self._hive.root
            for part in parts:
                key = self._subkey(key, part, path)
                if key is None:
                    return None
            return key
        found = self._guard(find, f"the key {path}")
        if len(self._keys) < MAX_SUBKEYS * 4:
            self._keys[folded] = found
        return found

    def _subkey(self, key: Any, name: str, path: str) -> Any:
        """The subkey `name` of `key`, looking at no more than MAX_LOOKUP of them: a damaged
        index can repeat one list of 65,535 keys 65,535 times (regipy's own look-up reads
        them all)."""
        if not key.subkey_count:
            return None
        want = name.casefold()
        for n, sub in enumerate(key.iter_subkeys()):
            if n >= MAX_LOOKUP:
                raise HiveUnreadable(f"{self.path}: damaged (more than {MAX_LOOKUP} subkeys "
                                     f"where {path} is looked up)")
            if getattr(sub, "name", "").casefold() == want:
                return sub
        return None

    def subkeys(self, path: str) -> list[str] | None:
        key = self._key(path)
        if key is None:
            return None

        base = "\\".join(p for p in path.split("\\") if p).casefold()

        def names() -> list[str]:
            out = []
            if not key.subkey_count:
                return out
            for sub in key.iter_subkeys():
                out.append(sub.name)
                if len(self._keys) < MAX_SUBKEYS * 4:
                    self._keys.setdefault(f"{base}\\{sub.name}".lstrip("\\").casefold(), sub)
                if len(out) >= MAX_SUBKEYS:
                    break
            return out
        return self._guard(names, f"the subkeys of {path}")

    def values(self, path: str) -> dict[str, Any] | None:
        key = self._key(path)
        if key is None:
            return None

        def read() -> dict[str, Any]:
            out: dict[str, Any] = {}
            if not key.values_count:
                return out
            for n, v in enumerate(key.iter_values(trim_values=False)):
                if n >= MAX_VALUES:
                    break
                if v.is_corrupted:
                    continue
                value = v.value
                if isinstance(value, bytes | str) and len(value) > MAX_VALUE_BYTES:
                    continue
                name = "" if v.name in ("(default)", "(Default)") else v.name
                out[name] = value
            return out
        return self._guard(read, f"the values of {path}")


class MappedStream:
    """A read-only map read as a file, as regipy reads its stream: `seek` returns the new
    position (regipy asks `seek(0, 2)` for the file's size when it joins a value of more than
    16 KiB, and a map's `seek` returns None before Python 3.13), and no one read takes more than
    MAX_READ (a damaged value can claim up to 2 GiB, and regipy reads it before we see it)."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > MAX_READ:
            size = MAX_READ
        return bytes(self._data.read(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        self._data.seek(offset, whence)
        return int(self._data.tell())

    def tell(self) -> int:
        return int(self._data.tell())

    def close(self) -> None:
        self._data.close()


def _mapped_hive(path: Path) -> Any:
    """regipy's RegistryHive over a read-only memory map of the file: regipy itself copies the
    whole hive into memory, a map lets the system page it in and out as it is read. The few
    steps of regipy 6.5's constructor are repeated here with the map as the stream."""
    import mmap

    from regipy.registry import NKRecord, RegistryHive
    from regipy.structs import REGF_HEADER
    from regipy.utils import boomerang_stream

    hive = RegistryHive.__new__(RegistryHive)
    hive.partial_hive_path = None
    hive.hive_type = None
    with open_regular(path) as f:
        hive._stream = MappedStream(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    with boomerang_stream(hive._stream) as s:
        hive.header = REGF_HEADER.parse_stream(s)
        root_cell = next(hive.get_hbin_at_offset().iter_cells(s))
        hive.root = NKRecord(root_cell, s)
    hive.name = hive.header.file_name
    return hive


class LiveRegistry:
    """The running Windows's registry, under one root key (HKEY_LOCAL_MACHINE\\SOFTWARE or
    HKEY_CURRENT_USER), through winreg; the 64-bit view, so WOW6432Node is seen as on disk."""

    def __init__(self, root: str, prefix: str = "") -> None:
        import winreg  # noqa: F401  (Windows only; the caller checks the platform)

        self.root = root
        self.prefix = prefix
        self.label = f"{root}\\{prefix}" if prefix else root

    def _open(self, path: str) -> Any:
        import winreg

        full = "\\".join(p for p in (self.prefix, path) if p)
        try:
            return winreg.OpenKey(getattr(winreg, self.root), full, 0,
                                  winreg.KEY_READ | winreg.KEY_WOW64_64KEY)
        except OSError:
            return None

    def subkeys(self, path: str) -> list[str] | None:
        import winreg

        key = self._open(path)
        if key is None:
            return None
        out = []
        with key:
            for n in range(MAX_SUBKEYS):
                try:
                    out.append(winreg.EnumKey(key, n))
                except OSError:
                    break
        return out

    def values(self, path: str) -> dict[str, Any] | None:
        import winreg

        key = self._open(path)
        if key is None:
            return None
        out: dict[str, Any] = {}
        with key:
            for n in range(MAX_VALUES):
                try:
                    name, value, _ = winreg.EnumValue(key, n)
                except OSError:
                    break
                if isinstance(value, bytes | str) and len(value) > MAX_VALUE_BYTES:
                    continue
                out[name] = value
        return out


def live_registry_available() -> bool:
    return sys.platform == "win32" and os.name == "nt"
