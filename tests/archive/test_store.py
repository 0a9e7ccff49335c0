"""The content-addressed store: layout, dedup, read-only objects, temp files, and the writer lock."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from archive.storage import store as store_mod
from archive.errors import EnvironmentFailure, StoreLocked, StoreMissing, UsageError
from archive.storage.hashing import hash_file
from archive.system.lock import store_lock
from archive.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from archive.storage.store import Store
    with Store(Path(sys.argv[1])).writing("arkeep test-holder"):
        print("locked", flush=True)
        sys.stdin.read() if sys.argv[2] == "stdin" else time.sleep(600)
""")


def b3sum(path: Path) -> str:
    return subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(store_dir: Path) -> Store:
    return Store.open(store_dir)


def holder(store_dir: Path, mode: str) -> subprocess.Popen[str]:
    """A separate process that holds the store lock until its stdin closes (or it is killed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store_dir), mode], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_fresh_store_has_the_documented_layout(store: Store) -> None:
    for d in ("objects", "manifests/releases", "manifests/licenses", "state", "tmp"):
        assert (store.root / d).is_dir(), d
    assert store.config["schema"] == 1 and store.config["kind"] == "store"
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    assert store.config["key_id"] == store.wrapped_key()["key_id"]


def test_object_path_layout_and_name_equal_b3sum(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "setup.exe"
    src.write_bytes(os.urandom(200_000))
    with store.writing("test"):
        result = store.ingest(src)
    digest = b3sum(src)
    assert result.digest == digest and result.size == 200_000 and result.new
    path = store.object_path(digest)
    assert path.relative_to(store.root).parts == ("objects", digest[:2], digest[2:4], digest)
    assert path.read_bytes() == src.read_bytes()
    assert hash_file(path) == digest
    assert list(store.iter_objects()) == [(digest, path)]
    assert store.has_object(digest)


def test_same_content_is_stored_once(store: Store, tmp_path: Path) -> None:
    data = os.urandom(50_000)
    a, b = tmp_path / "a.exe", tmp_path / "copy of a.exe"
    a.write_bytes(data)
    b.write_bytes(data)
    with store.writing("test"):
        first, second = store.ingest(a), store.ingest(b)
    assert first.digest == second.digest
    assert (first.new, second.new) == (True, False)
    assert len(all_files(store.objects_dir)) == 1


def test_objects_are_read_only(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"read only please")
    with store.writing("test"):
        digest = store.ingest(src).digest
    assert stat.S_IMODE(store.object_path(digest).stat().st_mode) == 0o444


def test_ingest_leaves_nothing_in_tmp(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(os.urandom(10_000))
    with store.writing("test"):
        store.ingest(src)
        store.ingest(src)                        # the duplicate path too
        assert list(store.tmp_dir.iterdir()) == []


def test_a_failed_write_leaves_no_object_and_no_temp_file(store: Store, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "f"
    src.write_bytes(os.urandom(10_000))

    def full_disk(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.os, "write", full_disk)
    with store.writing("test"), pytest.raises(EnvironmentFailure, match="disk is full"):
        store.ingest(src)
    monkeypatch.undo()
    assert all_files(store.objects_dir) == []
    assert list(store.tmp_dir.iterdir()) == []


def test_leftovers_in_tmp_are_removed_by_writing(store: Store) -> None:
    (store.tmp_dir / "ingest-abandoned").write_bytes(b"half an installer")
    (store.tmp_dir / "somedir").mkdir()
    (store.tmp_dir / "somedir" / "x").write_bytes(b"x")
    with store.writing("test"):
        assert list(store.tmp_dir.iterdir()) == []


def test_open_refuses_a_missing_store_and_create_refuses_an_existing_one(tmp_path: Path,
                                                                         store: Store) -> None:
    with pytest.raises(StoreMissing, match="arkeep init"):
        Store.open(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="already holds an arkeep store"):
        Store.create(store.root, store.wrapped_key())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "photo.jpg").write_bytes(b"x")
    with pytest.raises(UsageError, match="not empty"):
        Store.create(tmp_path / "busy", store.wrapped_key())


def test_unknown_store_format_is_refused(store: Store) -> None:
    store.config_path.write_text('schema = 2\nkind = "store"\n')
    with pytest.raises(UsageError, match="upgrade arkeep"):
        Store.open(store.root)


def test_object_path_refuses_non_digests(store: Store) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63, ""):
        with pytest.raises(ValueError):
            store.object_path(bad)


def test_second_writer_is_told_pid_and_host(store: Store) -> None:
    proc = holder(store.root, "stdin")
    try:
        with pytest.raises(StoreLocked) as exc:
            with store.writing("second"):
                pass
        message = str(exc.value)
        assert f"pid {proc.pid}" in message
        assert socket.gethostname() in message
        assert "arkeep test-holder" in message
        assert exc.value.exit_code == 3
        info = json.loads((store.root / "lock").read_text())
        assert info["pid"] == proc.pid and info["host"] == socket.gethostname()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    with store.writing("after"):                  # released when the holder finished
        info = json.loads((store.root / "lock").read_text())
        assert info["pid"] == os.getpid()
    assert (store.root / "lock").read_text() == ""


def test_a_stale_lock_from_a_killed_process_is_taken_over(store: Store) -> None:
    proc = holder(store.root, "sleep")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    left = json.loads((store.root / "lock").read_text())
    assert left["pid"] == proc.pid                # the dead holder's record is still there
    with store_lock(store.root / "lock", "arkeep takeover") as stale:
        assert stale is not None and stale["pid"] == proc.pid
        assert json.loads((store.root / "lock").read_text())["pid"] == os.getpid()
    with store.writing("again"):
        pass


def test_the_lock_waits_when_asked(store: Store) -> None:
    proc = holder(store.root, "stdin")
    try:
        with pytest.raises(StoreLocked):
            with store_lock(store.root / "lock", "waiter", wait=0.3):
                pass
        assert proc.stdin is not None
        threading.Timer(0.5, proc.stdin.close).start()      # the holder finishes in 0.5 s
        started = time.monotonic()
        with store_lock(store.root / "lock", "waiter", wait=10.0):
            assert time.monotonic() - started >= 0.4
    finally:
        proc.kill()
        proc.wait(timeout=10)
