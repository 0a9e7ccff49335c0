"""arkeep on the real Windows CPython 3.13 (the embeddable build), under Wine.

scripts/test sets it up (scripts/windows.sh) in .windows/; here each test runs
`wine python.exe -m archive …` as a user would. When the set-up could not be made (no network, no
apt), every test here is skipped with the reason the set-up wrote, printed in pytest's summary.
ARKEEP_REQUIRE_WINDOWS=1 turns that skip into a failure (for a CI that must run them).

Under Wine, CPython cannot start with a regular file or /dev/null as stdin, stdout or stderr: all
three are pipes here. The wineserver is started first with its output thrown away, so no Wine
service it starts keeps a test's pipes open.
"""
from __future__ import annotations

import hashlib
import os
import re
import select
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

import pytest

from tests.inspect.conftest import nsis_exe, tools_dir  # noqa: F401 - fixtures, shared

ROOT = Path(__file__).resolve().parents[2]
WINDIR = Path(os.environ.get("ARKEEP_WINDOWS_DIR") or ROOT / ".windows")
PASSPHRASE = "correct horse battery staple on windows"
TIMEOUT = 600
PROMPT_WAIT = 120  # seconds a console test waits for a prompt (Wine's start-up is a few)


def winpath(path: PurePath | str) -> str:
    """The path Windows programs under Wine see for a Linux path (drive Z: is /)."""
    return "Z:" + str(path).replace("/", "\\")


@dataclass
class WinResult:
    code: int
    out: str
    err: str


@dataclass
class WindowsPython:
    loader: str
    python: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: str = "", env: dict[str, str | None] | None = None,
            cwd: Path | None = None) -> WinResult:
        """python.exe with these arguments; stdout and stderr decoded as UTF-8. A variable
        given as None in `env` is left out."""
        environ = {k: v for k, v in {**self.env, **(env or {})}.items() if v is not None}
        done = subprocess.run([self.loader, str(self.python), *args], input=stdin.encode(),
                              capture_output=True, check=False,
                              env=environ, cwd=cwd, timeout=TIMEOUT)
        return WinResult(done.returncode, done.stdout.decode("utf-8", "replace"),
                         done.stderr.decode("utf-8", "replace"))

    def arkeep(self, *args: str, **kwargs: object) -> WinResult:
        return self.run("-m", "archive", *args, **kwargs)  # type: ignore[arg-type]

    def console(self, *args: str, typed: list[tuple[str, str]],
                env: dict[str, str] | None = None) -> WinResult:
        """`arkeep ARGS` in a Windows console, a person typing: for each (prompt, text) in
        `typed`, once `prompt` has been shown, `text` and Enter are typed. Wine makes a
        pseudo-terminal on its standard streams the process's console (its conhost), so
        getpass reads the keys through msvcrt as it does in a real console. ARKEEP_PASSPHRASE
        is left out. `out` is what the terminal showed (stdout and stderr both), without the
        escape sequences."""
        environ = {k: v for k, v in {**self.env, **(env or {})}.items()
                   if k != "ARKEEP_PASSPHRASE"}
        master, slave = os.openpty()
        try:
            proc = subprocess.Popen([self.loader, str(self.python), "-m", "archive", *args],
                                    stdin=slave, stdout=slave, stderr=slave, env=environ,
                                    start_new_session=True)
        finally:
            os.close(slave)
        screen = Screen(master)
        try:
            for prompt, text in typed:
                screen.wait_for(prompt, proc)
                screen.wait_for_raw_mode(proc)
                os.write(master, text.encode("utf-8") + b"\r")
            screen.read_to_end(proc)
            code = proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        return WinResult(code, screen.text(), "")


_FORWARD = re.compile(rb"\x1b\[([0-9]*)C")
_ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\\\)|[@-Z\\-_])")


class Screen:
    """What a terminal (the master side of a pseudo-terminal) has been sent."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.raw = bytearray()
        self.seen = 0  # how much of text() the prompts waited for so far have consumed

    def text(self) -> str:
        # Wine's console draws a space as "erase the line, cursor one right"
        spaced = _FORWARD.sub(lambda m: b" " * int(m[1] or 1), bytes(self.raw))
        return _ESCAPES.sub(b"", spaced).decode("utf-8", "replace")

    def _more(self, wait: float, proc: subprocess.Popen[bytes]) -> bool:
        """Read what arrives within `wait` seconds; False once nothing more can come (the
        terminal closed, or the process ended and nothing is pending)."""
        if not select.select([self.master], [], [], wait)[0]:
            return proc.poll() is None
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            return False
        self.raw += data
        return bool(data)

    def wait_for(self, prompt: str, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + PROMPT_WAIT
        while (at := self.text().find(prompt, self.seen)) < 0:
            if time.monotonic() > deadline or not self._more(1.0, proc):
                raise AssertionError(f"no {prompt!r} on the console; it shows:\n{self.text()}")
        self.seen = at + len(prompt)

    def wait_for_raw_mode(self, proc: subprocess.Popen[bytes]) -> None:
        """Wine's console switches the terminal to raw mode (no echo) only when the program
        first reads keys, which may be just after the prompt is drawn: keys typed before that
        are echoed by the terminal itself (a window of Wine's, not of Windows' consoles, which
        never echo for getpass). A person would not type within it; neither does the test."""
        deadline = time.monotonic() + PROMPT_WAIT
        while termios.tcgetattr(self.master)[3] & termios.ECHO:
            if time.monotonic() > deadline or not self._more(0.05, proc):
                raise AssertionError(f"the console never stopped echoing:\n{self.text()}")

    def read_to_end(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and self._more(0.5, proc):
            pass


def _unavailable() -> str | None:
    reason = WINDIR / "UNAVAILABLE"
    if reason.is_file():
        return reason.read_text(encoding="utf-8").strip()
    if not (WINDIR / ".ready").is_file():
        return f"not set up in {WINDIR}: scripts/test sets it up (scripts/windows.sh)"
    return None


@pytest.fixture(scope="session")
def windows_python() -> object:
    reason = _unavailable()
    if reason is not None:
        message = f"Windows CPython under Wine is unavailable: {reason}"
        if os.environ.get("ARKEEP_REQUIRE_WINDOWS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    loader = (WINDIR / "wine-loader").read_text(encoding="utf-8").strip()
    wineserver = (WINDIR / "wineserver").read_text(encoding="utf-8").strip()
    # one prefix per checkout (scripts/windows.sh, windows_prefix): the wineserver stopped below
    # is this checkout's only; ARKEEP_CHECKOUT puts this tree first on the Windows sys.path
    prefix = WINDIR / "prefixes" / hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    env = {**os.environ, "WINEPREFIX": str(prefix), "ARKEEP_CHECKOUT": winpath(ROOT),
           "WINEDEBUG": "-all",
           "WINEDLLOVERRIDES": "bcryptprimitives=n,b;mscoree=;mshtml=",
           "PYTHONIOENCODING": "utf-8", "ARKEEP_PASSPHRASE": PASSPHRASE}
    for name in list(env):
        if name.startswith(("ARKEEP_STORE", "ARKEEP_DRIVE_PATHS", "XDG_", "AWS_")):
            del env[name]
    subprocess.run([wineserver, "-p"], check=False, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # 2: one runs already
    subprocess.run([loader, "wineboot", "-i"], check=False, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
    try:
        yield WindowsPython(loader, WINDIR / "python" / "python.exe", env)
    finally:
        subprocess.run([wineserver, "-k"], check=False, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
