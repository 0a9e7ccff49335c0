"""arkeep unlock / lock on Windows CPython (under Wine): the agent behind a named pipe.

Each command is its own `python.exe -m archive` with no passphrase in its environment and no
console, as a user's later command would be; only `unlock` is given the passphrase, in a file.
The agent is a detached Windows process that outlives the `unlock` that started it.

What Wine 8.0 cannot show (measured with a probe of both calls): it keeps the security
descriptor a pipe is created with (read back here exactly) but does not check it when a pipe is
opened (a pipe whose DACL names SYSTEM alone was opened by the user), nor does it refuse a second
first instance of a pipe name (FILE_FLAG_FIRST_PIPE_INSTANCE). So that another user is refused
is Windows' part and is not tested here; the access key, which arkeep checks itself, is.

Wine also leaves the starting process's Unix standard error (fd 2) open in a process it starts
detached, so `unlock` is run with Popen and waited for by its exit, not by the end of its
stderr, which the agent holds until it ends: on Windows the agent inherits no handle of it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator
from pathlib import Path, PureWindowsPath

import pytest

from archive.storage.store import Store

from .conftest import PASSPHRASE, TIMEOUT, WindowsPython, WinResult, winpath
from .test_cli_on_windows import KEY, digest, installers, ok

RELEASE = "python-embeddable@3.13.2"
NEEDED = "a passphrase is needed"

PIPE_DACL = r"""
import ctypes, sys
from ctypes import wintypes
from archive.crypto.agent import AgentPlace
from archive.system.winpipe import current_user_sid
advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
advapi32.GetNamedSecurityInfoW.argtypes = [wintypes.LPCWSTR, ctypes.c_int, wintypes.DWORD] \
    + [ctypes.c_void_p] * 4 + [ctypes.POINTER(ctypes.c_void_p)]
advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW.argtypes = [
    ctypes.c_void_p, wintypes.DWORD, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
pipe = AgentPlace.for_key(sys.argv[1]).address
descriptor, text = ctypes.c_void_p(), ctypes.c_void_p()
assert advapi32.GetNamedSecurityInfoW(pipe, 1, 4, None, None, None, None, ctypes.byref(descriptor)) == 0
assert advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor, 1, 4, ctypes.byref(text), None)
print(pipe)
print(ctypes.wstring_at(text.value))
print(current_user_sid())
"""


@pytest.fixture
def session(windows_python: WindowsPython, tmp_path: Path) -> Iterator[Callable[..., WinResult]]:
    """arkeep on one store, as a later command: no ARKEEP_PASSPHRASE. The store holds one
    release with a licence key; its agent is ended afterwards whatever the test did."""
    win = windows_python
    store = winpath(tmp_path / "store")
    files = installers(win, tmp_path / "in")
    (tmp_path / "key.txt").write_text(KEY + "\n", encoding="utf-8")
    ok(win.arkeep("--store", store, "init", "--weak-passphrase-ok"))
    ok(win.arkeep("--store", store, "add", "--product", "Python embeddable", "--version", "3.13.2",
                  "--key-file", winpath(tmp_path / "key.txt"), *[winpath(f) for f in files]))

    def later(*args: str) -> WinResult:
        return win.arkeep("--store", store, *args, env={"ARKEEP_PASSPHRASE": None})
    yield later
    later("lock")


def unlock(win: WindowsPython, store: str, seconds: str, pass_file: Path) -> WinResult:
    """`arkeep unlock --for SECONDS`, the passphrase in a file; waited for by its exit (Wine
    leaves its stderr open in the agent it starts, see above)."""
    environ = {k: v for k, v in win.env.items() if k != "ARKEEP_PASSPHRASE"}
    pass_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    proc = subprocess.Popen([win.loader, str(win.python), "-m", "archive", "--store", store,
                             "unlock", "--for", seconds, "--passphrase-file", winpath(pass_file)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environ)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.close()
    out = proc.stdout.read()               # the agent holds no copy of this one
    code = proc.wait(timeout=TIMEOUT)
    os.set_blocking(proc.stderr.fileno(), False)
    err = proc.stderr.read() or b""
    proc.stdout.close()
    proc.stderr.close()
    return WinResult(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def agent_pids(key_id: str) -> list[int]:
    """Wine processes whose Windows command line is the agent's for this archive."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"archive.crypto.agent" in argv and key_id.encode() in argv:
                pids.append(int(proc.name))
    return pids


