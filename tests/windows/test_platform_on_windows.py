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
