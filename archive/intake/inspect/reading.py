"""What the readers of `inspect` share: the `Inspection` a file gives, the `Reading` each reader
fills in, and the hints a file name gives. Apart from the package's dispatcher (`__init__`),
which imports the readers, so that the readers can import these without a circle.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DEPTH = 2                 # an installer inside a zip inside an ISO, no deeper
INSTALLER_FORMATS = ("pe", "msi", "deb", "rpm", "pkg", "appimage", "dmg")
CONTAINER_FORMATS = ("iso9660", "zip")
# The order fields are shown in; anything else a reader sets follows.
FIELD_ORDER = ("product", "version", "vendor", "platform", "architecture", "description",
               "installer_type", "signer", "signed", "file_version", "product_code", "upgrade_code",
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
    inner: tuple[Inspection, ...] = ()                      # installers inside an ISO or zip
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

    def __init__(self, path: Path, display: str, size: int, fmt: str, label: str, depth: int,
                 inspect: Callable[..., Inspection]) -> None:
        self.path, self.display, self.size, self.depth = path, display, size, depth
        self._inspect = inspect         # inspect_file, handed in: this module cannot import it
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
        found = self._inspect(path, depth=self.depth + 1, display=display)
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


# -- hints from the file name (never presented as read) --------------------------------------------
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
