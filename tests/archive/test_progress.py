"""Progress bars: drawn on a terminal (even one that reports no size), never into a pipe, never
with --quiet or --json.

arkeep runs in a real pseudo-terminal here, as under `script -qc`; os.openpty() makes one whose
size is 0 x 0, which is what made tqdm draw nothing before.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.conftest import run_arkeep

MIB = 1024 * 1024
BYTES_DONE = re.compile(r"[\d.]+[kMG]?/24\.0M")     # bytes done / total, as the bar shows them
RATE = re.compile(r"B/s\]")                           # the rate (and before it, elapsed<ETA)


def run_in_terminal(*args: str | Path, columns: int = 0, rows: int = 0) -> tuple[int, str]:
    """arkeep with stdin, stdout and stderr on one pseudo-terminal; its exit code and everything
    it wrote there."""
    leader, follower = pty.openpty()
    if columns or rows:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "archive", *map(str, args)], stdin=follower,
                            stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:                     # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.iso"
    with open(path, "wb") as f:
        for _ in range(24):
            f.write(os.urandom(MIB))
    return path


def test_bars_on_a_terminal_with_no_size(store_dir: Path, big: Path, tmp_path: Path) -> None:
    code, out = run_in_terminal("add", big, "--product", "Big", "--version", "1")
    assert code == 0, out
    assert "big.iso" in out and BYTES_DONE.search(out) and RATE.search(out), out
    assert "<" in out                       # elapsed<remaining: the ETA

    nas = tmp_path / "nas"
    nas.mkdir()
    assert run_arkeep("remote", "add", "nas", nas).returncode == 0
    code, out = run_in_terminal("sync")
    assert code == 0, out
    assert "sync nas" in out and BYTES_DONE.search(out), out

    code, out = run_in_terminal("verify")
    assert code == 0, out
    assert "verify" in out and BYTES_DONE.search(out), out

    code, out = run_in_terminal("restore", "big@1", "--to", tmp_path / "back")
    assert code == 0, out
    assert BYTES_DONE.search(out), out
    assert (tmp_path / "back" / "big.iso").stat().st_size == 24 * MIB


def test_no_bar_with_quiet_or_json_or_into_a_pipe(store_dir: Path, big: Path) -> None:
    code, out = run_in_terminal("--json", "add", big, "--product", "Big", "--version", "1",
                                columns=100, rows=30)
    assert code == 0, out
    assert not BYTES_DONE.search(out) and "B/s" not in out, out
    code, out = run_in_terminal("--quiet", "verify", columns=100, rows=30)
    assert code == 0 and out.strip() == "", out

    piped = run_arkeep("verify")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr
