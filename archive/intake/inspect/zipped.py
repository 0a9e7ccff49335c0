"""Zip archives: the installers inside them, read the same way as files on their own."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO

from archive.intake.inspect.containers import MAX_MEMBER_BYTES, inspect_members
from archive.intake.inspect.reading import Reading, Unreadable

MAX_ENTRIES = 20000


def read(path: Path, r: Reading) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise Unreadable(f"the zip archive's directory cannot be read ({exc}); the file is "
                         "damaged or truncated") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()][:MAX_ENTRIES]
        encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
        if encrypted:
            r.note(f"{len(encrypted)} file(s) inside are encrypted and were not read")
        by_name = {i.filename: i for i in infos if not i.flag_bits & 0x1}

        def extract(name: str, dst: BinaryIO) -> None:
            info = by_name[name]
            with zf.open(info) as src:
                # The declared size bounds what is written, whatever the data decompresses to.
                shutil.copyfileobj(_Limited(src, min(info.file_size, MAX_MEMBER_BYTES)), dst, 1 << 20)

        inspect_members(r, [(i.filename, i.file_size) for i in by_name.values()], extract,
                        "zip archive")


class _Limited:
    def __init__(self, src: BinaryIO, limit: int) -> None:
        self.src, self.left = src, limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = self.src.read(n)
        self.left -= len(data)
        return data
