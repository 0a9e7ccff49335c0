"""archive/system/oscompat.py on this (POSIX) machine; tests/windows runs the same calls on Windows."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive.system import oscompat
from archive.storage.store import default_store_path


def test_the_default_store_on_linux_is_where_it_always_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARKEEP_STORE", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_store_path() == tmp_path / ".local" / "share" / "arkeep"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "arkeep"


def test_the_default_store_per_platform(tmp_path: Path) -> None:
    """Each platform's data folder, walked here by passing its sys.platform name (tests/windows
    runs the real Windows one)."""
    home = tmp_path / "home"
    data = str(tmp_path / "data")
    assert default_store_path({}, "linux", home) == home / ".local" / "share" / "arkeep"
    assert default_store_path({"XDG_DATA_HOME": data}, "linux", home) == Path(data) / "arkeep"
    assert default_store_path({"XDG_DATA_HOME": " "}, "linux", home) == \
        home / ".local" / "share" / "arkeep"
    mac = home / "Library" / "Application Support" / "arkeep"
    assert default_store_path({}, "darwin", home) == mac
    assert default_store_path({"XDG_DATA_HOME": data}, "darwin", home) == mac  # not XDG there
    local = "C:\\Users\\me\\AppData\\Local"
    assert default_store_path({"LOCALAPPDATA": local, "XDG_DATA_HOME": data}, "win32", home) == \
        Path(local) / "arkeep"
    assert default_store_path({}, "win32", home) == home / "AppData" / "Local" / "arkeep"
    for platform in ("linux", "darwin", "win32"):
        assert default_store_path({"ARKEEP_STORE": data}, platform, home) == Path(data)


def test_the_default_store_follows_this_machine(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARKEEP_STORE", str(tmp_path / "here"))
    assert default_store_path() == tmp_path / "here"


def test_a_read_only_file_is_replaced_and_removed(tmp_path: Path) -> None:
    target, new = tmp_path / "object", tmp_path / "tmp"
    target.write_bytes(b"old")
    new.write_bytes(b"new")
    os.chmod(target, 0o444)
    oscompat.replace(new, target)
    assert target.read_bytes() == b"new"
    os.chmod(target, 0o444)
    oscompat.unlink(target)
    assert not target.exists()
    oscompat.unlink(target, missing_ok=True)
