"""Licences in files: the sources of the table that name files (licence files, text files, the
firmware's MSDM table), found under the places of a layout and read without following links."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import replace
from pathlib import Path

from archive.intake.harvest.findings import Finding, Problem
from archive.intake.harvest.hives import live_registry_available
from archive.intake.harvest.layout import Layout, User, child, child_path, entries, open_regular
from archive.intake.harvest.productkey import MSDM_MAX, NotAProductId, key_from_msdm
from archive.intake.harvest.registry_sources import judged
from archive.intake.harvest.sources import Source, Table

MAX_LICENCE_FILE = 16 * 1024        # kept whole, encrypted, in the licence record

def _file_places(lay: Layout) -> dict[str, list[tuple[User | None, Path]]]:
    return {"{programfiles}": [(None, p) for p in lay.programfiles],
            "{systemdrive}": [(None, p) for p in lay.systemdrive],
            "{appdata}": list(lay.appdata()), "{appsupport}": list(lay.appsupport()),
            "{config}": list(lay.config()), "{firmware}": [(None, p) for p in lay.firmware],
            "{home}": [(u, u.home) for u in lay.windows_users + lay.linux_users],
            "{library}": [(None, lay.mac_system)] if lay.mac_system else [],
            "{macprefs}": [(u, p) for u in lay.mac_users
                           if (p := child_path(u.home, "Library/Preferences"))],
            "{etc}": [(None, p) for p in lay.etc]}


def _glob(base: Path, rel: str) -> list[Path]:
    """`rel` under `base`: each part matched without regard to case, * and ? expanded."""
    here = [base]
    for part in (p for p in rel.split("/") if p):
        nxt = []
        for folder in here:
            if any(c in part for c in "*?["):
                nxt += [Path(e.path) for e in entries(folder)
                        if fnmatch.fnmatchcase(e.name.casefold(), part.casefold())
                        and not e.is_symlink()]
            else:
                found = child(folder, part)
                if found is not None and not found.is_symlink():
                    nxt.append(found)
        here = nxt[:1000]
    return here


def read_licence_text(path: Path) -> tuple[str | None, str | None]:
    """(text, None) for a small text file (UTF-8 or UTF-16), (None, reason) otherwise. Read
    without following a symbolic link and never more than the limit."""
    try:
        with open_regular(path) as f:
            data = f.read(MAX_LICENCE_FILE + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if len(data) > MAX_LICENCE_FILE:
        return None, (f"larger than {MAX_LICENCE_FILE // 1024} KiB, not a licence file arkeep "
                      "keeps inside a record; archive it with `arkeep add … --license-file`")
    if not data.strip():
        return None, "empty"
    body = data[2:] if data[:2] == b"\xff\xff" else data     # JetBrains' marker before UTF-16
    for codec in (("utf-16",) if body[:2] in (b"\xff\xfe", b"\xfe\xff") else ()) + (
            ("utf-16-le",) if b"\x00" in body[:64] else ("utf-8-sig",)):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if any(ord(c) < 32 and c not in "\r\n\t" for c in text):
            continue
        # UTF-16 without a mark: most random bytes decode to something, so ask for mostly ASCII
        if codec == "utf-16-le" and sum(ord(c) < 128 for c in text) < 0.9 * len(text):
            continue
        return text, None
    return None, ("not text: archive it with `arkeep add … --license-file` (kept encrypted as "
                  "a document)")


def firmware_findings(src: Source, lay: Layout, tab: Table
                       ) -> tuple[list[Finding], list[Problem], list[str]]:
    """The OEM key in the running computer's firmware; a disk does not hold one."""
    if lay.root is not None:
        if lay.software is not None:
            return [], [Problem("firmware", "the OEM key a PC maker puts in the firmware (Windows 8 "
                                "and later) is not on a disk: run `arkeep harvest` on that "
                                "computer to read it")], []
        return [], [], []
    tables: list[tuple[str, bytes | None, str | None]] = []
    if lay.firmware:
        for folder in lay.firmware:
            path = folder / "MSDM"
            if not os.path.lexists(path):
                continue
            try:
                with open_regular(path) as f:
                    tables.append((str(path), f.read(MSDM_MAX), None))
            except OSError as exc:
                tables.append((str(path), None, "readable by root only: run harvest as root to "
                               "read the OEM key" if isinstance(exc, PermissionError)
                               else f"cannot be read ({exc.strerror or exc})"))
    elif live_registry_available():
        data = windows_msdm()
        if data is not None:
            tables.append(("the firmware's ACPI MSDM table", data, None))
    found, problems = [], []
    for where, data, why in tables:
        if data is None:
            problems.append(Problem(where, f"{src.product}: {why}"))
            continue
        base = Finding(source=src.id, product=src.product, kind=src.kind, where=where,
                       how="the ACPI MSDM table's key, in clear", facts=src.facts, vendor=src.vendor)
        try:
            found.append(judged(replace(base, key=key_from_msdm(data)), tab))
        except NotAProductId as exc:
            found.append(replace(base, reason=f"holds no key ({exc})"))
    return found, problems, [w for w, _, _ in tables]


def windows_msdm() -> bytes | None:
    """The MSDM table through GetSystemFirmwareTable, or None (no table, or no such call)."""
    import ctypes

    try:
        call = ctypes.windll.kernel32.GetSystemFirmwareTable  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    provider, table_id = int.from_bytes(b"ACPI", "big"), int.from_bytes(b"MSDM", "little")
    size = call(provider, table_id, None, 0)
    if not size or size > MSDM_MAX:
        return None
    buf = ctypes.create_string_buffer(size)
    got = call(provider, table_id, buf, size)
    return buf.raw[:got] if got else None


def file_findings(src: Source, lay: Layout) -> tuple[list[Finding], list[Problem], list[str]]:
    found, problems, read = [], [], []
    places = _file_places(lay)
    for pattern in src.files:
        place, _, rel = pattern.partition("/")
        for user, base in places.get(place, []):
            for path in _glob(base, rel):
                read.append(str(path))
                text, why = read_licence_text(path)
                product = src.product
                if src.product_from_folder:
                    product = f"{src.vendor or src.product} {_wild_part(base, rel, path)}"
                f = Finding(source=src.id, product=product, kind=src.kind, where=str(path),
                            how=HOW_FILE[src.decode].format(field=src.field), facts=src.facts,
                            vendor=src.vendor)
                if text is None:
                    problems.append(Problem(str(path), f"{src.product} licence file: {why}"))
                    continue
                if src.decode == "none":
                    found.append(replace(f, reason=src.reason))
                    continue
                key = text if src.decode == "licence-file" else _field(text, src.field) \
                    if src.decode == "text-field" else text.strip().splitlines()[0]
                if key is None:
                    found.append(replace(f, reason=f"the file has no {src.field} line"))
                else:
                    found.append(replace(f, key=key))
    return found, problems, read


HOW_FILE = {"licence-file": "the licence file, whole", "text": "the file's first line",
            "text-field": "the file's {field} line", "none": "the file is there"}


def _field(text: str, name: str | None) -> str | None:
    """The value of a `NAME = "value"` line (VMware's licence files)."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().casefold() == (name or "").casefold():
            return value.strip().strip('"').strip() or None
    return None


def _wild_part(base: Path, rel: str, path: Path) -> str:
    """The name the first wildcard of `rel` matched in `path` (the product's folder)."""
    parts = [p for p in rel.split("/") if p]
    at = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts) - 2)
    try:
        return path.relative_to(base).parts[at].lstrip(".")
    except (ValueError, IndexError):
        return path.parent.name
