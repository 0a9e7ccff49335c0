"""A local record of the multipart uploads one writer has started and not yet finished.

On S3 an unfinished upload keeps its parts (and is billed for them) until someone aborts it,
and nothing on the server tells a crashed writer's upload from another machine's upload in
progress. The journal is the proof of ownership: an entry is written as soon as the server hands
out an upload id and removed once the upload is completed or aborted. An entry that a new
writer finds was left by a writer that died (killed, or its abort failed because the server
was down): the caller guarantees that no other live writer shares the journal (arkeep holds its
store lock), so the upload is aborted whatever its age. Aborting an upload that did complete
fails with NoSuchUpload and touches nothing: a completed object is never at risk.

An entry is one small JSON file named by a digest of its upload id. A crash before the entry is
written leaves an upload the journal does not know; `cleanup_temp`'s age rule catches those.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .localfiles import write_atomic


@dataclass(frozen=True)
class Entry:
    bucket: str
    key: str
    upload_id: str
    path: Path


class UploadJournal:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, upload_id: str) -> Path:
        return self.directory / f"{hashlib.blake2b(upload_id.encode(), digest_size=16).hexdigest()}.json"

    def add(self, bucket: str, key: str, upload_id: str) -> None:
        """Record an upload; the entry appears whole or not at all (written aside, then renamed),
        so a writer killed while writing it never leaves a torn entry that `entries` drops."""
        self.directory.mkdir(parents=True, exist_ok=True)
        record = json.dumps({"bucket": bucket, "key": key, "upload_id": upload_id})
        final = self._path(upload_id)
        write_atomic(final, record, prefix=f"{final.stem}-", suffix=".tmp")

    def remove(self, upload_id: str) -> None:
        self._path(upload_id).unlink(missing_ok=True)

    def entries(self) -> list[Entry]:
        """Every readable entry; a torn or foreign file is removed (its upload, if any, is
        left to the age rule)."""
        found = []
        if self.directory.is_dir():
            for torn in self.directory.glob("*.tmp"):      # a writer killed while recording
                torn.unlink(missing_ok=True)
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(Entry(str(data["bucket"]), str(data["key"]),
                                   str(data["upload_id"]), path))
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
        return found
