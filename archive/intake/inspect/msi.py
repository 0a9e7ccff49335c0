"""Windows Installer files (MSI), read with olefile.

An MSI is an OLE compound file whose root class id says it is an installer database. Its
tables are streams with encoded names; strings live once in `_StringPool`/`_StringData` and
tables hold references to them, column after column. Read: the Property table (ProductName,
ProductVersion, Manufacturer, ProductCode, UpgradeCode, ProductLanguage) and the summary
information (Template gives the platform; Author, Subject). The layout followed is that of
msitools/Wine's string.c and table.c.
"""
from __future__ import annotations

from pathlib import Path

from archive.intake.inspect.authenticode import read_signature
from archive.intake.inspect.reading import Reading, Unreadable
from archive.intake.inspect.signatures import MSI_CLASS_IDS

NAME_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
PROPERTIES = (("product", "ProductName"), ("version", "ProductVersion"), ("vendor", "Manufacturer"),
              ("product_code", "ProductCode"), ("upgrade_code", "UpgradeCode"),
              ("language", "ProductLanguage"))
TEMPLATE_PLATFORMS = {"intel": "x86", "": "x86", "x64": "x64", "amd64": "x64", "arm64": "arm64",
                      "intel64": "ia64", "arm": "arm"}
MAX_TABLE_STREAM = 64 * 1024 * 1024


def decode_stream_name(name: str) -> str:
    """MSI packs table and stream names two characters to one UTF-16 code unit."""
    out = []
    for ch in name:
        c = ord(ch)
        if 0x3800 <= c < 0x4800:
            c -= 0x3800
            out.append(NAME_CHARS[c & 0x3F])
            out.append(NAME_CHARS[(c >> 6) & 0x3F])
        elif 0x4800 <= c < 0x4840:
            out.append(NAME_CHARS[c - 0x4800])
        elif c == 0x4840:
            out.append("!")            # marks a table stream
        else:
            out.append(ch)
    return "".join(out)


def read(path: Path, r: Reading) -> None:
    import olefile

    try:
        ole = olefile.OleFileIO(str(path))
    except OSError as exc:                 # olefile's OleFileError is an OSError
        raise Unreadable(f"not a complete OLE compound file ({' '.join(str(exc).split())[:120]}); "
                         "the file is damaged or truncated") from None
    try:
        _read_ole(ole, path, r)
    finally:
        ole.close()
    if r.format in ("msi", "msp"):
        read_signature(path, r)


def _read_ole(ole, path: Path, r: Reading) -> None:  # type: ignore[no-untyped-def]
    clsid = (ole.root.clsid or "").upper()
    kind = MSI_CLASS_IDS.get(clsid)
    streams = {decode_stream_name(e[0]): e for e in ole.listdir(streams=True, storages=False)
               if len(e) == 1}
    if kind is None:
        if "!Property" in streams and "!_StringPool" in streams:
            kind = ("msi", "Windows Installer package (MSI)")
            r.note("the root class id is not that of an MSI, but the file holds MSI tables")
        else:
            r.label = "OLE compound file (not a Windows Installer package)"
            if path.suffix.lower() in (".msi", ".msp", ".mst"):
                r.problem(f"the name ends in {path.suffix.lower()} but the file is not a Windows "
                          "Installer database (its root class id is "
                          f"{clsid or 'missing'}); it may be another Office-format file")
            return
    r.format, r.label = kind
    _summary(ole, r)
    if "!Property" not in streams:
        r.note("the database has no Property table" if kind[0] == "msi" else
               f"a {r.label} carries no Property table of its own")
        return
    strings, ref_size = _string_pool(ole, streams)
    props = _property_table(ole, streams["!Property"], strings, ref_size)
    for name, key in PROPERTIES:
        r.set(name, props.get(key), f"MSI Property table: {key}")
    missing = [key for name, key in PROPERTIES[:3] if name not in r.fields]
    if missing:
        r.note(f"the Property table has no {', '.join(missing)}")


def _summary(ole, r: Reading) -> None:  # type: ignore[no-untyped-def]
    """Platform from the summary information's Template ('x64;1033'), plus Author and Subject."""
    if not ole.exists("\x05SummaryInformation"):
        r.note("there is no summary information: the platform is not recorded")
        return
    props = summary_properties(_read_stream(ole, "\x05SummaryInformation", "summary information"))
    template = props.get(PID_TEMPLATE)
    if template is None:
        r.note("the summary information has no Template: the platform is not recorded")
    else:
        platform = template.split(";", 1)[0].strip()
        arch = TEMPLATE_PLATFORMS.get(platform.lower())
        if arch is None:
            r.note(f"the summary information names an unknown platform {platform[:40]!r}")
        else:
            how = "an empty platform means Intel, x86" if not platform else platform
            r.set("platform", f"windows-{arch}", f"MSI summary information: Template ({how})")
            r.set("architecture", arch, "MSI summary information: Template")
    r.set("description", props.get(PID_SUBJECT), "MSI summary information: Subject")
    r.set("author", props.get(PID_AUTHOR), "MSI summary information: Author")


