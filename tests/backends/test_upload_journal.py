"""The upload journal: an entry appears whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path

from backends.upload_journal import UploadJournal


def test_an_entry_is_written_aside_then_renamed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    journal = UploadJournal(tmp_path / "j")
    seen: list[list[str]] = []
    real_replace = os.replace

    def watching_replace(src, dst):  # type: ignore[no-untyped-def]
        # At the moment of the rename the entry's final name does not exist yet: a writer
        # killed before this point leaves only a .tmp file, never a torn .json one.
        seen.append(sorted(p.name for p in (tmp_path / "j").iterdir()))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    journal.add("bucket", "units/ab/x.zip", "upload-1")
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].endswith(".tmp")
    assert [(e.bucket, e.key, e.upload_id) for e in journal.entries()] == \
        [("bucket", "units/ab/x.zip", "upload-1")]


def test_a_leftover_tmp_file_is_cleared_and_not_an_entry(tmp_path: Path) -> None:
    journal = UploadJournal(tmp_path)
    (tmp_path / "0123.tmp").write_text('{"bucket": "b", "key"')     # killed mid-write
    assert journal.entries() == []
    assert list(tmp_path.iterdir()) == []
