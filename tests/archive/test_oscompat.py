"""archive/system/oscompat.py on this (POSIX) machine; tests/windows runs the same calls on Windows."""
from __future__ import annotations

import os
import sys
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


def test_the_default_store_on_macos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARKEEP_STORE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_store_path() == tmp_path / "Library" / "Application Support" / "arkeep"


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
