"""Sizes for people: 1.5 GiB rather than 1610612736."""
from __future__ import annotations


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 file', '2 files', '0 files'; `plural` where adding an s is wrong ('1 copy', '2 copies')."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
