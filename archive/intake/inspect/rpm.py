"""RPM packages, read with rpmfile.

The lead and the two header structures are measured and bounded here first, then only those
bytes are handed to rpmfile (which would otherwise scan a damaged file byte by byte).
Read: Name, Epoch, Version, Release, Arch, Vendor, URL, Summary, Packager.
"""
from __future__ import annotations

import io
from pathlib import Path

from archive.intake.inspect.reading import Reading, Unreadable

LEAD = 96
HEADER_MAGIC = bytes.fromhex("8eade801")
MAX_ENTRIES = 1 << 16
MAX_STORE = 64 * 1024 * 1024


def _header_end(f: io.BufferedReader, start: int, size: int, what: str) -> int:
    f.seek(start)
    intro = f.read(16)
    if len(intro) < 16:
        raise Unreadable(f"truncated: the RPM {what} header is cut short")
    if intro[:4] != HEADER_MAGIC:
        raise Unreadable(f"the RPM {what} header is damaged (no header magic at byte {start:,})")
    entries = int.from_bytes(intro[8:12], "big")
    store = int.from_bytes(intro[12:16], "big")
    if entries > MAX_ENTRIES or store > MAX_STORE:
        raise Unreadable(f"the RPM {what} header is implausibly large; the file is damaged")
    end = start + 16 + 16 * entries + store
    if end > size:
        raise Unreadable(f"truncated: the RPM {what} header should end at byte {end:,} but the "
                         f"file has only {size:,} bytes")
    return end


def read(path: Path, r: Reading) -> None:
    import rpmfile

    with open(path, "rb") as f:
        size = f.seek(0, 2)
        sig_end = _header_end(f, LEAD, size, "signature")
        main_start = (sig_end + 7) // 8 * 8
        main_end = _header_end(f, main_start, size, "main")
        f.seek(0)
        prefix = f.read(main_end)
    try:
        with rpmfile.RPMFile(fileobj=io.BytesIO(prefix)) as rpm:
            headers = dict(rpm.headers)
    except (rpmfile.RPMError, AssertionError, ValueError, IndexError) as exc:
        raise Unreadable(f"the RPM header cannot be read ({type(exc).__name__}); the file is "
                         "damaged") from None
    text = {k: _text(v) for k, v in headers.items() if isinstance(k, str)}
    r.set("product", text.get("name"), "RPM header: Name")
    version, release, epoch = text.get("version"), text.get("release"), headers.get("serial")
    if version:
        evr = (f"{epoch}:" if isinstance(epoch, int) and epoch else "") + version + \
              (f"-{release}" if release else "")
        r.set("version", evr, "RPM header: " + ("Epoch:" if isinstance(epoch, int) and epoch else "")
              + "Version" + ("-Release" if release else ""))
    r.set("vendor", text.get("vendor"), "RPM header: Vendor")
    arch = text.get("arch")
    r.set("architecture", arch, "RPM header: Arch")
    if arch:
        r.set("platform", "linux" if arch == "noarch" else f"linux-{arch}", "RPM header: Arch")
    r.set("description", text.get("summary"), "RPM header: Summary")
    r.set("homepage", text.get("url"), "RPM header: URL")
    r.set("maintainer", text.get("packager"), "RPM header: Packager")
    if text.get("sourcerpm") is None and "sourcepackage" in headers:
        r.note("this is a source RPM: it builds the software, it does not install it")
    if "vendor" not in r.fields:
        r.note("the RPM header names no Vendor")


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], bytes):
        return value[0].decode("utf-8", "replace")
    return None
