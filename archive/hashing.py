"""BLAKE3-256 digests of files and streams, in large chunks, with blake3's threads for big files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable

import blake3

CHUNK = 8 * 1024 * 1024
# Below this size the thread pool costs more than it saves.
THREADED_FROM = 16 * 1024 * 1024

Progress = Callable[[int], None]


def new_hasher(size_hint: int = 0) -> "blake3.blake3":
    if size_hint >= THREADED_FROM:
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def hash_stream(stream: BinaryIO, size_hint: int = 0, progress: Progress | None = None) -> tuple[str, int]:
    """BLAKE3 hex digest and byte count of everything `stream` yields, read in CHUNK pieces."""
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


def hash_file(path: Path | str, progress: Progress | None = None) -> str:
    """BLAKE3 hex digest of a file, streamed in CHUNK pieces, multi-threaded when large.

    Not memory-mapped: a mapping is faster by a tenth but makes the resident size grow to the
    file's size, and installers are 10 GB ISOs.
    """
    size = os.path.getsize(path)
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, size, progress)[0]


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()
