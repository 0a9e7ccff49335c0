"""Durable writes (archive/system/durable.py over backends/localfiles.py) and the checked copy of
an object out of the store (archive/storage/hashing.py). tests/windows runs the same on Windows."""
from __future__ import annotations

import errno
import hashlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
import tracemalloc
from contextlib import nullcontext
from pathlib import Path

import blake3
import pytest

from archive.errors import EnvironmentFailure, IntegrityError
from archive.storage.hashing import copy_checked, copy_verified
from archive.system import durable
from backends import localfiles
from tests.crash.conftest import mount_permitted, tmpfs

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def old(tmp_path: Path) -> Path:
    dest = tmp_path / "out" / "file.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"the old contents")
    return dest


def test_a_write_replaces_the_file_with_the_mode_asked(old: Path) -> None:
    durable.write_atomic(old, b"new", mode=0o640)
    assert old.read_bytes() == b"new"
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert names(old.parent) == ["file.bin"]


def test_text_keeps_the_line_ends_asked(tmp_path: Path) -> None:
    durable.write_atomic(tmp_path / "a.toml", "a = 1\nb = 2\n", newline="\n")
    assert (tmp_path / "a.toml").read_bytes() == b"a = 1\nb = 2\n"
    durable.write_atomic(tmp_path / "b.csv", "x\n", encoding="utf-8-sig", newline="")
    assert (tmp_path / "b.csv").read_bytes() == b"\xef\xbb\xbfx\n"


def test_an_error_mid_write_leaves_the_old_file_and_no_temp_file(old: Path) -> None:
    with pytest.raises(RuntimeError, match="source went away"):
        with durable.atomic_writer(old, prefix=".arkeep-test-") as f:
            f.write(b"half of the new cont")
            f.flush()
            assert len(names(old.parent)) == 2          # the temp file, beside its name
            raise RuntimeError("source went away")
    assert old.read_bytes() == b"the old contents"
    assert names(old.parent) == ["file.bin"]


def test_a_last_check_that_refuses_publishes_nothing(old: Path) -> None:
    writer = localfiles.AtomicWriter(old)
    writer.file.write(b"new")

    def not_the_same_drive() -> None:
        raise OSError(errno.ENODEV, "the drive was swapped")
    with pytest.raises(OSError, match="swapped"):
        writer.commit(before_replace=not_the_same_drive)
    assert old.read_bytes() == b"the old contents"
    assert names(old.parent) == ["file.bin"]
    writer.discard()                                    # again: harmless


def test_a_full_disk_is_one_line_and_leaves_the_old_file(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """On a real 1 MiB tmpfs where mounting is permitted, else ENOSPC from fsync (printed)."""
    real = mount_permitted(tmp_path / "probe")
    print("full disk:", "a real 1 MiB tmpfs" if real else "ENOSPC injected at fsync")
    folder = tmp_path / "small"
    folder.mkdir()
    if not real:
        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "fsync", full)
    with tmpfs(folder, "1m") if real else nullcontext(folder):
        dest = folder / "file.bin"
        dest.write_bytes(b"the old contents")
        with pytest.raises(EnvironmentFailure) as caught:
            with durable.writing(dest, f"cannot write {dest}") as f:
                for _ in range(3):
                    f.write(os.urandom(MiB))
        monkeypatch.undo()
        assert str(caught.value) == (f"cannot write {dest}: the disk is full; free some space "
                                     "and run the command again")
        assert dest.read_bytes() == b"the old contents"
        assert names(folder) == ["file.bin"]


def test_a_read_only_destination_is_replaced(old: Path) -> None:
    os.chmod(old, 0o444)
    durable.write_atomic(old, b"mended", mode=0o444)
    assert old.read_bytes() == b"mended"
    assert stat.S_IMODE(old.stat().st_mode) == 0o444
    temp = old.parent / "aside"
    temp.write_bytes(b"mended again")
    durable.publish(temp, old, mode=0o444)
    assert old.read_bytes() == b"mended again"
    assert names(old.parent) == ["file.bin"]


def test_a_removal_is_made_durable_and_gone_already_is_fine(old: Path) -> None:
    os.chmod(old, 0o444)
    durable.remove(old)
    assert names(old.parent) == []
    durable.remove(old)


