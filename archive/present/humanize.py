"""Sizes for people: 1.5 GiB rather than 1610612736."""
from __future__ import annotations


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    size = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 file', '2 files', '0 files'; `plural` where adding an s is wrong ('1 copy', '2 copies')."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: wide and full-width characters (CJK) two, combining
    marks none, everything else one."""
    if text.isascii():
        return len(text)
    import unicodedata
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` display columns (nothing added past it)."""
    if text.isascii():
        return text.ljust(width)
    return text + " " * max(0, width - display_width(text))
