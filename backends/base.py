"""The backend protocol: opaque keys and bytes, and the contract every backend keeps.

A backend is one replication target (a directory, an external drive, an S3 bucket, any
fsspec URL). It knows nothing of units, bundles or manifests: it stores byte strings under
keys and lists them back. What a key means is the caller's business.

Keys are relative POSIX paths of `[A-Za-z0-9._-]` segments, e.g. `units/ab/<64 hex>.zip` or
`key.toml`, checked by `validate_key` and nowhere else. Segments starting with `.arkeep-` are
reserved for the backends' own files (temp files, the drive marker) and never listed.

Errors: every method raises only `BackendError` subclasses (see `backends.errors`) for
anything that goes wrong on the remote side. Errors about a caller's *local* file
(`put_file`'s source, `get_file`'s destination) are that file's own `OSError`.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from .errors import BackendError, InvalidKey
from .localfiles import atomic_writer

RESERVED_PREFIX = ".arkeep-"
TEMP_PREFIX = ".arkeep-tmp-"
CHUNK = 1 << 20
MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")


@dataclass(frozen=True)
class UnitInfo:
    """What a listing knows about one key: its size and, where the remote keeps it, its mtime."""

    key: str
    size: int
    mtime: datetime | None


def key_problem(key: object) -> str | None:
    """Why `key` is not a valid key, or None if it is."""
    if not isinstance(key, str):
        return "not a string"
    if not key:
        return "empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"longer than {MAX_KEY_LENGTH} characters"
    if key.startswith("/"):
        return "absolute"
    for segment in key.split("/"):
        if not segment:
            return "empty path segment"
        if segment in (".", ".."):
            return f"'{segment}' segment"
        if not _SEGMENT.fullmatch(segment):
            return "characters outside [A-Za-z0-9._-]"
        if segment.startswith(RESERVED_PREFIX):
            return f"'{RESERVED_PREFIX}' names are reserved"
    return None


def validate_key(key: str, remote: str = "?") -> str:
    """Return `key` unchanged if it is a valid key, else raise `InvalidKey`.

    The one place keys are checked: no absolute paths, no `.`/`..` or empty segments, no
    backslash or control characters, nothing outside `[A-Za-z0-9._-]`, no reserved names.
    """
    problem = key_problem(key)
    if problem is not None:
        raise InvalidKey(remote, problem, key=str(key)[:80])
    return key


def validate_prefix(prefix: str, remote: str = "?") -> str:
    """A listing prefix: empty, or a key's leading characters (`units/`, `units/ab/c`)."""
    if prefix == "":
        return prefix
    validate_key(prefix.rstrip("/") or "/", remote)
    if prefix.endswith("//"):
        raise InvalidKey(remote, "empty path segment", key=prefix[:80])
    return prefix


def is_reserved(relative_path: str) -> bool:
    """True for our own files (temp files, markers) in a listing, at any depth."""
    return any(part.startswith(RESERVED_PREFIX) for part in relative_path.split("/"))


def temp_name() -> str:
    return f"{TEMP_PREFIX}{secrets.token_hex(8)}"


