"""Where things are on a system disk: the hives, the users' profiles, the program folders.

A disk from Windows mounted on Linux keeps Windows's names but not its indifference to case,
so each name is looked up without regard to case. Listing a folder is bounded. Nothing here
writes, and nothing follows a symbolic link out of the disk.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAX_ENTRIES = 10_000          # entries looked at in one folder


@dataclass(frozen=True)
class User:
    name: str
    home: Path


@dataclass
class Layout:
    """The places of one system, found under `root` (None: the running system)."""

    root: Path | None
    software: Path | None = None                       # Windows/System32/config/SOFTWARE
    older_software: list[Path] = field(default_factory=list)   # Windows.old's: before an upgrade
    windows_users: list[User] = field(default_factory=list)
    mac_users: list[User] = field(default_factory=list)
    linux_users: list[User] = field(default_factory=list)
    programfiles: list[Path] = field(default_factory=list)
    systemdrive: list[Path] = field(default_factory=list)
    mac_system: Path | None = None                     # /Library
    applications: list[Path] = field(default_factory=list)
    firmware: list[Path] = field(default_factory=list)  # ACPI tables of the running computer
    etc: list[Path] = field(default_factory=list)       # a Linux system's /etc
    problems: list[tuple[str, str]] = field(default_factory=list)   # (where, why)

    @property
    def systems(self) -> tuple[str, ...]:
        found = []
        if self.software or self.older_software or self.windows_users:
            found.append("windows")
        if self.mac_users or self.mac_system:
            found.append("macos")
        if self.linux_users or self.etc:
            found.append("linux")
        return tuple(found)

    def appdata(self) -> list[tuple[User, Path]]:
        out = []
        for u in self.windows_users:
            for rel in ("AppData/Roaming", "Application Data"):
                p = child_path(u.home, rel)
                if p is not None:
                    out.append((u, p))
                    break
        return out

    def appsupport(self) -> list[tuple[User | None, Path]]:
        out: list[tuple[User | None, Path]] = []
        if self.mac_system is not None:
            p = child_path(self.mac_system, "Application Support")
            if p is not None:
                out.append((None, p))
        for u in self.mac_users:
            p = child_path(u.home, "Library/Application Support")
            if p is not None:
                out.append((u, p))
        return out

    def config(self) -> list[tuple[User, Path]]:
        out = []
        for u in self.linux_users:
            p = child_path(u.home, ".config")
            if p is not None:
                out.append((u, p))
        return out


def entries(folder: Path) -> list[os.DirEntry[str]]:
    """At most MAX_ENTRIES entries of `folder`, sorted by name; [] when it cannot be listed."""
    out = []
    try:
        with os.scandir(folder) as it:
            for n, entry in enumerate(it):
                if n >= MAX_ENTRIES:
                    break
                out.append(entry)
    except OSError:
        return []
    return sorted(out, key=lambda e: e.name)


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file: never through a final symbolic link,
    never waiting on a FIFO, never a device (a disk may hold anything under a familiar name)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_BINARY", 0))
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def child(folder: Path, name: str) -> Path | None:
    """`folder/name`, the name matched without regard to case; None when absent."""
    exact = folder / name
    try:
        if os.path.lexists(exact):
            return exact
    except OSError:
        return None
    want = name.casefold()
    for entry in entries(folder):
        if entry.name.casefold() == want:
            return Path(entry.path)
    return None


def child_path(folder: Path, rel: str) -> Path | None:
    here: Path | None = folder
    for part in rel.split("/"):
        if here is None:
            return None
        here = child(here, part)
    return here


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir() and not p.is_symlink()
    except OSError:
        return False


def _users(folder: Path | None, skip: tuple[str, ...]) -> list[User]:
    if folder is None or not _is_dir(folder):
        return []
    return [User(e.name, Path(e.path)) for e in entries(folder)
            if e.name.casefold() not in skip and not e.name.startswith(".")
            and e.is_dir(follow_symlinks=False)]


WINDOWS_SKIP = ("public", "default", "default user", "all users", "localservice", "networkservice")


def find_layout(root: Path) -> Layout:
    """The places of the system whose disk is mounted (or copied) at `root`."""
    lay = Layout(root=root)
    windir = child(root, "Windows")
    if windir is not None:
        lay.software = child_path(windir, "System32/config/SOFTWARE")
        if lay.software is None:
            lay.problems.append((str(windir), "no System32/config/SOFTWARE hive: no registry to read"))
    old = child_path(root, "Windows.old/Windows/System32/config/SOFTWARE")
    if old is not None:
        lay.older_software.append(old)
    for folder in ("Users", "Documents and Settings"):
        for u in _users(child(root, folder), WINDOWS_SKIP):
            if child(u.home, "NTUSER.DAT") is not None or child(u.home, "AppData") is not None \
                    or child(u.home, "Application Data") is not None:
                lay.windows_users.append(u)
            elif child_path(u.home, "Library") is not None:
                lay.mac_users.append(u)
    if windir is not None or lay.windows_users:
        lay.systemdrive = [root]
        lay.programfiles = [p for p in (child(root, "Program Files"), child(root, "Program Files (x86)"))
                            if p is not None]
    library = child(root, "Library")
    if library is not None and child(root, "Applications") is not None:
        lay.mac_system = library
        lay.applications.append(child(root, "Applications"))  # type: ignore[arg-type]
    lay.applications += [a for u in lay.mac_users if (a := child(u.home, "Applications"))]
    lay.linux_users = _users(child(root, "home"), ())
    etc = child(root, "etc")
    if lay.linux_users and etc is not None and _is_dir(etc):
        lay.etc = [etc]
    return lay


def running_layout(home: Path) -> Layout:
    """The running macOS or Linux system, as far as this user can see it: the system's own
    places and this user's home (other users' homes are theirs)."""
    lay = Layout(root=None)
    user = User(home.name, home)
    if child(home, "Library") is not None and Path("/Applications").is_dir():
        lay.mac_users = [user]
        lay.mac_system = Path("/Library")
        lay.applications = [Path("/Applications")] + [a for a in [child(home, "Applications")] if a]
    else:
        lay.linux_users = [user]
        lay.etc = [Path("/etc")]
    tables = Path("/sys/firmware/acpi/tables")
    if tables.is_dir():
        lay.firmware = [tables]
    return lay
