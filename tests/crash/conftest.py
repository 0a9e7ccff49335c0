"""Shared by the crash, fault, hostile-input, two-writer and secrets tests."""
from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .sweep import Lab, MiB

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """Inputs (a 24 MiB installer, a 3 MiB invoice, a licence file, a key file), an initialised
    template store (key wrapped with a cheaper scrypt, see Lab) and its secret, shared by one
    test module."""
    return Lab(tmp_path_factory.mktemp("lab"), big=24 * MiB, medium=3 * MiB, seed=5, fast_kdf=True)


def one_line(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """The exit code, no traceback, and exactly one line on stderr holding every fragment."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def drop_root_file_powers() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so that even root is refused what file permissions refuse (as `setpriv` would)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_plain_user() -> dict[str, object]:
    """Popen arguments that make file permissions apply even when the suite runs as root."""
    return {"preexec_fn": drop_root_file_powers} if os.geteuid() == 0 else {}


def mount_permitted(probe: Path) -> bool:
    probe.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                              capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        return False
    subprocess.run(["umount", str(probe)], capture_output=True, timeout=20, check=False)
    return True


@contextmanager
def tmpfs(path: Path, size: str = "20m") -> Iterator[Path]:
    """A real small filesystem at `path` (mount -t tmpfs), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True, capture_output=True, timeout=20)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20, check=False)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True,
                   capture_output=True, timeout=20)
