"""The folder remote's own walk (os.scandir) lists what fsspec's local `find` listed."""
from __future__ import annotations

import os
from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from backends.base import TEMP_PREFIX
from backends.fsspec_backend import _find_local


def _tree(root: Path) -> None:
    (root / "units" / "ab").mkdir(parents=True)
    (root / "units" / "ab" / "one.zip").write_bytes(b"x" * 10)
    (root / "units" / "cd" / "deeper").mkdir(parents=True)
    (root / "units" / "cd" / "deeper" / "two.zip").write_bytes(b"y" * 3)
    (root / "units" / "cd" / f"{TEMP_PREFIX}abc").write_bytes(b"partial")
    (root / "key.toml").write_text("k")
    (root / "empty").mkdir()
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"z" * 100)
    os.symlink(outside / "big.bin", root / "units" / "ab" / "link.zip")   # a link to a file
    os.symlink(outside, root / "units" / "linked-dir")                    # a link to a folder


def test_the_walk_lists_what_fsspec_find_listed(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    root.mkdir()
    _tree(root)
    base = root.as_posix()
    theirs = {path: d["size"] for path, d in LocalFileSystem().find(base, detail=True).items()
              if d["type"] == "file"}
    ours = _find_local(base)
    assert {path: d["size"] for path, d in ours.items()} == theirs
    assert list(ours) == sorted(theirs)
    assert f"{base}/units/ab/one.zip" in ours and f"{base}/units/ab/link.zip" not in ours
    assert not any("outside" in path or "linked-dir" in path for path in ours)
    mtime = (root / "key.toml").stat().st_mtime
    assert ours[f"{base}/key.toml"]["mtime"] == mtime


def test_the_walk_of_temp_files_and_of_nothing(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    root.mkdir()
    _tree(root)
    assert list(_find_local(root.as_posix(), TEMP_PREFIX)) == [f"{root.as_posix()}/units/cd/{TEMP_PREFIX}abc"]
    assert _find_local((tmp_path / "missing").as_posix()) == {}
    assert _find_local(f"{root.as_posix()}/") == _find_local(root.as_posix())
