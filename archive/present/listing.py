"""What `arkeep list` prints for the releases: one row each, lined up in columns.

The rows are made here from the fields the catalog index keeps (`Catalog.summaries`: id, title,
number of files, their size, number of licences; read from the manifests themselves where no
index can be used). The index keeps data only, so a change of wording here needs no rebuild.
"""
from __future__ import annotations

from collections.abc import Iterable

from archive.present.humanize import count, display_width, human_size, pad
from manifests.index import ReleaseSummary

ID_COLUMN_MAX = 48       # a longer id (or title) overflows its column on its own line only
TITLE_COLUMN_MAX = 56


def columns(releases: Iterable[ReleaseSummary]) -> list[str]:
    """One line per release: its id, its title and `[2 files, 3.1 MiB, 1 licence]`, the id and
    title columns as wide as their widest entry (up to a limit), measured in terminal columns
    so that CJK titles line up too. Written as one plain loop: `list` runs it 100,000 times."""
    rows = []
    add = rows.append
    for rid, title, files, size, licences in releases:
        add((rid, title.replace("\t", " "),
             f"[{count(files, 'file')}, {human_size(size)}, {count(licences, 'licence')}]"))
    if not rows:
        return []
    id_width = min(ID_COLUMN_MAX, max(display_width(r[0]) for r in rows))
    title_width = min(TITLE_COLUMN_MAX, max(display_width(r[1]) for r in rows))
    return [f"{rid.ljust(id_width) if rid.isascii() else pad(rid, id_width)}  "
            f"{title.ljust(title_width) if title.isascii() else pad(title, title_width)}  {info}"
            for rid, title, info in rows]
