"""Windows programs and installers (NSIS, Inno Setup, WiX Burn, InstallShield), read with pefile.

Read: the version resource (ProductName, ProductVersion, FileVersion, CompanyName,
FileDescription), the machine type, which installer framework built the file, and the
Authenticode signature (who signed, when, and whether the signature holds).
"""
from __future__ import annotations

import re
from pathlib import Path

from archive.intake.inspect.authenticode import read_signature
from archive.intake.inspect.reading import Reading, Unreadable

MACHINES = {0x14C: "x86", 0x8664: "x64", 0xAA64: "arm64", 0x1C4: "arm", 0x200: "ia64",
            0xA641: "arm64ec"}
STRING_FIELDS = (("product", "ProductName"), ("version", "ProductVersion"),
                 ("vendor", "CompanyName"), ("description", "FileDescription"),
                 ("file_version", "FileVersion"))
NSIS_MAGIC = b"\xef\xbe\xad\xdeNullsoftInst"
INNO_COMMENT = "This installation was built with Inno Setup."
SEARCH_LIMIT = 4 * 1024 * 1024
_COMMA_VERSION = re.compile(r"^\d+(\s*,\s*\d+)+$")


def read(path: Path, r: Reading) -> None:
    import pefile

    try:
        pe = pefile.PE(str(path), fast_load=True)
    except pefile.PEFormatError as exc:
        raise Unreadable(f"not a complete Windows program: {exc.value if hasattr(exc, 'value') else exc}; "
                         "the file is damaged or truncated") from None
    try:
        _read_pe(pe, r)
    finally:
        pe.close()
    read_signature(path, r)


def _read_pe(pe, r: Reading) -> None:  # type: ignore[no-untyped-def]
    import pefile

    data = pe.__data__
    size = len(data)
    sections_end = max((s.PointerToRawData + s.SizeOfRawData for s in pe.sections), default=0)
    if pe.OPTIONAL_HEADER.SizeOfHeaders > size or \
            len(pe.sections) < pe.FILE_HEADER.NumberOfSections:
        r.problem(f"truncated: the program's headers need {pe.OPTIONAL_HEADER.SizeOfHeaders:,} "
                  f"bytes but the file has only {size:,}")
    elif sections_end > size:
        r.problem(f"truncated: the program's sections end at byte {sections_end:,} but the file "
                  f"has only {size:,} bytes")
    r.format, r.label = "pe", "Windows program"
    characteristics = pe.FILE_HEADER.Characteristics
    if characteristics & 0x2000:
        r.label = "Windows library (DLL)"
        r.fields["image_kind"] = "DLL"
        r.sources["image_kind"] = "PE header: Characteristics"

    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    strings = _version_strings(pe)
    framework = _framework(pe, data, strings, sections_end, r)
    if framework:
        r.label = f"Windows installer ({framework})"
        r.set("installer_type", framework, framework_source(framework))

    for name, key in STRING_FIELDS:
        value = strings.get(key)
        if name == "version" and value and _COMMA_VERSION.match(value.strip()):
            r.set(name, re.sub(r"\s*,\s*", ".", value.strip()),
                  f"PE version resource: {key} (commas read as dots)")
        else:
            r.set(name, value, f"PE version resource: {key}")
    fixed = _fixed_version(pe)
    if fixed:
        r.set("version", fixed, "PE version resource: fixed-size ProductVersion (binary)")
    if not strings and not fixed:
        r.note("no version resource: the program does not say its product name or version")
    elif "product" not in r.fields:
        r.note("the version resource has no ProductName")

    machine = MACHINES.get(pe.FILE_HEADER.Machine, f"machine 0x{pe.FILE_HEADER.Machine:04x}")
    if framework:
        r.set("architecture", machine, "PE header: Machine (of the installer program itself)")
        r.set("platform", "windows", "PE header: a Windows program")
        if machine == "x86":
            r.note("the installer program is 32-bit, as installers usually are whatever they "
                   "install; the file does not record whether the software it installs is 32- or "
                   "64-bit")
    else:
        r.set("architecture", machine, "PE header: Machine")
        r.set("platform", f"windows-{machine}" if machine in MACHINES.values() else "windows",
              "PE header: Machine")


def framework_source(framework: str) -> str:
    return {"NSIS": "NSIS header after the program image",
            "Inno Setup": "Inno Setup marker in the file",
            "WiX Burn bundle": "PE section .wixburn",
            "InstallShield": "PE version resource mentions InstallShield",
            "self-extracting 7-Zip archive": "7-Zip signature after the program image",
            "self-extracting zip archive": "zip signature after the program image"}.get(framework, "")


def _version_strings(pe) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The StringFileInfo table, preferring US English when there are several languages."""
    tables: list[tuple[str, dict[bytes, bytes]]] = []
    for info_list in getattr(pe, "FileInfo", None) or []:
        for info in info_list:
            if getattr(info, "Key", b"") != b"StringFileInfo":
                continue
            for table in getattr(info, "StringTable", []):
                lang = table.LangID.decode("ascii", "replace") if isinstance(table.LangID, bytes) \
                    else str(table.LangID)
                tables.append((lang.lower(), table.entries))
    if not tables:
        return {}
    tables.sort(key=lambda t: not t[0].startswith("0409"))
    out: dict[str, str] = {}
    for _, entries in tables:
        for key, value in entries.items():
            k = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            v = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            v = " ".join(v.replace("\x00", " ").split())
            if v and k not in out:
                out[k] = v
    return out


def _fixed_version(pe) -> str | None:  # type: ignore[no-untyped-def]
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        return None
    f = fixed[0]
    ms, ls = f.ProductVersionMS, f.ProductVersionLS
    if not (ms or ls):
        return None
    return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"


def _framework(pe, data, strings: dict[str, str], image_end: int, r: Reading) -> str | None:  # type: ignore[no-untyped-def]
    """Which installer builder made this program, from marks each one leaves."""
    nsis = _find_nsis(data, image_end)
    if nsis is not None:
        _check_nsis_length(data, nsis, r)
        return "NSIS"
    if strings.get("Comments", "").startswith(INNO_COMMENT[:40]) or \
            data.find(b"Inno Setup Setup Data", 0, SEARCH_LIMIT) >= 0:
        return "Inno Setup"
    names = {s.Name.rstrip(b"\x00") for s in pe.sections}
    if b".wixburn" in names:
        return "WiX Burn bundle"
    if any("installshield" in v.lower() for v in strings.values()):
        return "InstallShield"
    start = min(image_end, len(data))
    if data[start:start + 6] == bytes.fromhex("377abcaf271c"):
        return "self-extracting 7-Zip archive"
    if data[start:start + 4] == b"PK\x03\x04":
        return "self-extracting zip archive"
    return None


def _find_nsis(data, image_end: int) -> int | None:  # type: ignore[no-untyped-def]
    """NSIS puts its first header at a 512-byte boundary after the program image."""
    start = (image_end + 511) // 512 * 512 if image_end else 512
    stop = min(len(data), start + SEARCH_LIMIT)
    for offset in range(start, stop, 512):
        if data[offset + 4:offset + 20] == NSIS_MAGIC:
            return offset
    return None


def _check_nsis_length(data, offset: int, r: Reading) -> None:  # type: ignore[no-untyped-def]
    head = data[offset:offset + 28]
    if len(head) < 28:
        r.problem("truncated: the NSIS header is cut short")
        return
    total = int.from_bytes(head[24:28], "little")
    if offset + total > len(data):
        r.problem(f"truncated: the NSIS installer data needs {offset + total:,} bytes but the file "
                  f"has only {len(data):,}")
