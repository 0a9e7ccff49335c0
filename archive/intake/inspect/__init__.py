"""Read what an installer says about itself, without running anything.

`inspect_file(path)` identifies the format by its bytes (signatures.py), hands the file to the
reader for that format and returns an `Inspection`: the values read, where each one came from,
and, said plainly, what could not be read. Readers never guess: a value is either read from a
named field of the file or absent. What the file *name* suggests is kept apart, in `hints`,
and is never presented as read.

Every reader is imported when its format is met, so importing this package is cheap.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from archive.errors import MissingModule, UsageError
from archive.intake.inspect.reading import (
    CONTAINER_FORMATS,
    FIELD_ORDER,
    INSTALLER_FORMATS,
    MAX_DEPTH,
    Inspection,
    Reading,
    Unreadable,
    clean,
    name_hints,
)
from archive.intake.inspect.signatures import EXPECTED_MAGIC, expected_format, match, read_ends
from archive.system.paths import check_readable_file

__all__ = [
    "CONTAINER_FORMATS",
    "FIELD_ORDER",
    "INSTALLER_FORMATS",
    "MAX_DEPTH",
    "Inspection",
    "Reading",
    "Unreadable",
    "check_readable",
    "clean",
    "inspect_file",
    "name_hints",
]

def _reader(fmt: str) -> Callable[[Path, Reading], None] | None:
    """The reader of a format, imported only when needed."""
    if fmt == "pe":
        from archive.intake.inspect import pe
        return pe.read
    if fmt == "ole":
        from archive.intake.inspect import msi
        return msi.read
    if fmt == "deb":
        from archive.intake.inspect import deb
        return deb.read
    if fmt == "rpm":
        from archive.intake.inspect import rpm
        return rpm.read
    if fmt == "xar":
        from archive.intake.inspect import pkg
        return pkg.read
    if fmt == "iso9660":
        from archive.intake.inspect import iso
        return iso.read
    if fmt == "zip":
        from archive.intake.inspect import zipped
        return zipped.read
    if fmt == "appimage":
        from archive.intake.inspect import appimage
        return appimage.read
    return None


def check_readable(path: Path) -> int:
    return check_readable_file(path, "give a file (`arkeep scan` walks a folder)")


def inspect_file(path: Path | str, *, depth: int = 0, display: str | None = None) -> Inspection:
    """Identify `path` by its bytes and read what its format records about the software."""
    path = Path(path)
    check_readable(path)
    try:
        head, tail, size = read_ends(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    shown = display if display is not None else str(path)
    sig = match(head, tail)
    r = Reading(path, shown, size, sig.format if sig else "unknown",
                sig.label if sig else "unrecognised data", depth, inspect_file)
    if size == 0:
        r.problem("the file is empty; an empty file is almost certainly an incomplete download")
        return r.finish()
    _check_name(path, r, sig.format if sig else None)
    reader = _reader(r.format)
    if reader is None:
        if sig is not None and r.format not in ("pdf", "email"):
            r.note(f"arkeep reads no product details from a {r.label}")
        return r.finish()
    try:
        reader(path, r)
    except Unreadable as exc:
        r.problem(str(exc))
    except (MemoryError, KeyboardInterrupt, MissingModule):
        raise
    except ImportError as exc:
        raise MissingModule.from_import_error(exc, f"reading this {r.label}") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file must give a message, not a traceback
        r.problem(f"could not read this {r.label}: {_short(exc)}; the file is probably damaged "
                  "or truncated")
    return r.finish()


def _check_name(path: Path, r: Reading, found: str | None) -> None:
    expected = expected_format(path)
    if expected is None or expected == found:
        return
    ext = path.suffix.lower() if not path.name.lower().endswith((".tar.gz", ".tgz")) else ".tar.gz"
    if found is None:
        why = EXPECTED_MAGIC.get(expected)
        r.problem(f"the name ends in {ext} but the bytes are not a {ext} file"
                  + (f" ({why})" if why else "")
                  + "; the file is damaged, incomplete, or not what its name says")
    elif not (expected == "appimage" and found == "elf"):
        r.note(f"the name ends in {ext} but the bytes are those of a {r.label}")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
