"""Names this machine can write: a release's file names as restore writes them here.

The manifest keeps each file's original name; only the copy on disk may get another one, and
restore says which and why. On Windows: `: * ? " < > |` become `_` (a `:` would otherwise write
an NTFS alternate stream), a trailing dot or space becomes `_`, a reserved device name (CON,
NUL, COM1…, with any extension) gets a leading `_`, and a path past 259 characters is shortened
in its stem. Where the file system folds case (Windows, macOS), two names that differ only in
case get ` (2)`, ` (3)`… so neither is written over the other.
"""
from __future__ import annotations

import re

_REFUSED = re.compile(r'[:*?"<>|]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
MAX_PATH = 259


def _split(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")


def windows_name(name: str, room: int = MAX_PATH) -> tuple[str, str | None]:
    """The name Windows accepts for `name`, at most `room` characters, and why it changed."""
    why: list[str] = []
    if _REFUSED.search(name):
        refused = "".join(sorted(set(_REFUSED.findall(name))))
        name = _REFUSED.sub("_", name)
        why.append(f"Windows refuses {refused!s} in a name")
    if name[-1] in ". ":
        name = name.rstrip(". ") + "_"
        why.append("Windows drops a trailing dot or space")
    if name.split(".")[0].rstrip(" ").upper() in _RESERVED:
        name = "_" + name
        why.append(f"{name[1:].split('.')[0]} is a reserved device name on Windows")
    if len(name) > room:
        stem, ext = _split(name)
        name = stem[:max(1, room - len(ext))] + ext
        why.append("the path would be longer than Windows allows")
    return name, "; ".join(why) or None


def local_names(names: list[str], *, windows: bool, folds_case: bool,
                room: int = MAX_PATH) -> list[tuple[str, str | None]]:
    """Each name as it is written here, and why it differs (None when it does not)."""
    def key(name: str) -> str:
        return name.casefold() if folds_case else name

    out: list[tuple[str, str | None]] = []
    taken: set[str] = set()
    for original in names:
        name, why = windows_name(original, room) if windows else (original, None)
        if key(name) in taken:
            stem, ext = _split(name)
            n = 2
            while key(f"{stem} ({n}){ext}") in taken:
                n += 1
            name = f"{stem} ({n}){ext}"
            clash = "another file's name differs from it only in case"
            why = f"{why}; {clash}" if why else clash
        taken.add(key(name))
        out.append((name, why))
    return out
