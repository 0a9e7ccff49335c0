"""Debian packages: an ar archive whose control.tar.* holds the `control` file.

Read: Package, Version, Architecture, Maintainer, Homepage, Vendor and the first line of
Description. Only the control member is read; the (large) data.tar is skipped.

The vendor is the control file's Vendor field, which packages built outside Debian carry
(fpm writes it; Google's and many vendors' .debs have it). The Maintainer is who packaged it,
for a Debian package a Debian developer, not the maker of the software: it is kept as
`maintainer` and never taken for the vendor; without a Vendor field the vendor stays unknown.
"""
from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from archive.intake.inspect.reading import Reading, Unreadable

AR_MAGIC = b"!<arch>\n"
MAX_CONTROL = 16 * 1024 * 1024
FIELDS = (("product", "Package"), ("version", "Version"), ("architecture", "Architecture"),
          ("maintainer", "Maintainer"), ("homepage", "Homepage"), ("vendor", "Vendor"),
          ("description", "Description"))


def ar_members(f: io.BufferedReader, size: int):  # type: ignore[no-untyped-def]
    """(name, offset, length) of each member of an ar archive."""
    pos = len(AR_MAGIC)
    while pos + 60 <= size:
        f.seek(pos)
        header = f.read(60)
        if len(header) < 60 or header[58:60] != b"`\n":
            raise Unreadable(f"the .deb's ar member header at byte {pos:,} is damaged")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            length = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise Unreadable(f"the .deb's ar member header at byte {pos:,} has no valid size") from None
        yield name, pos + 60, length
        pos += 60 + length + (length & 1)


def read(path: Path, r: Reading) -> None:
    control = None
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        members = []
        for name, offset, length in ar_members(f, size):
            members.append(name)
            if offset + length > size:
                r.problem(f"truncated: the .deb's {name} should end at byte {offset + length:,} "
                          f"but the file has only {size:,} bytes")
                if not name.startswith("control.tar"):
                    break
            if name.startswith("control.tar") and control is None:
                if length > MAX_CONTROL:
                    raise Unreadable(f"the .deb's {name} is implausibly large ({length:,} bytes)")
                f.seek(offset)
                control = _control_text(name, f.read(length))
    if control is None:
        raise Unreadable("the .deb has no control.tar member; the file is damaged or truncated")
    if not any(m.startswith("data.tar") for m in members) and not r.problems:
        r.problem("the .deb has no data.tar member: the package is incomplete")
    fields = parse_control(control)
    for key, label in FIELDS:
        value = fields.get(label)
        if key == "description" and value:
            value = value.splitlines()[0]
        if key == "vendor" and value:
            # fpm writes "none" when not told; an address is not a name.
            value = re.sub(r"\s*<[^>]*>\s*$", "", value)
            if value.lower() in ("none", "unknown") or "@" in value:
                value = None
        r.set(key, value, f"Debian control file: {label}")
    arch = r.fields.get("architecture")
    if arch:
        r.set("platform", "linux" if arch == "all" else f"linux-{arch}",
              "Debian control file: Architecture")
    for key, label in FIELDS[:2]:
        if key not in r.fields:
            r.problem(f"the control file has no {label} field; the package is damaged")


def _control_text(name: str, blob: bytes) -> str:
    if name.endswith(".zst"):
        try:
            from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
        except ImportError:
            raise Unreadable("the control data is zstd-compressed, which this Python cannot read "
                             "(Python 3.14 can)") from None
        blob = zstd.decompress(blob)
        name = "control.tar"
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
            for member in tar.getmembers():
                if member.name.lstrip("./") == "control" and member.isfile():
                    if member.size > MAX_CONTROL:
                        raise Unreadable("the control file is implausibly large")
                    extracted = tar.extractfile(member)
                    if extracted is None:
                        break
                    return extracted.read().decode("utf-8", "replace")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise Unreadable(f"the .deb's {name} cannot be unpacked ({type(exc).__name__}); the file "
                         "is damaged or truncated") from None
    raise Unreadable(f"the .deb's {name} holds no control file")


def parse_control(text: str) -> dict[str, str]:
    """The first paragraph of a deb822 control file; continuation lines are joined."""
    fields: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and current:
            fields[current] += "\n" + line.strip()
        elif ":" in line:
            current, _, value = line.partition(":")
            current = current.strip()
            fields[current] = value.strip()
    return fields
