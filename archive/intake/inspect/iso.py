"""ISO 9660 disc images, read with pycdlib.

Read: the volume label, publisher and application from the primary volume descriptor (and the
Joliet label when it differs), `autorun.inf`'s label and program, and the installers inside.
"""
from __future__ import annotations

import configparser
import io
from pathlib import Path
from typing import Any, BinaryIO

from archive.intake.inspect.containers import inspect_members
from archive.intake.inspect.reading import Reading, Unreadable

MAX_ENTRIES = 20000
MAX_AUTORUN = 64 * 1024


def read(path: Path, r: Reading) -> None:
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    iso = pycdlib.PyCdlib()
    try:
        iso.open(str(path))
    except PyCdlibException as exc:
        raise Unreadable(f"the ISO image's structure cannot be read ({_first_line(exc)}); the file "
                         "is damaged or truncated") from None
    try:
        _read_iso(iso, path, r)
    finally:
        iso.close()


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def _text(value: Any) -> str:
    raw = getattr(value, "text", value)
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1", "replace")
    return " ".join(str(raw or "").split())


def _read_iso(iso: Any, path: Path, r: Reading) -> None:
    r.label = "ISO 9660 disc image"
    pvd = iso.pvd
    declared = pvd.space_size * pvd.logical_block_size()
    if declared > r.size:
        r.problem(f"truncated: the image declares {declared:,} bytes but the file has only "
                  f"{r.size:,}")
    r.set("volume_label", _text(pvd.volume_identifier), "ISO 9660 primary volume descriptor: "
                                                        "volume identifier")
    if iso.has_joliet():
        joliet = iso.joliet_vd.volume_identifier.decode("utf-16-be", "replace").strip()
        label = r.fields.get("volume_label", "")
        if joliet and joliet != label and not label.startswith(joliet):
            r.set("joliet_label", joliet, "Joliet volume descriptor: volume identifier")
    publisher = _text(pvd.publisher_identifier)
    if publisher and not publisher.startswith("_"):       # '_NAME' points to a file instead
        r.set("publisher", publisher, "ISO 9660 primary volume descriptor: publisher")
    application = _text(pvd.application_identifier)
    if application and not application.startswith("_"):
        r.set("application", application, "ISO 9660 primary volume descriptor: application")
    d = pvd.volume_creation_date
    if getattr(d, "year", 0):
        r.set("created", f"{d.year:04d}-{d.month:02d}-{d.dayofmonth:02d}",
              "ISO 9660 primary volume descriptor: creation date")
    if "volume_label" not in r.fields:
        r.note("the image has no volume label")

    facade, strip = _facade(iso)
    members: list[tuple[str, int]] = []
    for dirpath, _, filenames in facade.walk("/"):
        for name in filenames:
            full = (dirpath.rstrip("/") + "/" + name)
            members.append((full, facade.get_record(full).get_data_length()))
            if len(members) >= MAX_ENTRIES:
                break
        if len(members) >= MAX_ENTRIES:
            r.note(f"more than {MAX_ENTRIES} files; only the first were looked at")
            break

    def display(name: str) -> str:
        return name[:-2] if strip and name.endswith(";1") else name

    for name, size in members:
        if display(name).lower() == "/autorun.inf" and size <= MAX_AUTORUN:
            out = io.BytesIO()
            facade.get_file_from_iso_fp(out, name)
            _autorun(out.getvalue(), r)

    shown = {display(n): n for n, _ in members}

    def extract(name: str, dst: BinaryIO) -> None:
        facade.get_file_from_iso_fp(dst, shown[name])

    inspect_members(r, [(display(n), s) for n, s in members], extract, "disc image")


def _facade(iso: Any) -> tuple[Any, bool]:
    """The richest name space the image has: Rock Ridge, Joliet, UDF, then plain ISO 9660."""
    if iso.has_rock_ridge():
        return iso.get_rock_ridge_facade(), False
    if iso.has_joliet():
        return iso.get_joliet_facade(), False
    if iso.has_udf():
        return iso.get_udf_facade(), False
    return iso.get_iso9660_facade(), True


def _autorun(blob: bytes, r: Reading) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(blob.decode("latin-1"))
    except configparser.Error:
        r.note("autorun.inf cannot be parsed")
        return
    for section in parser.sections():
        if section.lower() == "autorun":
            s = parser[section]
            r.set("autorun_label", s.get("label"), "autorun.inf: label")
            r.set("autorun_program", s.get("open") or s.get("shellexecute"), "autorun.inf: open")
