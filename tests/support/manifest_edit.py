"""Editing a manifest file in a test the way arkeep writes one: next revision, new digest line.

A manifest whose digest line does not match is refused as changed outside arkeep (stamp.py);
tests about the index or sync that change a file by hand use this to stay about what they test.
"""
from __future__ import annotations

from manifests.stamp import revision_of, stamp


def body_of(text: str) -> str:
    """The TOML without arkeep's revision and digest lines."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# arkeep-revision: "):
        lines = lines[1:]
    if lines and lines[-1].startswith("# arkeep-blake3: "):
        lines = lines[:-1]
    return "".join(lines)


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old
    return stamp(body_of(text).replace(old, new), revision_of(text.encode()) + 1)