def test_a_big_file_streams_in_constant_memory(tmp_path: Path) -> None:
    dest = tmp_path / "big.bin"
    piece = os.urandom(MiB)
    expected = blake3.blake3()
    tracemalloc.start()
    try:
        with durable.atomic_writer(dest) as f:
            for i in range(64):
                f.write(piece)
                expected.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dest.stat().st_size == 64 * MiB
    assert blake3.blake3(dest.read_bytes()).hexdigest() == expected.hexdigest()
    assert peak < 4 * MiB, f"{peak} bytes traced while writing 64 MiB"


WRITER = textwrap.dedent("""
    import sys
    from backends.localfiles import AtomicWriter
    writer = AtomicWriter(sys.argv[1], lock=True, prefix=".arkeep-tmp-")
    writer.file.write(b"half")
    writer.file.flush()
    print(writer.temp, flush=True)
    sys.stdin.read()
""")


def test_a_temp_file_is_seen_in_use_while_its_writer_lives(old: Path) -> None:
    """The lock of a write in progress, seen from another process; gone with the writer, even
    when it is killed (the cleaners of the store and the remotes rely on it)."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(old)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None
        temp = writer.stdout.readline().decode().strip()
        assert Path(temp).parent == old.parent and Path(temp).read_bytes() == b"half"
        assert localfiles.write_in_progress(temp) is True
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
    assert localfiles.write_in_progress(temp) is False
    assert old.read_bytes() == b"the old contents"


def test_a_temp_file_nobody_writes_is_free(tmp_path: Path) -> None:
    stray = tmp_path / ".arkeep-tmp-stray"
    stray.write_bytes(b"left by a crash")
    assert localfiles.write_in_progress(stray) is False
    with pytest.raises(FileNotFoundError):
        localfiles.write_in_progress(tmp_path / "missing")


def test_a_folder_written_aside_is_synced_and_renamed(tmp_path: Path) -> None:
    work = tmp_path / ".bag-work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "a.bin").write_bytes(b"a")
    (work / "bagit.txt").write_text("BagIt-Version: 1.0\n")
    durable.sync_tree(work)
    durable.replace(work, tmp_path / "bag")
    assert (tmp_path / "bag" / "data" / "a.bin").read_bytes() == b"a"
    assert names(tmp_path) == ["bag"]


# -- the checked copy of an object out of the store ---------------------------------------------

@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, str]:
    source = tmp_path / "object"
    data = os.urandom(300_000)
    source.write_bytes(data)
    return source, blake3.blake3(data).hexdigest()


def test_the_verified_copy_writes_the_bytes(stored: tuple[Path, str], old: Path) -> None:
    source, digest = stored
    copy_verified(source, old, digest, "P@1 / setup.exe", None)
    assert old.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(old.stat().st_mode) == 0o644
    assert names(old.parent) == ["file.bin"]


def test_the_verified_copy_refuses_a_wrong_digest_and_leaves_nothing(
        stored: tuple[Path, str], old: Path) -> None:
    source, digest = stored
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    with pytest.raises(IntegrityError, match="P@1 / setup.exe: the stored copy is corrupt"):
        copy_verified(source, old, wrong, "P@1 / setup.exe", None)
    assert old.read_bytes() == b"the old contents"       # a file already there is untouched
    new = old.parent / "new.bin"
    with pytest.raises(IntegrityError):
        copy_verified(source, new, wrong, "P@1 / setup.exe", None)
    assert names(old.parent) == ["file.bin"]              # nothing new, no temp file


def test_a_checked_copy_feeds_other_hashers_and_counts(stored: tuple[Path, str],
                                                        tmp_path: Path) -> None:
    source, digest = stored
    sha = hashlib.sha512()
    seen: list[int] = []
    with open(source, "rb") as src, open(tmp_path / "copy", "wb") as out:
        n = copy_checked(src, out, digest, "x", "nothing was written", 0, seen.append, also=(sha,))
    assert n == sum(seen) == source.stat().st_size
    assert sha.hexdigest() == hashlib.sha512(source.read_bytes()).hexdigest()
    with open(source, "rb") as src, open(tmp_path / "copy2", "wb") as out:
        with pytest.raises(IntegrityError, match="nothing was exported"):
            copy_checked(src, out, "0" * 64, "x", "nothing was exported")
