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

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePath

import pytest

from tests.inspect.conftest import nsis_exe, tools_dir  # noqa: F401 - fixtures, shared

ROOT = Path(__file__).resolve().parents[2]
WINDIR = Path(os.environ.get("ARKEEP_WINDOWS_DIR") or ROOT / ".windows")
PASSPHRASE = "correct horse battery staple on windows"
TIMEOUT = 600


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

    def run(self, *args: str, stdin: str = "", env: dict[str, str] | None = None,
            cwd: Path | None = None) -> WinResult:
        """python.exe with these arguments; stdout and stderr decoded as UTF-8."""
        done = subprocess.run([self.loader, str(self.python), *args], input=stdin.encode(),
                              capture_output=True, check=False,
                              env={**self.env, **(env or {})}, cwd=cwd, timeout=TIMEOUT)
        return WinResult(done.returncode, done.stdout.decode("utf-8", "replace"),
                         done.stderr.decode("utf-8", "replace"))

    def arkeep(self, *args: str, **kwargs: object) -> WinResult:
        return self.run("-m", "archive", *args, **kwargs)  # type: ignore[arg-type]


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
    env = {**os.environ, "WINEPREFIX": str(WINDIR / "prefix"), "WINEDEBUG": "-all",
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
