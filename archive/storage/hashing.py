"""BLAKE3-256 digests of files and streams, in large chunks; big files read, hashed and written
by overlapping threads (blake3 and file I/O release the GIL). Also the one checked copy of an
object out of the store (`copy_checked`, and `copy_verified` for a file)."""
from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import blake3

from archive.errors import IntegrityError
from archive.system.durable import writing

CHUNK = 8 * 1024 * 1024
# Below this size the thread pool costs more than it saves.
THREADED_FROM = 16 * 1024 * 1024
# Files from this size go through a thread pipeline: a reader thread fills PIPE_SLOTS buffers of
# PIPE_CHUNK bytes while the hash (and the write, when copying) runs on the previous ones, so
# the two cores work at once. Memory: PIPE_SLOTS x PIPE_CHUNK, whatever the file's size.
PIPELINE_FROM = 16 * 1024 * 1024
PIPE_CHUNK = 4 * 1024 * 1024
PIPE_SLOTS = 4

Progress = Callable[[int], None]


def new_hasher(size_hint: int = 0) -> blake3.blake3:
    if size_hint >= THREADED_FROM:
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def hash_stream(stream: BinaryIO, size_hint: int = 0, progress: Progress | None = None) -> tuple[str, int]:
    """BLAKE3 hex digest and byte count of everything `stream` yields (it needs `readinto`).

    From PIPELINE_FROM (`size_hint`) a reader thread fills the next buffers while this one
    hashes: 0.21-0.28 s per GiB in the page cache against 0.31-0.33 s read then hashed in turn
    (2026-12-05, load ~1). A copy on a remote is read, never mapped, even from a folder: a read
    error on a mapped page is a SIGBUS that kills the process, and an audit exists to find the
    failing drive and name the copy on it."""
    if size_hint >= PIPELINE_FROM:
        return _pipeline_copy_hashing(stream, None, progress)
    hasher = new_hasher(size_hint)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while n := stream.readinto(buf):  # type: ignore[attr-defined]
        hasher.update(view[:n])
        total += n
        if progress:
            progress(n)
    return hasher.hexdigest(), total


# Big files are hashed through read-only mappings of MAP_WINDOW bytes, one after the other, by
# blake3's threads: both cores hash, and fault the pages in as they go, with no copy into Python's
# buffers. Measured on 1 GiB in the page cache (2026-12-05, `/work/bench/hx.py`-style in-process
# timing, load < 1): 0.145 s against 0.14-0.15 s for b3sum, which maps the whole file; reading
# into a 16 MiB buffer took 0.30 s, and the earlier design (a helper thread pre-faulting the next
# window with MAP_POPULATE) 0.15-0.18 s for 15 % more CPU. One window at a time keeps the resident
# size at MAP_WINDOW whatever the file's size: mapping a whole 10 GB ISO, as b3sum does, shows
# 10 GB resident.
MAP_WINDOW = 16 * 1024 * 1024


