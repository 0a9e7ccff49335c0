"""`--wait` (issue 12, item 14): a writer that meets a busy store waits for it, naming the holder,
instead of failing at once; and `show` suggests close matches when nothing matches."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive.system.lock import store_lock
from tests.archive.test_errors_cli import env_for, one_line_error
from tests.conftest import run_arkeep


@pytest.fixture
def setup_exe(tmp_path: Path) -> Path:
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ installer" * 100)
    return path


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_writer_waits_for_the_lock_and_then_writes(store_dir: Path, setup_exe: Path, where: str) -> None:
    args = ["add", setup_exe, "--product", "Foo", "--version", "1.0"]
    argv = ["--wait", *args] if where == "before" else [*args, "--wait"]
    with store_lock(store_dir / "lock", "arkeep sync"):
        proc = subprocess.Popen([sys.executable, "-m", "archive", *map(str, argv)],
                                env=env_for(store_dir), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            line = proc.stderr.readline()       # written once the wait has begun
        except BaseException:
            proc.kill()
            raise
        assert "in use by pid" in line and "(arkeep sync, since" in line and "waiting for it" in line
        assert proc.poll() is None
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Archived Foo 1.0" in out
    assert (store_dir / "manifests" / "releases" / "foo@1.0.toml").is_file()


def test_a_bounded_wait_gives_up_with_the_holder_named(store_dir: Path, setup_exe: Path) -> None:
    with store_lock(store_dir / "lock", "arkeep sync"):
        result = run_arkeep("--wait", "0.3", "add", setup_exe, "--product", "Foo", "--version", "1.0",
                            env=env_for(store_dir))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert "waiting up to 0.3 s" in lines[0]
    assert lines[-1].startswith("arkeep: error: the store is still in use by pid ")
    assert "after waiting 0.3 s" in lines[-1]
    assert not (store_dir / "manifests" / "releases" / "foo@1.0.toml").exists()


def test_without_wait_the_error_says_how_to_wait(store_dir: Path, setup_exe: Path) -> None:
    with store_lock(store_dir / "lock", "arkeep sync"):
        result = run_arkeep("add", setup_exe, "--product", "Foo", "--version", "1.0", env=env_for(store_dir))
    one_line_error(result, 3, f"in use by pid {os.getpid()}", "arkeep sync", "--wait")


def test_wait_takes_only_a_number_of_seconds(store_dir: Path) -> None:
    result = run_arkeep("--wait", "-3", "list", env=env_for(store_dir))
    assert result.returncode == 2 and "seconds" in result.stderr


@pytest.mark.parametrize("typed, meant", [
    ("hello", "'hello@2.10-3'"),
    ("tree@2.1", "'tree@2.1.1' or 'tree@2.0'"),
    ("Tree@2.1", "'tree@2.1.1' or 'tree@2.0'"),
    ("helo@2.10-3", "'hello@2.10-3'"),
])
def test_show_suggests_what_was_probably_meant(store_dir: Path, cli, tmp_path: Path, typed: str,
                                               meant: str) -> None:
    for product, version in (("hello", "2.10-3"), ("tree", "2.0"), ("tree", "2.1.1"), ("Other", "9")):
        path = tmp_path / f"{product}-{version}.deb"
        path.write_bytes(f"{product} {version}".encode())
        assert cli("add", path, "--product", product, "--version", version).code == 0
    result = cli("show", typed)
    assert result.code == 2
    line = result.err.strip()
    assert len(line.splitlines()) == 1 and f"no release matches '{typed}'; did you mean {meant}?" in line, line
    assert "Other" not in line


def test_show_suggests_nothing_far_off(store_dir: Path, cli, tmp_path: Path) -> None:
    path = tmp_path / "a.deb"
    path.write_bytes(b"a")
    assert cli("add", path, "--product", "hello", "--version", "1").code == 0
    result = cli("show", "zzzzzz@9")
    assert result.code == 2 and "did you mean" not in result.err
