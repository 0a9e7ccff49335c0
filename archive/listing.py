"""The line `arkeep list` prints for a release.

Kept here, not in the command, because the store hands it to the catalog index, which keeps
every release's line ready (manifests/index.py): listing 100,000 releases is then one column
read instead of 100,000 formatted rows. The index notices when this format changes.
"""
from __future__ import annotations

from manifests.model import Release

from .humanize import human_size


def list_line(r: Release) -> str:
    size = human_size(sum(a.size for a in r.artifacts))
    n = len(r.licenses)
    return f"{r.id:<40} {r.title}  [{len(r.artifacts)} files, {size}, {n} licence{'s' * (n != 1)}]"