def wait_until(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def linux_path(win: WindowsPython, windows: str) -> Path:
    """Where a C:\\ path of the Wine prefix is on this machine."""
    parts = PureWindowsPath(windows).parts
    assert parts[0].upper() == "C:\\", windows
    return Path(win.env["WINEPREFIX"], "drive_c", *parts[1:])


def key_id_and_keyfile(win: WindowsPython, store: str) -> tuple[str, Path]:
    shown = ok(win.run("-c", "import sys; from archive.storage.store import Store; "
                             "from archive.crypto.agent import AgentPlace; "
                             "k = Store.open(sys.argv[1]).key_id; print(k); "
                             "print(AgentPlace.for_key(k).keyfile)", store))
    key_id, keyfile = shown.out.splitlines()
    return key_id, linux_path(win, keyfile)


def test_unlocked_commands_need_no_passphrase_until_lock(
        windows_python: WindowsPython, session: Callable[..., WinResult], tmp_path: Path) -> None:
    win, later = windows_python, session
    store = winpath(tmp_path / "store")
    key_id, keyfile = key_id_and_keyfile(win, store)
    refused = later("show", "--reveal", RELEASE)
    assert refused.code == 2 and NEEDED in refused.err and KEY not in refused.out

    started = unlock(win, store, "10m", tmp_path / "pass.txt")
    assert started.code == 0 and key_id in started.out, started
    (tmp_path / "pass.txt").unlink()               # nothing left to read a passphrase from
    assert len(agent_pids(key_id)) == 1            # detached: it outlived `unlock`

    assert KEY in ok(later("show", "--reveal", RELEASE)).out
    ok(later("restore", RELEASE, "--to", winpath(tmp_path / "restored")))
    for file in installers(win, tmp_path / "again"):
        assert digest(tmp_path / "restored" / file.name) == digest(file)
    # callers at once: each gets an instance of the pipe (or waits for one)
    kits = [tmp_path / f"kit{i}.txt" for i in range(4)]
    with ThreadPoolExecutor(len(kits)) as pool:
        for done in pool.map(lambda kit: later("key", "export", "--recovery-kit", winpath(kit)), kits):
            ok(done)
    for kit in kits:
        assert kit.stat().st_size > 0
        kit.unlink()
    code = Store.open(tmp_path / "store").unlock(PASSPHRASE).recovery_code

    # The secret is in no file of the store or the runtime folder, and not in the agent's
    # command line; its pipe's DACL names this user alone.
    (pid,) = agent_pids(key_id)
    assert code.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    for path in [*keyfile.parent.rglob("*"), *(tmp_path / "store").rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert code.encode() not in data and code.replace("-", "").encode() not in data, path
    pipe, dacl, sid = ok(win.run("-c", PIPE_DACL, key_id)).out.splitlines()
    assert pipe.startswith("\\\\.\\pipe\\arkeep-agent-") and pipe.endswith(key_id)
    assert sid.startswith("S-1-5-21-") and dacl == f"D:P(A;;FA;;;{sid})"

    locked = ok(later("lock"))
    assert "Locked" in locked.out
    assert wait_until(lambda: not agent_pids(key_id))
    assert not keyfile.exists()
    again = later("show", "--reveal", RELEASE)
    assert again.code == 2 and NEEDED in again.err and KEY not in again.out
    assert "Nothing to lock" in ok(later("lock")).out


def test_a_wrong_access_key_gets_nothing_and_the_time_runs_out(
        windows_python: WindowsPython, session: Callable[..., WinResult], tmp_path: Path) -> None:
    win, later = windows_python, session
    store = winpath(tmp_path / "store")
    key_id, keyfile = key_id_and_keyfile(win, store)
    assert unlock(win, store, "1h", tmp_path / "pass.txt").code == 0
    good = keyfile.read_bytes()
    assert len(good) == 32
    keyfile.write_bytes(os.urandom(len(good)))     # a caller that does not know the key
    refused = later("key", "export", "--recovery-kit", winpath(tmp_path / "kit.txt"))
    assert refused.code == 2 and NEEDED in refused.err, refused
    assert not (tmp_path / "kit.txt").exists()
    assert agent_pids(key_id), "the agent outlives a failed authentication"
    keyfile.write_bytes(good)
    ok(later("key", "export", "--recovery-kit", winpath(tmp_path / "kit.txt")))

    # A new unlock replaces the agent (the old pipe gone before the new one is made) and this
    # one ends by itself.
    assert unlock(win, store, "15s", tmp_path / "pass.txt").code == 0
    assert wait_until(lambda: len(agent_pids(key_id)) == 1)
    assert wait_until(lambda: not agent_pids(key_id), 120)
    assert not keyfile.exists()
    ended = later("key", "export", "--recovery-kit", winpath(tmp_path / "kit2.txt"))
    assert ended.code == 2 and NEEDED in ended.err
    assert "Nothing to lock" in ok(later("lock")).out


def test_an_unlock_with_a_wrong_passphrase_starts_nothing(
        windows_python: WindowsPython, session: Callable[..., WinResult], tmp_path: Path) -> None:
    win = windows_python
    store = winpath(tmp_path / "store")
    key_id, keyfile = key_id_and_keyfile(win, store)
    (tmp_path / "wrong.txt").write_text("not the passphrase\n", encoding="utf-8")
    result = win.arkeep("--store", store, "unlock", "--passphrase-file", winpath(tmp_path / "wrong.txt"),
                        env={"ARKEEP_PASSPHRASE": None})
    assert result.code == 2 and "Traceback" not in result.err
    assert not agent_pids(key_id) and not keyfile.exists()


def test_unlock_typed_in_a_console_then_a_killed_agent(
        windows_python: WindowsPython, session: Callable[..., WinResult], tmp_path: Path) -> None:
    """The passphrase typed once at `unlock` in a Windows console (getpass through msvcrt), then
    a command in no console served by the agent. An agent killed outright leaves its key file:
    the next command finds no pipe behind it, removes the file and asks for the passphrase."""
    win, later = windows_python, session
    store = winpath(tmp_path / "store")
    key_id, keyfile = key_id_and_keyfile(win, store)
    typed = win.console("--store", store, "unlock", "--for", "10m",
                        typed=[("Passphrase: ", PASSPHRASE)])
    assert typed.code == 0, typed.out
    assert "Unlocked until" in typed.out and PASSPHRASE not in typed.out
    assert KEY in ok(later("show", "--reveal", RELEASE)).out

    (pid,) = agent_pids(key_id)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not agent_pids(key_id))
    assert keyfile.exists()
    after = later("show", "--reveal", RELEASE)
    assert after.code == 2 and NEEDED in after.err and KEY not in after.out
    assert not keyfile.exists()
