"""One implementation of the protocol over any fsspec filesystem.

Directories and drives use it with fsspec's LocalFileSystem, "any other fsspec URL" with
whatever `fsspec.url_to_fs` returns, and the S3 backend extends it. Listing, reading and
deleting are the same everywhere; only atomic writing differs:

- local: `localfiles.AtomicWriter`: temp file in the key's directory, fsync, rename, fsync
  directory (fsspec's LocalFileSystem would buffer and rename too, but without the fsyncs);
- other filesystems: write a temp name next to the key, then `fs.mv` it into place, which
  is a rename where the filesystem has one (memory, sftp, smb) and a copy where not.

fsspec itself is imported lazily by whoever builds the filesystem: importing `backends`
must stay cheap for commands that never touch a remote.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from .base import (
    TEMP_PREFIX,
    Backend,
    GuardedFile,
    UnitInfo,
    is_reserved,
    temp_name,
    translated,
    validate_key,
    validate_prefix,
)
from .errors import BackendError, NotFound, Unreachable, translate
from .localfiles import AtomicWriter, fsync_dir, write_in_progress

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_LOCAL_PROTOCOLS = {"file", "local"}


def _protocols(fs: AbstractFileSystem) -> set[str]:
    protocol = fs.protocol
    return {protocol} if isinstance(protocol, str) else set(protocol)


def _mtime(info: dict[str, Any]) -> datetime | None:
    for field in ("LastModified", "mtime", "modified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.astimezone(UTC)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def _abandoned_local_temp(path: str, details: dict[str, Any], older_than: float | None) -> bool:
    """True if no live writer holds the temp file's lock (or, where locks cannot be taken,
    if it is older than `older_than`)."""
    try:
        held = write_in_progress(path)
    except OSError:
        return False
    if held is not None:
        return not held
    return _older_than(details, older_than)


def _older_than(details: dict[str, Any], older_than: float | None) -> bool:
    if older_than is None:
        return True
    mtime = _mtime(details)
    return mtime is not None and time.time() - mtime.timestamp() >= older_than


def _find_local(base: str, named: str = "") -> dict[str, Any]:
    """What fsspec's local `find(base, detail=True)` gives for regular files, walked with
    os.scandir: path -> {"size", "mtime"} of every regular file below `base`, in path order.
    Symbolic links are neither followed nor listed and a folder that cannot be read is skipped,
    as there. fsspec builds a dict of ten fields per file through two stats and a path
    normalisation: for 20,000 units that was ~0.5 s of every sync, twice (the temp-file sweep
    walks the remote too), against ~0.05 s here. With `named`, only files whose name starts
    with it are listed (and stat'ed)."""
    found: dict[str, Any] = {}
    folders = [base.rstrip("/") or "/"]
    while folders:
        folder = folders.pop()
        prefix = folder if folder.endswith("/") else folder + "/"
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(prefix + entry.name)
                        elif entry.name.startswith(named) and entry.is_file(follow_symlinks=False):
                            st = entry.stat(follow_symlinks=False)
                            found[prefix + entry.name] = {"type": "file", "size": st.st_size,
                                                          "mtime": st.st_mtime}
                    except FileNotFoundError:
                        continue
        except OSError:
            continue
    return {path: found[path] for path in sorted(found)}


class FsspecBackend(Backend):
    """The protocol over an fsspec filesystem rooted at `root` (a path in that filesystem)."""

    def __init__(self, name: str, url: str, fs: AbstractFileSystem, root: str) -> None:
        self.name = name
        self.url = url
        self.fs = fs
        self._root = root.rstrip("/") or "/"
        self._local = bool(_protocols(fs) & _LOCAL_PROTOCOLS)

    # -- hooks for subclasses -------------------------------------------------------------

    def root(self) -> str:
        """The root path inside `fs`; drives resolve it anew when they move."""
        return self._root

    def _translate(self, exc: Exception, key: str | None = None) -> BackendError | None:
        return translate(exc, self.name, key=key)

    def _before_commit(self) -> None:
        """Last check before a write is published (drives: is it still the same drive?)."""

    # -- helpers ----------------------------------------------------------------------------

    def _guard(self, key: str | None = None) -> Any:
        return translated(lambda exc: self._translate(exc, key))

    def _path(self, key: str) -> str:
        validate_key(key, self.name)
        root = self.root()
        return f"{root}/{key}" if root != "/" else f"/{key}"

    def _relative(self, path: str, root: str) -> str:
        path = path.lstrip("/")
        root = root.strip("/")
        return path[len(root) + 1 :] if root else path

    # -- the protocol -----------------------------------------------------------------------

    def check(self) -> None:
        with self._guard():
            self._require_root(self.root())

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except NotFound:
            return False
        return True

    def info(self, key: str) -> UnitInfo:
        path = self._path(key)
        with self._guard(key):
            details = self.fs.info(path)
        if details.get("type") != "file":
            raise NotFound(self.name, key=key)
        return UnitInfo(key, int(details["size"]), _mtime(details))

    def list(self, prefix: str = "") -> Iterator[UnitInfo]:
        validate_prefix(prefix, self.name)
        root = self.root()
        folder = prefix.rpartition("/")[0]
        base = f"{root.rstrip('/')}/{folder}" if folder else root
        with self._guard():
            found = self._find(base)
            if not found:
                self._require_root(root)
        units = []
        for path, details in found.items():
            if details.get("type", "file") != "file":
                continue
            key = self._relative(path, root)
            if key.startswith(prefix) and not is_reserved(key):
                units.append(UnitInfo(key, int(details["size"]), _mtime(details)))
        self._after_list()
        return iter(units)

    def _find(self, base: str, named: str = "") -> dict[str, Any]:
        """Every file below `base` (those whose name starts with `named` at least), with details."""
        return _find_local(base, named) if self._local else self.fs.find(base, detail=True)

    def _after_list(self) -> None:
        """Drives: an empty listing from an unplugged drive must not look like 'no units'."""

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        with self._guard(key):
            raw = self.fs.open(path, "rb")
        guarded = GuardedFile(raw, lambda exc: self._translate(exc, key), owns_raw=True)
        with guarded:
            yield guarded  # type: ignore[misc]

    def open_write(self, key: str) -> Any:
        if self._local:
            return self._open_write_local(key)
        return self._open_write_renamed(key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            with self._guard(key):
                self.fs.rm_file(path)
        except NotFound:
            pass

    def cleanup_temp(self, older_than: float | None = None) -> int:
        root = self.root()
        removed = 0
        with self._guard():
            found = self._find(root, TEMP_PREFIX)
            for path, details in found.items():
                if not path.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
                    continue
                if self._local:
                    if not _abandoned_local_temp(path, details, older_than):
                        continue
                elif not _older_than(details, older_than):
                    continue
                try:
                    self.fs.rm_file(path)
                except FileNotFoundError:
                    continue
                removed += 1
        return removed

    # -- atomic writes ----------------------------------------------------------------------

    def _require_root(self, root: str) -> None:
        """The root must exist already: creating it could write "replicas" into the empty
        mount point of an unmounted NAS."""
        if not self.fs.isdir(root):
            raise Unreachable(
                self.name, f"{root} is not a directory", hint="mount it or create it, then retry"
            )

    def _make_parents_local(self, directory: str, root: str) -> None:
        """Create missing directories below `root`, each made durable in its parent."""
        missing = []
        while directory != root and not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        self._require_root(root)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            fsync_dir(os.path.dirname(path), strict=False)

    @contextmanager
    def _open_write_local(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        directory = os.path.dirname(path)
        with self._guard(key):
            self._make_parents_local(directory, self.root())
            # locked until the rename: cleanup_temp leaves this file alone
            writer = AtomicWriter(path, temp=os.path.join(directory, temp_name()),
                                  opener=lambda temp: open(temp, "xb"),  # noqa: SIM115 - the writer owns it
                                  lock=True, strict=False)
        guarded = GuardedFile(writer.file, lambda exc: self._translate(exc, key), owns_raw=False)
        try:
            yield guarded  # type: ignore[misc]
            try:
                with self._guard(key):
                    writer.commit(before_replace=self._before_commit)
            except NotFound as exc:
                # A write looks for no key: its directory went away under it (an unmounted NAS,
                # a removed folder). Say that, not "no such key".
                self._require_root(self.root())
                raise Unreachable(self.name, f"{directory} disappeared during the write",
                                  key=key, hint="check the mount or the folder, then retry") from exc
        except BaseException:
            writer.discard()
            raise
        finally:
            guarded.close()

    @contextmanager
    def _open_write_renamed(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        directory = path.rpartition("/")[0]
        temp = f"{directory}/{temp_name()}"
        with self._guard(key):
            self._require_root(self.root())
            self.fs.makedirs(directory, exist_ok=True)
            raw = self.fs.open(temp, "wb")
        guarded = GuardedFile(raw, lambda exc: self._translate(exc, key), owns_raw=False)
        try:
            yield guarded  # type: ignore[misc]
            with self._guard(key):
                written = raw.seek(0, os.SEEK_END) if raw.seekable() else raw.tell()
                raw.close()
                stored = self.fs.size(temp)
                if stored != written:
                    raise BackendError(self.name, f"stored {stored} of {written} bytes", key=key)
                self._before_commit()
                self.fs.mv(temp, path)
        except BaseException:
            self._abandon(raw, temp)
            raise
        finally:
            guarded.close()

    def _abandon(self, raw: Any, temp: str) -> None:
        """Throw a temp write away: remote buffered files drop their upload, then whatever
        reached the temp name is removed. Best effort; `cleanup_temp` catches the rest."""
        for step in (getattr(raw, "discard", None), raw.close):
            with suppress(Exception):
                if step is not None:
                    step()
        with suppress(Exception):
            if self.fs.exists(temp):
                self.fs.rm_file(temp)