def hash_file(path: Path | str, progress: Progress | None = None) -> str:
    """BLAKE3 hex digest of a file: small ones streamed, big ones mapped a window at a time."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < PIPELINE_FROM:
            return hash_stream(f, size, progress)[0]
        digest = hash_mapped(f.fileno(), size, progress)
        if digest is not None:
            return digest
        f.seek(0)
        return copy_hashing(f, None, progress)[0]


def hash_mapped(fd: int, size: int, progress: Progress | None = None) -> str | None:
    """BLAKE3 hex digest of the first `size` bytes of the open file `fd`, or None if it cannot be
    mapped (then the caller reads it instead).

    A file that shrinks while it is hashed would fault on the missing pages (SIGBUS), so its size
    is checked before every window (store objects are never rewritten in place; a change is what
    verify reports). Used for the store's own objects, on the machine's disk; a page the disk
    cannot read is a SIGBUS here, where a read would raise EIO, which is why copies on remotes
    are read (`hash_stream`)."""
    import mmap

    if hasattr(mmap, "MAP_SHARED"):
        how = {"flags": mmap.MAP_SHARED, "prot": mmap.PROT_READ}
    else:   # Windows: no flags or prot, a read-only view
        how = {"access": mmap.ACCESS_READ}
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    offset = 0
    while offset < size:
        n = min(MAP_WINDOW, size - offset)
        if os.fstat(fd).st_size < offset + n:
            raise OSError(f"the file shrank while it was being hashed (at byte {offset})")
        try:
            view = mmap.mmap(fd, n, offset=offset, **how)
        except (OSError, ValueError):
            if offset == 0:
                return None           # this file cannot be mapped at all: read it instead
            raise
        with view:
            hasher.update(view)
        offset += n
        if progress:
            progress(n)
    if os.fstat(fd).st_size != size:
        # Grown meanwhile: the digest covers `size` bytes, which is not the file any more.
        raise OSError("the file changed size while it was being hashed")
    return hasher.hexdigest()


def copy_hashing(src: Any, dst_fd: int | None, progress: Progress | None = None) -> tuple[str, int]:
    """Copy `src` (a raw binary file, read once, to its end) to `dst_fd` and return the BLAKE3 of
    the bytes copied and their count; with `dst_fd` None, only hash. The copy's pages are pushed
    to disk as they go, so the caller's fsync has little left to wait for.

    Copying goes through the kernel where it can (copy_file_range: no trip through Python's
    buffers; a reflink on filesystems that have them) and the digest is then taken of the
    destination's bytes, just copied, still in the page cache: the name we give the copy is
    the hash of exactly what was written. Elsewhere, three threads: read -> hash -> write.
    """
    if dst_fd is not None:
        done = _kernel_copy_hashing(src.fileno(), dst_fd, progress)
        if done is not None:
            return done
    return _pipeline_copy_hashing(src, dst_fd, progress)


KERNEL_STEP = 16 * 1024 * 1024


def _kernel_copy_hashing(src_fd: int, dst_fd: int, progress: Progress | None) -> tuple[str, int] | None:
    """copy_file_range in KERNEL_STEP pieces in this thread; a second thread maps each piece of
    the destination (read-only, then unmapped: constant resident memory) and hashes it. None if
    the kernel cannot copy between these two files (nothing was copied then)."""
    import errno
    import mmap
    import queue
    import threading

    from archive.storage.writeback import Writeback

    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return None
    start_src, start_dst = os.lseek(src_fd, 0, os.SEEK_CUR), os.lseek(dst_fd, 0, os.SEEK_CUR)
    try:
        first = copy(src_fd, dst_fd, KERNEL_STEP)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF,
                         errno.EPERM, errno.ETXTBSY):
            os.lseek(src_fd, start_src, os.SEEK_SET)
            os.lseek(dst_fd, start_dst, os.SEEK_SET)
            return None
        raise
    hasher = blake3.blake3()
    pieces: queue.Queue = queue.Queue(maxsize=8)
    failure: list[BaseException] = []
    page = mmap.ALLOCATIONGRANULARITY

    def hash_pieces() -> None:
        while (piece := pieces.get()) is not None:
            if failure:
                continue
            offset, length = piece
            base = offset - offset % page
            try:
                with mmap.mmap(dst_fd, length + offset - base, offset=base,
                               access=mmap.ACCESS_READ) as view:
                    hasher.update(memoryview(view)[offset - base:])
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)

    worker = threading.Thread(target=hash_pieces, name="hash-copy", daemon=True)
    worker.start()
    wb = Writeback(dst_fd, start_dst)
    total, n = 0, first
    try:
        while n and not failure:
            pieces.put((start_dst + total, n))
            total += n
            wb.wrote(n)
            if progress:
                progress(n)
            n = copy(src_fd, dst_fd, KERNEL_STEP)
    finally:
        pieces.put(None)
        worker.join()
    if failure:
        raise failure[0]
    return hasher.hexdigest(), total


def _pipeline_copy_hashing(src: Any, dst_fd: int | None,
                           progress: Progress | None = None) -> tuple[str, int]:
    from archive.storage.pipeline import Pipeline
    from archive.storage.writeback import Writeback

    hasher = blake3.blake3()     # one thread: the pipeline already keeps both cores busy
    wb = Writeback(dst_fd) if dst_fd is not None else None
    total = 0

    class Slot:
        __slots__ = ("buf", "n", "view")

        def __init__(self) -> None:
            self.buf = bytearray(PIPE_CHUNK)
            self.view = memoryview(self.buf)
            self.n = 0

    def produce(slot: Slot) -> bool:
        pos = 0
        while pos < PIPE_CHUNK:      # fill the slot: fewer, larger hand-offs between threads
            got = src.readinto(slot.view[pos:])
            if not got:
                break
            pos += got
        slot.n = pos
        return pos > 0

    def digest(slot: Slot) -> None:
        hasher.update(slot.view[:slot.n])

    def write(slot: Slot) -> None:
        nonlocal total
        chunk = slot.view[:slot.n]
        if dst_fd is not None:
            done = 0
            while done < slot.n:
                done += os.write(dst_fd, chunk[done:])
            wb.wrote(slot.n)  # type: ignore[union-attr]
        total += slot.n
        if progress:
            progress(slot.n)

    Pipeline([Slot() for _ in range(PIPE_SLOTS)], produce, [digest, write]).run()
    return hasher.hexdigest(), total


def copy_checked(src: Any, out: Any, digest: str, label: str, consequence: str,
                 size_hint: int = 0, progress: Progress | None = None, also: Iterable[Any] = ()) -> int:
    """Copy an object out of the store, checked: every byte of `src` (read once, to its end) to
    `out`, hashed with BLAKE3 (and by each hasher in `also`) on the way; IntegrityError, saying
    `consequence` ("nothing was written"), if the BLAKE3 is not `digest`. The caller writes
    `out` aside (a temp file, a zip entry in a temp file) and keeps it only if this returns.

    A big plain file (`src` and `out` real files with nothing buffered, `size_hint` from
    PIPELINE_FROM, no `also`) goes through `copy_hashing`: kernel copy or threads. Returns the
    number of bytes copied."""
    also = tuple(also)
    if size_hint >= PIPELINE_FROM and not also and _plain_file(src) and _plain_file(out):
        found, total = copy_hashing(src, out.fileno(), progress)
    else:
        hasher = new_hasher(size_hint)
        total = 0
        while chunk := src.read(CHUNK):
            hasher.update(chunk)
            for other in also:
                other.update(chunk)
            out.write(chunk)
            total += len(chunk)
            if progress:
                progress(len(chunk))
        found = hasher.hexdigest()
    if found != digest:
        raise IntegrityError(f"{label}: the stored copy is corrupt (BLAKE3 mismatch); {consequence}")
    return total


def _plain_file(f: Any) -> bool:
    """A file of the OS as `open` makes it (not a decrypting or zip stream that merely has one)."""
    return type(f) in (io.FileIO, io.BufferedReader, io.BufferedWriter)


def copy_verified(source: Path, dest: Path, digest: str, label: str, progress: Progress | None,
                  opened: BinaryIO | None = None, mode: int = 0o644) -> None:
    """The object at `source` (or `opened`: the plaintext stream of an object kept encrypted)
    copied to `dest` in one pass, hashed on the way (`copy_checked`), through a temp file beside
    `dest` that takes its name only if the digest matches: a corrupt copy writes nothing."""
    with writing(dest, f"cannot write {dest}", mode=mode, prefix=".arkeep-restore-") as out, \
            opened or open(source, "rb", buffering=0) as src:
        size = os.fstat(src.fileno()).st_size if opened is None else 0
        copy_checked(src, out, digest, label, "nothing was written. Run `arkeep repair` to mend "
                     "it from a replica", size, progress)


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


class HashingWriter:
    """A write-only wrapper that forwards to `handle` and BLAKE3-hashes exactly what it took.

    Used where a sealed unit goes to a remote: the digest of the bytes as written lets an audit
    without the passphrase tell a copy that rotted or was cut short (`arkeep audit`)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._hasher = new_hasher()
        self.count = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = self._handle.write(view)
        n = len(view) if written is None else written
        self._hasher.update(view[:n])
        self.count += n
        return n

    def flush(self) -> None:
        flush = getattr(self._handle, "flush", None)
        if flush is not None:
            flush()

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()
