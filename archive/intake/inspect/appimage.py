"""AppImages: an ELF program with a SquashFS image appended.

Read: the AppImage type and the ELF machine (architecture), and the update information
section when present. The product name and version live in the .desktop file inside the
SquashFS image, which arkeep does not unpack: that is said, not guessed.
"""
from __future__ import annotations

from pathlib import Path

from archive.intake.inspect.reading import Reading, Unreadable

ELF_MACHINES = {0x03: "i386", 0x3E: "x86_64", 0xB7: "aarch64", 0x28: "armhf"}


def read(path: Path, r: Reading) -> None:
    with open(path, "rb") as f:
        ident = f.read(64)
        if len(ident) < 64:
            raise Unreadable("truncated: the ELF header is cut short")
        kind = ident[10]
        r.format = "appimage"
        r.label = f"AppImage (type {kind})" if kind in (1, 2) else "AppImage"
        little = ident[5] == 1
        order = "little" if little else "big"
        machine = int.from_bytes(ident[18:20], order)
        arch = ELF_MACHINES.get(machine, f"ELF machine {machine:#x}")
        r.set("architecture", arch, "ELF header: e_machine")
        r.set("platform", f"linux-{arch}" if machine in ELF_MACHINES else "linux",
              "ELF header: e_machine")
        update = _section(f, ident, order, b".upd_info")
        if update:
            r.set("update_information", update.split(b"\x00", 1)[0], "ELF section .upd_info")
    r.note("the product name and version are inside the AppImage's SquashFS image, which arkeep "
           "does not unpack")


def _section(f, ident: bytes, order: str, wanted: bytes) -> bytes | None:  # type: ignore[no-untyped-def]
    """The contents of one named section of a 64-bit ELF (small sections only)."""
    if ident[4] != 2:
        return None
    shoff = int.from_bytes(ident[40:48], order)
    shentsize = int.from_bytes(ident[58:60], order)
    shnum = int.from_bytes(ident[60:62], order)
    shstrndx = int.from_bytes(ident[62:64], order)
    if not shoff or shentsize < 64 or shnum > 4096 or shstrndx >= shnum:
        return None
    f.seek(shoff)
    table = f.read(shentsize * shnum)
    if len(table) < shentsize * shnum:
        return None

    def header(i: int) -> tuple[int, int, int]:
        h = table[i * shentsize:(i + 1) * shentsize]
        return (int.from_bytes(h[0:4], order), int.from_bytes(h[24:32], order),
                int.from_bytes(h[32:40], order))

    _, str_off, str_size = header(shstrndx)
    if str_size > 1 << 20:
        return None
    f.seek(str_off)
    names = f.read(str_size)
    for i in range(shnum):
        name_off, off, size = header(i)
        name = names[name_off:names.find(b"\x00", name_off)]
        if name == wanted and size <= 1 << 16:
            f.seek(off)
            return f.read(size)
    return None
