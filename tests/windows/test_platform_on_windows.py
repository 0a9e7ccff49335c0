"""What archive/system/oscompat.py does differently on Windows, checked on Windows CPython (Wine)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import WindowsPython, winpath
from .test_cli_on_windows import ok

HOLD_THE_LOCK = """
import sys
from pathlib import Path
from archive.system.lock import store_lock
with store_lock(Path(sys.argv[1]), "arkeep sync"):
    print("held", flush=True)
    sys.stdin.read()
"""

READ_ONLY = """
import os, sys
from archive.system import oscompat
target, new = sys.argv[1] + "\\\\object", sys.argv[1] + "\\\\tmp"
for path, data in ((target, b"old"), (new, b"new")):
    with open(path, "wb") as f:
        f.write(data)
os.chmod(target, 0o444)
oscompat.replace(new, target)
print(open(target, "rb").read().decode())
os.chmod(target, 0o444)
oscompat.unlink(target)
print(os.path.exists(target))
"""

HELD_OPEN = """
import os, sys, threading
from archive.system import oscompat
target, new = sys.argv[1] + "\\\\object", sys.argv[1] + "\\\\tmp"
for path, data in ((target, b"old"), (new, b"new")):
    with open(path, "wb") as f:
        f.write(data)
reader = open(target, "rb")            # as a virus scanner or an indexer holds a new file
try:
    os.replace(new, target)
    print("plain replace: done")
except PermissionError:
    print("plain replace: refused")
try:
    oscompat.replace(new, target)      # held all along: it gives up, and loses nothing
except PermissionError:
    print("held: refused", open(target, "rb").read().decode(), open(new, "rb").read().decode())
threading.Timer(0.2, reader.close).start()
oscompat.replace(new, target)          # let go of within its patience: it goes through
print("let go:", open(target, "rb").read().decode(), os.path.exists(new))
"""


def test_the_default_store_is_in_localappdata(windows_python: WindowsPython) -> None:
    # Wine sets %LOCALAPPDATA% from its own profile whatever the Linux side says: compare with it
    shown = ok(windows_python.run(
        "-c", "import os; from archive.storage.store import default_store_path; "
              "print(os.environ['LOCALAPPDATA']); print(default_store_path())"))
    local, store = shown.out.splitlines()
    assert local.endswith("AppData\\Local")
    assert store == local + "\\arkeep"


def test_a_second_writer_is_told_who_holds_the_store(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    win = windows_python
    store = winpath(tmp_path / "store")
    ok(win.arkeep("--store", store, "init"))
    holder = subprocess.Popen([win.loader, str(win.python), "-c", HOLD_THE_LOCK,
                               store + "\\lock"], env=win.env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        refused = win.arkeep("--store", store, "add", "--product", "P", "--version", "1",
                             winpath(win.python))
        assert refused.code == 3, refused.err
        assert "in use by pid" in refused.err and "(arkeep sync" in refused.err
    finally:
        holder.communicate(b"", timeout=120)
    ok(win.arkeep("--store", store, "add", "--product", "P", "--version", "1", winpath(win.python)))


def test_a_read_only_file_is_replaced_and_removed(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    result = ok(windows_python.run("-c", READ_ONLY, winpath(tmp_path)))
    assert result.out.split() == ["new", "False"]


def test_replace_onto_a_file_another_handle_holds_open(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """Windows refuses to rename onto a file that is open (Python opens without
    FILE_SHARE_DELETE): oscompat.replace waits for it a moment, and gives up without losing the
    new file when it stays open."""
    result = ok(windows_python.run("-c", HELD_OPEN, winpath(tmp_path)))
    assert result.out.splitlines() == ["plain replace: refused", "held: refused old new",
                                       "let go: new False"]


DURABLE = """
import os, sys
from archive.system import durable
folder = sys.argv[1]
dest = os.path.join(folder, "file.bin")
with open(dest, "wb") as f:
    f.write(b"old")
os.chmod(dest, 0o444)
try:
    with durable.atomic_writer(dest, prefix=".arkeep-test-") as f:
        f.write(b"half")
        raise RuntimeError("cut short")
except RuntimeError:
    pass
print(open(dest, "rb").read().decode(), sorted(os.listdir(folder)))
durable.write_atomic(dest, b"new", mode=0o444)
print(open(dest, "rb").read().decode(), sorted(os.listdir(folder)))
"""

HOLD_A_TEMP = """
import sys
from backends.localfiles import AtomicWriter
writer = AtomicWriter(sys.argv[1], lock=True, prefix=".arkeep-tmp-")
writer.file.write(b"x" * 100000)
print(writer.temp, flush=True)
sys.stdin.read()
writer.commit()
print("committed", flush=True)
"""

IN_PROGRESS = "import sys; from backends.localfiles import write_in_progress; print(write_in_progress(sys.argv[1]))"


def test_durable_writes_on_windows(windows_python: WindowsPython, tmp_path: Path) -> None:
    """An error mid-write leaves the old (read-only) file and no temp file; a write replaces it."""
    result = ok(windows_python.run("-c", DURABLE, winpath(tmp_path)))
    assert result.out.splitlines() == ["old ['file.bin']", "new ['file.bin']"]
    assert (tmp_path / "file.bin").read_bytes() == b"new"


def test_a_write_in_progress_is_seen_by_another_process(
        windows_python: WindowsPython, tmp_path: Path) -> None:
    """The temp file's LockFileEx lock is seen from a second Windows process, and the writer's
    rename still succeeds (Windows renames no file a handle holds open: the lock goes first)."""
    win = windows_python
    dest = tmp_path / "unit.zip"
    writer = subprocess.Popen([win.loader, str(win.python), "-c", HOLD_A_TEMP, winpath(dest)],
                              env=win.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert writer.stdout is not None
        temp = writer.stdout.readline().decode().strip()
        assert temp.startswith("Z:") and ".arkeep-tmp-" in temp
        assert ok(win.run("-c", IN_PROGRESS, temp)).out.strip() == "True"
    finally:
        out, err = writer.communicate(b"", timeout=120)
    assert writer.returncode == 0, err.decode()
    assert out.decode().split() == ["committed"]
    assert dest.read_bytes() == b"x" * 100000
    assert [p.name for p in tmp_path.iterdir()] == ["unit.zip"]
    stray = tmp_path / ".arkeep-tmp-stray"
    stray.write_bytes(b"left by a crash")
    assert ok(win.run("-c", IN_PROGRESS, winpath(stray))).out.strip() == "False"
