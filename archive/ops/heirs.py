"""`arkeep key split` and `arkeep key join`: recovery sheets for heirs, and recovering from them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.crypto import heirs
from archive.crypto.keyring import Keyring
from archive.errors import UsageError
from archive.present.kit_html import require_kit_support
from archive.present.share_sheet import sheet_html, sheet_text, write_sheet


@dataclass(frozen=True)
class SheetsWritten:
    key_id: str
    threshold: int
    count: int
    paths: list[Path]


def write_sheets(keyring: Keyring, threshold: int, count: int, folder: Path,
                 html: bool = True, holders: list[str] | None = None) -> SheetsWritten:
    """One sheet per share in `folder` (created if missing), none written over an existing file:
    all names are checked before the first is written."""
    holders = holders or []
    if len(holders) > count:
        raise UsageError(f"{len(holders)} holders named for {count} sheets")
    if html:
        require_kit_support(folder / "x.html")
    shares, lines = heirs.split_keyring(keyring, threshold, count)
    suffix = ".html" if html else ".txt"
    paths = [folder / f"arkeep-{shares.key_id}-sheet-{i}-of-{count}{suffix}" for i in range(1, count + 1)]
    taken = [p for p in paths if p.exists() or p.is_symlink()]
    if taken:
        raise UsageError(f"{taken[0]} already exists; arkeep will not overwrite a recovery sheet")
    folder.mkdir(parents=True, exist_ok=True)
    render = sheet_html if html else sheet_text
    for i, (path, line) in enumerate(zip(paths, lines, strict=True), 1):
        holder = holders[i - 1] if i <= len(holders) else None
        write_sheet(path, render(line, i, count, threshold, shares.key_id, holder))
    return SheetsWritten(shares.key_id, threshold, count, paths)


def join(lines: list[str], threshold: int | None = None, key_id: str | None = None) -> Keyring:
    return heirs.join_shares(lines, threshold, key_id)
