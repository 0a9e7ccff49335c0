"""Durable file writes: the one way `archive` puts a file on disk.

A crash, kill -9, full disk or power cut while a file is written leaves the old file or the new
one under its name, never a part, and no temp file stays behind after an error:

- `atomic_writer(dest, …)`: a with-block yielding a writable file (any size: constant memory)
  whose contents take `dest`'s name when the block ends; `write_atomic(dest, data, …)` for data
  already in memory; `writing(dest, what, …)`: the same, an OSError said as one line.
- `publish(temp, dest, mode=…)`: a file written aside (the store writes objects in `tmp/`)
  renamed into place durably, also over a read-only file.
- `remove(path)`: a file removed, and the removal made durable.
- `fsync_dir`, `replace`, `unlink`: the steps, with what Windows does differently.
- `sync_tree`: a folder written aside made durable before it is renamed as a whole.

The copy of an object out of the store, checked against its BLAKE3 before it takes its name, is
`archive/storage/hashing.copy_verified` (built on `atomic_writer`): it hashes with the store's
copy pipeline, which lives in `storage/`, a room above this one.

The implementation is `backends/localfiles.py`: the directory and drive remotes write local
files durably too, and `backends` may not import `archive`, so the code lives there and this
module is where `archive` asks for it. `manifests` may import neither, and keeps its own small
copy for the catalog (`manifests/catalog.write_atomic`).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from archive.errors import environment_error
from backends.localfiles import (
    AtomicWriter,
    atomic_writer,
    fsync_dir,
    publish,
    remove,
    replace,
    sync_tree,
    unlink,
    write_atomic,
)

__all__ = ["AtomicWriter", "atomic_writer", "fsync_dir", "publish", "remove", "replace",
           "sync_tree", "unlink", "write_atomic", "writing"]


@contextmanager
def writing(dest: str | os.PathLike[str], what: str, **options: Any) -> Iterator[IO[Any]]:
    """`atomic_writer`, with an OSError (from the block or from the write itself) raised as our
    one-line environment error that starts with `what` (e.g. "cannot write FILE")."""
    try:
        with atomic_writer(dest, **options) as f:
            yield f
    except OSError as exc:
        raise environment_error(exc, what) from None