PID_CODEPAGE, PID_SUBJECT, PID_AUTHOR, PID_TEMPLATE = 1, 3, 4, 7
VT_I2, VT_LPSTR = 2, 30


def summary_properties(data: bytes) -> dict[int, str]:
    """The string properties of a property-set stream ([MS-OLEPS]), every offset bounds-checked.

    olefile's own reader trusts vector counts in the stream, which a damaged file turns into
    billions of iterations; the summary information needs only a few plain strings.
    """
    def u32(pos: int) -> int:
        if pos < 0 or pos + 4 > len(data):
            raise Unreadable("the MSI summary information is cut short; the file is damaged")
        return int.from_bytes(data[pos:pos + 4], "little")

    if u32(24) < 1:
        return {}
    section = u32(44)
    count = min(u32(section + 4), 1024)
    entries = [(u32(section + 8 + 8 * i), u32(section + 12 + 8 * i)) for i in range(count)]
    codepage = 1252
    for pid, offset in entries:
        if pid == PID_CODEPAGE and u32(section + offset) == VT_I2:
            codepage = int.from_bytes(data[section + offset + 4:section + offset + 6], "little")
    out: dict[int, str] = {}
    for pid, offset in entries:
        at = section + offset
        if pid in (PID_SUBJECT, PID_AUTHOR, PID_TEMPLATE) and u32(at) == VT_LPSTR:
            size = min(u32(at + 4), 64 * 1024)
            raw = data[at + 8:at + 8 + size].split(b"\x00", 1)[0]
            out[pid] = raw.decode(_codec(codepage & 0xFFFF), "replace")
    return out


def _read_stream(ole, entry, what: str) -> bytes:  # type: ignore[no-untyped-def]
    size = ole.get_size(entry)
    if size > MAX_TABLE_STREAM:
        raise Unreadable(f"the MSI {what} is implausibly large ({size:,} bytes); the file is damaged")
    with ole.openstream(entry) as f:
        data = f.read()
    if len(data) != size:
        raise Unreadable(f"the MSI {what} is cut short; the file is truncated")
    return data


def _string_pool(ole, streams) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """Every string of the database by id (id 0 is the empty string) and the reference size."""
    if "!_StringPool" not in streams or "!_StringData" not in streams:
        raise Unreadable("the MSI string pool is missing; the database is damaged")
    pool = _read_stream(ole, streams["!_StringPool"], "string pool")
    data = _read_stream(ole, streams["!_StringData"], "string data")
    if len(pool) < 4:
        return [""], 2
    ref_size = 3 if pool[3] & 0x80 else 2
    codepage = int.from_bytes(pool[0:3] + bytes([pool[3] & 0x7F]), "little")
    encoding = _codec(codepage)
    strings = [""]
    offset, i, count = 0, 1, len(pool) // 4
    while i < count:
        length = int.from_bytes(pool[i * 4:i * 4 + 2], "little")
        refs = int.from_bytes(pool[i * 4 + 2:i * 4 + 4], "little")
        i += 1
        if length == 0 and refs == 0:
            strings.append("")
            continue
        if length == 0:                 # over 64 KiB: the high word sits in this entry's refs
            if i >= count:
                break
            length = (refs << 16) | int.from_bytes(pool[i * 4:i * 4 + 2], "little")
            i += 1
        if offset + length > len(data):
            raise Unreadable("the MSI string pool points past its string data; the database is "
                             "damaged")
        strings.append(data[offset:offset + length].decode(encoding, "replace"))
        offset += length
    return strings, ref_size


def _codec(codepage: int) -> str:
    if codepage == 65001:
        return "utf-8"
    if codepage in (0, 1252):
        return "cp1252"
    import codecs
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        return "cp1252"


def _property_table(ole, entry, strings: list[str], ref_size: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Property (s72, key) and Value (l0): two string columns, stored one after the other."""
    data = _read_stream(ole, entry, "Property table")
    row = 2 * ref_size
    if len(data) % row:
        raise Unreadable("the MSI Property table has a partial row; the database is damaged")
    rows = len(data) // row
    def column(n: int) -> list[int]:
        base = n * rows * ref_size
        return [int.from_bytes(data[base + k * ref_size:base + (k + 1) * ref_size], "little")
                for k in range(rows)]
    out: dict[str, str] = {}
    for key_id, value_id in zip(column(0), column(1)):
        if key_id >= len(strings) or value_id >= len(strings):
            raise Unreadable("the MSI Property table refers to strings that do not exist; the "
                             "database is damaged")
        out[strings[key_id]] = strings[value_id]
    return out