class Backend(ABC):
    """One remote. Subclasses implement the abstract methods; the conveniences build on them.

    Attributes:
        name: the remote's name; every error message names it.
        url: a display URL, never containing credentials.
    """

    name: str
    url: str

    @abstractmethod
    def check(self) -> None:
        """Fail fast, with the translated error, unless the remote can be used right now.

        Reachability and credentials, within seconds: `Unreachable`, `AccessDenied`,
        `NotConnected` (drive unplugged), `BucketMissing`. Returns None when all is well.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True if a complete object is stored under `key` (never a half-written one)."""

    @abstractmethod
    def info(self, key: str) -> UnitInfo:
        """Size and mtime of `key`; `NotFound` if it is missing."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[UnitInfo]:
        """Every complete object whose key starts with `prefix`, in no particular order.

        One recursive listing of the remote (not one request per key). Temp files of
        writes in progress or crashed, and other reserved names, are never included.
        """

    @abstractmethod
    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A seekable binary file with the bytes stored under `key`; `NotFound` if missing."""

    @abstractmethod
    def open_write(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary file whose bytes replace `key` atomically when the with-block ends.

        Readers see the old object or the complete new one, never a part. On a local
        filesystem the data goes to a temp file in the key's directory, is fsynced, renamed
        over the key, and the directory is fsynced; on S3 it is an upload that the store
        publishes only when it completes. If the with-block raises, nothing appears under
        `key`, the temp data is removed (or the upload aborted) and the exception propagates.
        Writing zero bytes stores an empty object; where the bytes travel to another system
        the backend checks that the stored object has exactly as many bytes as were written;
        where it reports another size the backend raises `UnconfirmedWrite` and deletes
        nothing (the object may be a stale answer or another writer's good copy).
        Overwriting an existing key is allowed. The handle always supports `write` and
        `tell`; `seek` only where `seekable()` says so (local files yes, S3 uploads no).
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`. A key that is already missing is not an error."""

    @abstractmethod
    def cleanup_temp(self, older_than: float | None = None) -> int:
        """Remove leftovers of writes that crashed (temp files, unfinished uploads).

        Returns how many were removed. On a local filesystem every writer holds a lock on its
        temp file (the kernel drops it when the writer dies, even by kill -9), so a write in
        progress is never removed. Where no such lock can be seen (unfinished S3 uploads,
        other fsspec filesystems, filesystems without locks) only leftovers untouched for
        `older_than` seconds are removed, which spares another machine's write in progress;
        None removes them all. Removing a write in progress corrupts nothing: that write fails
        and publishes nothing.
        """

    def journal_uploads(self, directory: str | os.PathLike[str]) -> None:
        """Record in the local `directory` every unfinished upload this backend starts, so that
        `cleanup_temp` can abort the ones a dead writer left whatever their age. Only backends
        whose leftovers cannot be told from a live writer's (S3 multipart uploads) use it; the
        caller guarantees no other live writer shares the directory. A no-op by default."""

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """Store the local file at `local_path` under `key`, atomically (see `open_write`)."""
        with open(local_path, "rb") as source, self.open_write(key) as target:
            shutil.copyfileobj(source, target, CHUNK)

    def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """Copy `key` to `local_path`; the local file appears complete or not at all."""
        destination = Path(local_path)
        with atomic_writer(destination, temp=destination.with_name(temp_name())) as target:
            self._download(key, target)

    def _download(self, key: str, target: BinaryIO) -> None:
        """Fetch `key` into `target`, a fresh local file; making it durable and giving it its
        name is `get_file`'s job."""
        with self.open_read(key) as source:
            shutil.copyfileobj(source, target, CHUNK)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.url}>"


class GuardedFile(io.BufferedIOBase):
    """A file object whose every operation translates foreign errors into `BackendError`s.

    Read handles own the wrapped file and close it; write handles do not, because
    `open_write` decides whether to publish or discard the data after the with-block.
    """

    def __init__(
        self,
        raw: BinaryIO,
        translate: Callable[[Exception], BackendError | None],
        *,
        owns_raw: bool,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._translate = translate
        self._owns_raw = owns_raw

    def _call(self, method: Callable[..., object], *args: object) -> object:
        try:
            return method(*args)
        except Exception as exc:
            error = self._translate(exc)
            if error is None:
                raise
            raise error from exc

    def read(self, size: int | None = -1, /) -> bytes:
        size = -1 if size is None else size
        return self._call(self._raw.read, size)  # type: ignore[return-value]

    def read1(self, size: int = -1, /) -> bytes:
        return self.read(size)

    def readinto(self, buffer: bytearray | memoryview, /) -> int:  # type: ignore[override]
        # Straight into the caller's buffer where the file can: read() + a copy cost a second
        # pass over every byte (the unsealing engine and the audit read 8 MiB at a time).
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            return self._call(readinto, buffer) or 0  # type: ignore[return-value]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        self._call(self._raw.write, data)
        return len(data)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if not self.seekable():
            raise io.UnsupportedOperation("seek")  # what zipfile probes for, as with io files
        return self._call(self._raw.seek, offset, whence)  # type: ignore[return-value]

    def tell(self) -> int:
        return self._call(self._raw.tell)  # type: ignore[return-value]

    def flush(self) -> None:
        if not self.closed and not getattr(self._raw, "closed", False):
            self._call(self._raw.flush)

    def readable(self) -> bool:
        return bool(self._raw.readable())

    def writable(self) -> bool:
        return bool(self._raw.writable())

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._owns_raw:
                self._call(self._raw.close)
        finally:
            super().close()


@contextmanager
def translated(translate: Callable[[Exception], BackendError | None]) -> Iterator[None]:
    """Run a block, raising the `BackendError` for any foreign storage error inside it."""
    try:
        yield
    except Exception as exc:
        error = translate(exc)
        if error is None or error is exc:
            raise
        raise error from exc
