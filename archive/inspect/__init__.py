"""Read what an installer says about itself, without running anything.

`inspect_file(path)` identifies the format by its bytes (signatures.py), hands the file to the
reader for that format and returns an `Inspection`: the values read, where each one came from,
and, said plainly, what could not be read. Readers never guess: a value is either read from a
named field of the file or absent. What the file *name* suggests is kept apart, in `hints`,
and is never presented as read.

Every reader is imported when its format is met, so importing this package is cheap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import MissingModule, UsageError
from ..paths import check_readable_file
from .signatures import EXPECTED_MAGIC, expected_format, match, read_ends

MAX_DEPTH = 2                 # an installer inside a zip inside an ISO, no deeper
INSTALLER_FORMATS = ("pe", "msi", "deb", "rpm", "pkg", "appimage", "dmg")
CONTAINER_FORMATS = ("iso9660", "zip")
# The order fields are shown in; anything else a reader sets follows.
FIELD_ORDER = ("product", "version", "vendor", "platform", "architecture", "description",
               "installer_type", "signer", "file_version", "product_code", "upgrade_code",
               "language", "package", "identifier", "maintainer", "homepage", "volume_label",
               "publisher", "application", "created")


@dataclass(frozen=True)
class Inspection:
    """What one file says about itself."""

    path: str
    format: str                   # short id: pe, msi, deb, rpm, pkg, iso9660, zip, appimage, ...
    label: str                    # what a person calls the format
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)   # field -> where its value was read
    notes: tuple[str, ...] = ()   # what could not be read, and why
    problems: tuple[str, ...] = ()  # truncated, corrupt, or not what its name says
    inner: tuple["Inspection", ...] = ()                      # installers inside an ISO or zip
    hints: dict[str, str] = field(default_factory=dict)     # suggested by the file name only

    @property
    def damaged(self) -> bool:
        return bool(self.problems)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @property
    def product(self) -> str | None:
        return self.fields.get("product")

    @property
    def version(self) -> str | None:
        return self.fields.get("version")

    @property
    def vendor(self) -> str | None:
        return self.fields.get("vendor")

    @property
    def platform(self) -> str | None:
        return self.fields.get("platform")

    @property
    def is_installer(self) -> bool:
        if self.damaged:
            return False
        if self.format in CONTAINER_FORMATS:
            return any(i.is_installer for i in self.inner)
        if self.format == "pe":
            return self.fields.get("image_kind") != "DLL"
        return self.format in INSTALLER_FORMATS

    def ordered_fields(self) -> list[tuple[str, str, str]]:
        """(name, value, source) in display order."""
        names = [n for n in FIELD_ORDER if n in self.fields]
        names += [n for n in self.fields if n not in FIELD_ORDER]
        return [(n, self.fields[n], self.sources.get(n, "")) for n in names]

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "label": self.label, "size": self.size,
                "damaged": self.damaged, "installer": self.is_installer,
                "fields": dict(self.fields), "sources": dict(self.sources),
                "notes": list(self.notes), "problems": list(self.problems),
                "hints": dict(self.hints),
                "inner": [i.to_data() for i in self.inner]}


class Unreadable(Exception):
    """A reader met a structure it cannot read; the message says so for the user."""


class Reading:
    """Collects what one reader finds; readers call set / note / problem, then finish()."""

    def __init__(self, path: Path, display: str, size: int, fmt: str, label: str, depth: int) -> None:
        self.path, self.display, self.size, self.depth = path, display, size, depth
        self.format, self.label = fmt, label
        self.fields: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.inner: list[Inspection] = []

    def set(self, name: str, value: object, source: str) -> bool:
        """Record a value read from the file; the first reading of a field wins."""
        text = clean(value)
        if not text or name in self.fields:
            return False
        self.fields[name] = text
        self.sources[name] = source
        return True

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def inspect_member(self, path: Path, display: str) -> Inspection | None:
        """Inspect a file taken out of this container (None when nested too deeply)."""
        if self.depth + 1 > MAX_DEPTH:
            self.note(f"{display}: nested too deeply to look inside")
            return None
        found = inspect_file(path, depth=self.depth + 1, display=display)
        self.inner.append(found)
        return found

    def finish(self) -> Inspection:
        return Inspection(path=self.display, format=self.format, label=self.label, size=self.size,
                          fields=dict(self.fields), sources=dict(self.sources),
                          notes=tuple(self.notes), problems=tuple(self.problems),
                          inner=tuple(self.inner),
                          hints=name_hints(Path(self.display).name))


def clean(value: object) -> str:
    """A field value as one tidy line: bytes decoded, NULs and runs of blanks removed."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", " ")
    return " ".join(text.split())[:400]


def _reader(fmt: str) -> Callable[[Path, Reading], None] | None:
    """The reader of a format, imported only when needed."""
    if fmt == "pe":
        from . import pe
        return pe.read
    if fmt == "ole":
        from . import msi
        return msi.read
    if fmt == "deb":
        from . import deb
        return deb.read
    if fmt == "rpm":
        from . import rpm
        return rpm.read
    if fmt == "xar":
        from . import pkg
        return pkg.read
    if fmt == "iso9660":
        from . import iso
        return iso.read
    if fmt == "zip":
        from . import zipped
        return zipped.read
    if fmt == "appimage":
        from . import appimage
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
                sig.label if sig else "unrecognised data", depth)
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


# -- hints from the file name (never presented as read) ----------------------------------------
_VERSION_IN_NAME = re.compile(r"(?:^|[-_ .])[vV]?(\d+(?:\.\d+)+(?:-\d+)?[a-z]?\d*)(?=$|[-_ .+(])")
_NOISE = {"setup", "installer", "install", "win", "win32", "win64", "windows", "x64", "x86",
          "amd64", "i386", "arm64", "full", "offline", "web", "mac", "macos", "osx", "linux",
          "en", "us", "eng", "final"}
_COMPOUND = (".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst")


def name_hints(name: str) -> dict[str, str]:
    """What a file name suggests ('Foo-Setup-1.2.3-x64.exe' -> Foo, 1.2.3): a guess, kept apart."""
    stem = name
    for ext in _COMPOUND:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    else:
        stem = Path(stem).stem
    found = _VERSION_IN_NAME.search(stem)
    if not found:
        return {}
    words = [w for w in re.split(r"[-_ .]+", stem[: found.start()]) if w]
    words = [w for w in words if w.lower() not in _NOISE]
    hints = {"version": found.group(1)}
    if words:
        hints["product"] = " ".join(words)
    return hints
