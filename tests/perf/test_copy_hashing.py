"""One pass over big files: the kernel copy hashed from the destination, the thread pipeline
when the kernel cannot copy, and early writeback. Correctness only (speed: scripts/bench)."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import blake3
import pytest

from archive.storage import hashing
from archive.errors import IntegrityError
from archive.ops.restore import copy_verified
from archive.storage.store import Store
from archive.storage.writeback import STEP, Writeback, WritebackWriter, fileno_of

SIZE = hashing.PIPELINE_FROM + 3 * 1024 * 1024 + 17      # past the threaded threshold, unaligned


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, blake3.blake3(data).hexdigest()


def copy(src: Path, dst: Path, progress: list[int] | None = None) -> tuple[str, int]:
    with open(src, "rb", buffering=0) as f:
        fd = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return hashing.copy_hashing(f, fd, progress.append if progress is not None else None)
        finally:
            os.close(fd)


def test_kernel_copy_hashes_what_was_written(big: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = big
    seen: list[int] = []
    assert copy(path, tmp_path / "out", seen) == (digest, SIZE)
    assert (tmp_path / "out").read_bytes() == path.read_bytes()
    assert sum(seen) == SIZE


@pytest.mark.parametrize("code", [errno.EXDEV, errno.ENOSYS, errno.EINVAL])
def test_without_a_kernel_copy_the_pipeline_does_the_same(big: tuple[Path, str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def refuse(*_: object) -> int:
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(os, "copy_file_range", refuse)
    path, digest = big
    seen: list[int] = []
    assert copy(path, tmp_path / "out", seen) == (digest, SIZE)
    assert (tmp_path / "out").read_bytes() == path.read_bytes()
    assert sum(seen) == SIZE


def test_hash_file_streams_big_files(big: tuple[Path, str]) -> None:
    path, digest = big
    seen: list[int] = []
    assert hashing.hash_file(path, seen.append) == digest
    assert sum(seen) == SIZE


def test_a_failing_copy_raises(big: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.copy_file_range
    calls = {"n": 0}

    def flaky(*args: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(*args)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "copy_file_range", flaky)
    with pytest.raises(OSError):
        copy(big[0], tmp_path / "out")


def test_ingest_of_a_big_file(big: tuple[Path, str], tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.tmp_dir.mkdir(parents=True)
    result = store.ingest(big[0])
    assert (result.digest, result.size, result.new) == (big[1], SIZE, True)
    assert store.object_path(big[1]).read_bytes() == big[0].read_bytes()
    assert list(store.tmp_dir.iterdir()) == []
    assert store.ingest(big[0]).new is False


def test_restore_of_a_big_object_checks_what_it_wrote(big: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = big
    dest = tmp_path / "restored.bin"
    copy_verified(path, dest, digest, "big", None)
    assert dest.read_bytes() == path.read_bytes()
    with pytest.raises(IntegrityError, match="corrupt"):
        copy_verified(path, tmp_path / "other.bin", "0" * 64, "big", None)
    assert not (tmp_path / "other.bin").exists()
    assert not any(p.name.startswith(".arkeep-restore-") for p in tmp_path.iterdir())


def test_writeback_leaves_the_bytes_alone(tmp_path: Path) -> None:
    target = tmp_path / "w.bin"
    data = os.urandom(3 * STEP + 12345)
    with open(target, "wb") as f:
        w = WritebackWriter(f)
        for i in range(0, len(data), 1 << 20):
            w.write(data[i:i + (1 << 20)])
        w.flush()
    assert target.read_bytes() == data
    fd = os.open(target, os.O_RDONLY)
    try:
        wb = Writeback(fd)
        wb.wrote(5 * STEP)          # ranges past what a read-only fd may push: errors are ignored
    finally:
        os.close(fd)


def test_fileno_of_finds_local_files_only(tmp_path: Path) -> None:
    import io

    from backends.base import GuardedFile
    with open(tmp_path / "f", "wb") as raw:
        guarded = GuardedFile(raw, lambda exc: None, owns_raw=False)
        assert fileno_of(guarded) == raw.fileno()
    assert fileno_of(io.BytesIO()) is None


def test_a_file_that_cannot_be_mapped_is_read(big: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import mmap as mmap_mod

    def refuse(*_: object, **__: object) -> object:
        raise OSError(errno.ENODEV, "No such device")
    monkeypatch.setattr(mmap_mod, "mmap", refuse)
    path, digest = big
    seen: list[int] = []
    assert hashing.hash_file(path, seen.append) == digest
    assert sum(seen) == SIZE


def test_mapped_hashing_in_small_windows(big: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "MAP_WINDOW", 1 << 20)       # many windows, a short last one
    path, digest = big
    seen: list[int] = []
    assert hashing.hash_file(path, seen.append) == digest
    assert sum(seen) == SIZE and len(seen) == -(-SIZE // (1 << 20))
