"""The line `arkeep list` prints for a release.

Kept here, not in the command, because the store hands it to the catalog index, which keeps
every release's line ready (manifests/index.py): listing 100,000 releases is then one column
read instead of 100,000 formatted rows. The index notices when this format changes. The line
keeps its fields apart with tabs; `columns` lines them up by display width when printing.
"""
from __future__ import annotations

from archive.present.humanize import count, display_width, human_size, pad
from manifests.model import Release

ID_COLUMN_MAX = 48       # a longer id (or title) overflows its column on its own line only
TITLE_COLUMN_MAX = 56


def list_line(r: Release) -> str:
    size = human_size(sum(a.size for a in r.artifacts))
    info = f"[{count(len(r.artifacts), 'file')}, {size}, {count(len(r.licenses), 'licence')}]"
    return "\t".join((r.id, r.title.replace("\t", " "), info))


def columns(lines: list[str]) -> list[str]:
    """The lines of list_line as aligned columns: the id and title columns as wide as their
    widest entry (up to a limit), measured in terminal columns, so CJK titles line up too."""
    rows = [line.split("\t", 2) for line in lines]
    rows = [row if len(row) == 3 else [row[0], "", ""] for row in rows]   # a line of another format
    id_width = min(ID_COLUMN_MAX, max(display_width(r[0]) for r in rows))
    title_width = min(TITLE_COLUMN_MAX, max(display_width(r[1]) for r in rows))
    return [f"{pad(rid, id_width)}  {pad(title, title_width)}  {info}".rstrip() for rid, title, info in rows]
