"""An empty Windows registry hive (regf), for hivex to fill.

Debian's hivex edits hives but cannot start one, so the tests write the smallest hive that is
one: the 4 KiB base block, one 4 KiB bin holding the root key (no subkeys, no values) and its
security record. Everything the tests read from a hive was then put there by `hivexregedit
--merge` from a .reg text, a writer that is not ours. The layout follows the published regf
format description (base block, hbin, nk and sk cells); the checksum is the XOR of the base
block's first 508 bytes taken as 32-bit words.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

BLOCK = 4096
NO_CELL = 0xFFFFFFFF
ROOT_OFFSET = 0x20      # cells are addressed from the start of the first bin
SK_OFFSET = 0x80


def _checksum(head: bytes) -> int:
    x = 0
    for (word,) in struct.iter_unpack("<I", head[:508]):
        x ^= word
    return 0xFFFFFFFE if x == 0xFFFFFFFF else (1 if x == 0 else x)


def _cell(body: bytes) -> bytes:
    size = (4 + len(body) + 7) // 8 * 8
    return struct.pack("<i", -size) + body.ljust(size - 4, b"\0")


def _root_key(name: bytes) -> bytes:
    flags = 0x04 | 0x08 | 0x20         # hive entry, cannot be deleted, ASCII name
    fixed = struct.pack("<2sHQIIIIIIIIIIIIIIIHH", b"nk", flags, 0, 0, 0, 0, 0, NO_CELL, NO_CELL,
                        0, NO_CELL, SK_OFFSET, NO_CELL, 0, 0, 0, 0, 0, len(name), 0)
    return _cell(fixed + name)


def _security() -> bytes:
    # A self-relative security descriptor with no owner, group or lists: revision 1, control
    # SE_SELF_RELATIVE. The record is its own neighbour in the list of security records.
    descriptor = struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)
    return _cell(struct.pack("<2sHIIII", b"sk", 0, SK_OFFSET, SK_OFFSET, 1, len(descriptor))
                 + descriptor)


def empty_hive(name: str = "SOFTWARE") -> bytes:
    root = _root_key(b"ROOT")
    assert len(root) <= SK_OFFSET - ROOT_OFFSET
    gap = SK_OFFSET - ROOT_OFFSET - len(root)      # a free cell between the two
    cells = root + (struct.pack("<i", gap) + b"\0" * (gap - 4) if gap else b"")
    cells += _security()
    free = BLOCK - 32 - len(cells)
    cells += struct.pack("<i", free) + b"\0" * (free - 4)
    hbin = struct.pack("<4sIIQQI", b"hbin", 0, BLOCK, 0, 0, 0) + cells
    assert len(hbin) == BLOCK
    head = struct.pack("<4sIIQIIIIIII", b"regf", 1, 1, 0, 1, 3, 0, 1, ROOT_OFFSET, BLOCK, 1)
    head += name.encode("utf-16-le")[:64].ljust(64, b"\0")
    head = head.ljust(508, b"\0")
    head += struct.pack("<I", _checksum(head))
    return head.ljust(BLOCK, b"\0") + hbin


def _with_parents(reg_text: str, prefix: str) -> str:
    """hivexregedit makes a key only under an existing parent: name every parent first."""
    keys = [line.strip()[1:-1] for line in reg_text.splitlines()
            if line.strip().startswith("[") and line.strip().endswith("]")]
    wanted: list[str] = []
    for key in keys:
        parts = key[len(prefix):].strip("\\").split("\\")
        for n in range(1, len(parts)):
            parent = prefix + "\\" + "\\".join(parts[:n])
            if parent not in keys and parent not in wanted:
                wanted.append(parent)
    head, _, rest = reg_text.partition("\n")
    return head + "\n\n" + "".join(f"[{k}]\n\n" for k in wanted) + rest


def hivex_available() -> bool:
    return shutil.which("hivexregedit") is not None


def write_hive(path: Path, reg_text: str, prefix: str, name: str = "SOFTWARE") -> Path:
    """A hive at `path` holding what `reg_text` (a REGEDIT4 .reg file) says, under the key
    `prefix` (e.g. 'HKEY_LOCAL_MACHINE\\SOFTWARE'), written by hivexregedit --merge."""
    path.write_bytes(empty_hive(name))
    reg = path.with_suffix(".reg")
    reg.write_text(_with_parents(reg_text, prefix), encoding="utf-8")
    subprocess.run(["hivexregedit", "--merge", str(path), "--prefix", prefix, "--encoding",
                    "UTF-16LE", str(reg)], check=True, capture_output=True, timeout=60)
    reg.unlink()
    return path
